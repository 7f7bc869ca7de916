"""Long runs stay bounded in memory and equal the same run done in two resumed halves.

Issue 10, item 4: a run of ≥ 1 million requests and a sweep of ≥ 200 tasks.
Each is run once whole and once as two halves (the first half of the
replications, then ``--resume`` with all of them); the two
``summary.parquet`` files must be byte-identical.  The figure reported for
memory is the peak resident set of the largest process of the run
(``ru_maxrss`` of the waited-for children: the CLI and its pool workers).

Run: ``python benchmarks/long_runs.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MM1 = ROOT / "scenarios" / "validation" / "mm1.yaml"

CASES = {
    "1,000,000 requests (10 replications × 100,000)": (
        10, ["--set", "horizon.requests=100000", "--set", "horizon.warmup=1000"]),
    "sweep of 200 tasks (20 rates × 10 replications × 2,000 requests)": (
        10, ["--set", "horizon.requests=2000", "--set", "horizon.warmup=100", "--set",
             "sweep={devices.0.workload.rate: [" + ", ".join(f"{0.3 * (i + 1):.1f}/s"
                                                            for i in range(20)) + "]}"]),
}


def splitsim(out: Path, replications: int, extra: list[str], *flags: str) -> float:
    """Run the CLI; return its wall time (s)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simulator", "run", str(MM1), "--out", str(out),
                    "--replications", str(replications), "--quiet", "--executor", "local",
                    "--workers", "2", *extra, *flags], check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, (reps, extra) in CASES.items():
            whole, halves = Path(tmp) / "whole", Path(tmp) / "halves"
            wall = splitsim(whole, reps, extra)
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            splitsim(halves, reps // 2, extra)
            splitsim(halves, reps, extra, "--resume")
            same = ((whole / "summary.parquet").read_bytes()
                    == (halves / "summary.parquet").read_bytes())
            print(f"{name}: {wall:.1f} s whole; peak RSS of the largest process so far "
                  f"{peak_mib:.0f} MiB; two resumed halves give an identical "
                  f"summary.parquet: {same}")
            if not same:
                raise SystemExit(1)
            for d in (whole, halves):
                subprocess.run(["rm", "-rf", str(d)], check=True)


if __name__ == "__main__":
    main()
