"""Time profiling ResNet-50 (count + cuts, no --measure); the issue's target is < 10 s.

Run: ``.venv/bin/python benchmarks/profile_resnet50.py``.  Prints the import time
of the profiler and the wall time of ``profile_model("resnet50")`` (best and
median of a few runs, seconds).  Times are machine-dependent, so no test
asserts them.
"""

from __future__ import annotations

import statistics
import time


def main(runs: int = 3) -> None:
    t0 = time.perf_counter()
    from profiles.build import profile_model

    imported = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        prof = profile_model("resnet50")
        times.append(time.perf_counter() - t)
    print(f"import profiles.build: {imported:.2f} s")
    print(f"profile_model('resnet50'): best {min(times):.2f} s, median "
          f"{statistics.median(times):.2f} s over {runs} runs (target < 10 s); "
          f"{len(prof['blocks'])} blocks, {prof['totals']['macs'] / 1e9:.2f} GMACs")
    print(f"first run including imports: {imported + times[0]:.2f} s")


if __name__ == "__main__":
    main()
