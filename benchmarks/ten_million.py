"""A Monte Carlo of 10 million requests end to end, and the SimPy engine's rate beside it.

The run (issue 9): 100 replications × 100,000 requests of the server-only
M/M/1 (``scenarios/validation/mm1.yaml``, a static policy, so ``engine:
auto`` takes the fast path), through ``simulator.run`` exactly as ``splitsim
run --executor local --workers 2`` runs it: tasks in a process pool, each
task's summary stored atomically, the tables assembled and the manifest
written.  Target: under 60 s on the project's 2-core machine.

The baseline, measured in the same run: the same scenario with ``engine:
simpy`` and ten times fewer replications (1 million requests); the ratio of
the two rates (requests/s) is what survives a busy machine.  Both wall times
include the pool's start-up and the store's writes; the rates are printed
for the record, never asserted.

Run: ``make bench`` or ``python benchmarks/ten_million.py [--replications N]
[--requests N] [--workers K] [--no-baseline]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import simulator

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios/validation/mm1.yaml"


def timed_run(out: Path, replications: int, requests: int, workers: int, engine: str
              ) -> tuple[float, dict]:
    """(wall s, manifest) of one run through the Python API."""
    start = time.perf_counter()
    simulator.run(SCENARIO, out=out, replications=replications, executor="local",
                  workers=workers, save_requests=False,
                  set={"horizon.requests": requests, "horizon.warmup": 1000, "engine": engine})
    wall = time.perf_counter() - start
    return wall, json.loads((out / "manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=100)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the SimPy run (about 1/10 of the requests)")
    args = parser.parse_args()
    total = args.replications * args.requests
    with tempfile.TemporaryDirectory(prefix="splitsim-10m-") as tmp:
        wall, manifest = timed_run(Path(tmp) / "fast", args.replications, args.requests,
                                   args.workers, "auto")
        rate = total / wall
        print(f"{args.replications} × {args.requests:,} = {total:,} requests "
              f"(engine {manifest['engine']}, local executor, {args.workers} workers): "
              f"{wall:.1f} s wall, {rate:,.0f} requests/s (target < 60 s)")
        if args.no_baseline:
            return
        reps = max(1, args.replications // 10)
        base_wall, base = timed_run(Path(tmp) / "simpy", reps, args.requests, args.workers,
                                    "simpy")
        base_rate = reps * args.requests / base_wall
        print(f"{reps} × {args.requests:,} = {reps * args.requests:,} requests (engine "
              f"{base['engine']}): {base_wall:.1f} s wall, {base_rate:,.0f} requests/s")
        print(f"fast path vs SimPy engine, end to end: {rate / base_rate:.1f}× the requests/s; "
              f"the SimPy engine would need about {total / base_rate:.0f} s for the "
              f"{total:,} requests")


if __name__ == "__main__":
    main()
