"""Peak memory of a run that saves 2 million per-request records (issue 7, target < 1.5 GB).

Why a subprocess: the figure must be that of ``splitsim run`` itself, from a
fresh interpreter.  Two numbers are reported: the peak resident set of the
largest single process (``ru_maxrss``, what ``/usr/bin/time -v`` prints as
"Maximum resident set size"), and, for ``--executor local``, the peak of the
sum over the whole process tree (parent + workers), sampled every 50 ms.

Run: ``python benchmarks/memory_requests.py [--executor serial|local] [--workers 2]
[--replications 20] [--requests 100000]`` (20 × 100,000 = 2 million saved requests).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (0 if it is gone)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", default="serial")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "simulator", "run",
               str(ROOT / "scenarios/validation/mm1.yaml"), "--out", str(out),
               "--replications", str(args.replications),
               "--set", f"horizon.requests={args.requests}", "--set", "horizon.warmup=0",
               "--save-requests", "--executor", args.executor, "--workers", str(args.workers),
               "--quiet"]
        print("command:", " ".join(cmd[1:]).replace(str(out), "OUT"))
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT)
        peak_tree = 0
        while proc.poll() is None:
            peak_tree = max(peak_tree, tree_rss(proc.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"run failed with exit code {proc.returncode}")
        largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(out / "requests.parquet").metadata
        print(f"saved requests: {meta.num_rows:,} in {meta.num_row_groups} row groups "
              f"({(out / 'requests.parquet').stat().st_size / 1e6:.0f} MB)")
        print(f"wall time: {wall:.1f} s")
        print(f"peak RSS, largest process: {largest / 2**20:,.0f} MiB")
        print(f"peak RSS, whole process tree (sampled): {peak_tree / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
