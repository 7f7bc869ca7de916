"""Speed-up of ``--executor local`` over ``serial``, and the overhead of Dask (issue 7).

Why ratios from one run: absolute times depend on the machine and on what
else runs on it; ratios of measurements taken in the same process,
interleaved (serial, local, dask, serial, …) and keeping each one's best,
much less so.  Target: local with 2 workers ≥ 1.8× serial on a sweep of ≥ 16
tasks.  The Dask figure includes starting its LocalCluster (what a user of
``--executor dask`` waits for); the summaries of all three are checked to be
byte-identical.

Run: ``python benchmarks/executors.py [--workers 2] [--requests 40000] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import simulator

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "validation" / "mm1.yaml"


def timed(out: Path, requests: int, **options) -> float:
    started = time.perf_counter()
    simulator.run(SCENARIO, out=out, replications=8, save_requests=False,
                  set={"horizon.requests": requests, "horizon.warmup": 0,
                       "sweep.server.workers": [1, 2]}, **options)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    executors = {"serial": {"executor": "serial"},
                 "local": {"executor": "local", "workers": args.workers},
                 "dask": {"executor": "dask", "workers": args.workers}}
    best = dict.fromkeys(executors, float("inf"))
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for name, options in executors.items():
                out = Path(tmp) / f"{name}-{i}"
                best[name] = min(best[name], timed(out, args.requests, **options))
        summaries = {name: (Path(tmp) / f"{name}-0" / "summary.parquet").read_bytes()
                     for name in executors}
    assert len(set(summaries.values())) == 1, "summaries differ between executors"
    tasks = 16
    print(f"sweep: 2 points × 8 replications = {tasks} tasks of {args.requests:,} requests")
    for name, seconds in best.items():
        print(f"{name:7} {seconds:6.2f} s")
    print(f"local/{args.workers} speed-up over serial: {best['serial'] / best['local']:.2f}×")
    print(f"dask/{args.workers} time over local/{args.workers}: "
          f"{best['dask'] / best['local']:.2f}× (+{best['dask'] - best['local']:.1f} s)")
    print("summary.parquet byte-identical across executors: yes")


if __name__ == "__main__":
    main()
