"""The exact fast path against the SimPy engine on the reference scenario, in one process.

Why a ratio: absolute times depend on the machine and on what else runs on
it; the ratio of two measurements taken in the same process, interleaved,
does not.  For each static sweep point of ``scenarios/reference.yaml``
(device-only and server-only, dense and sparse-75) and a fixed-split
early-exit variant, both engines run the same replication ``--repeat``
times, interleaved; the median time of each gives requests/s and the ratio.
Every pair of runs is also checked to give the same records (the claim the
speed-up rests on).  Target (issue 9): fast ≥ 20× SimPy.

Run: ``make bench`` or ``python benchmarks/fast_path.py [--requests N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from simulator.engine import Replication
from simulator.fastpath import FastReplication, supports
from simulator.scenario import load_scenario, resolve_model

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "static points": [],
    "early exit, split 3": ["sweep.scheduler.policy=[early-exit]",
                            "scheduler.split_policy=fixed-split", "scheduler.split=3",
                            "scheduler.thresholds=0.8"],
}


def points(n: int) -> list[tuple[str, object, object]]:
    """(label, scenario, model) of every point the fast path supports."""
    out = []
    for variant, overrides in VARIANTS.items():
        loaded = load_scenario(ROOT / "scenarios/reference.yaml",
                               [f"horizon.requests={n}", "horizon.warmup=0", *overrides])
        for point in loaded.points:
            model = resolve_model(point.scenario, loaded.path)
            if supports(point.scenario, model) is None:
                label = ", ".join(str(v) for v in point.values.values())
                out.append((f"{label} ({variant})" if overrides else label,
                            point.scenario, model))
    return out


def timed(engine: type, scenario: object, model: object, replication: int
          ) -> tuple[float, object]:
    """(seconds, result) of one replication on ``engine``."""
    start = time.perf_counter()
    result = engine(scenario, model, replication).run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.requests
    print(f"reference scenario, {n:,} requests per replication, median of {args.repeat} "
          f"interleaved runs")
    print(f"{'sweep point':<42} {'SimPy req/s':>12} {'fast req/s':>12} {'ratio':>8}")
    ratios = []
    for label, scenario, model in points(n):
        slow, fast = [], []
        for r in range(args.repeat):
            t_slow, a = timed(Replication, scenario, model, r)
            t_fast, b = timed(FastReplication, scenario, model, r)
            for name, column in a.records.items():
                if not np.array_equal(column, b.records[name]):
                    raise SystemExit(f"{label}: the engines' '{name}' records differ")
            slow.append(t_slow)
            fast.append(t_fast)
        ratio = statistics.median(slow) / statistics.median(fast)
        ratios.append(ratio)
        print(f"{label:<42} {n / statistics.median(slow):>12,.0f} "
              f"{n / statistics.median(fast):>12,.0f} {ratio:>7.1f}×")
    print(f"fast path vs SimPy engine: median ratio {statistics.median(ratios):.1f}× "
          f"(min {min(ratios):.1f}×; target ≥ 20×)")


if __name__ == "__main__":
    main()
