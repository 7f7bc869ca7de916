"""Write the synthetic example traces shipped in scenarios/traces/.

Why synthetic, and why a script: the example arrival and utilisation traces
show the file formats and exercise ``workload: {arrivals: trace}`` and
``server.background.utilisation``; they are not measurements.  Generating
them from a seeded model written here keeps them reproducible and says
exactly what they contain:

``motion_camera_arrivals.csv``
    A motion-triggered camera over 120 s: one frame per second while the scene
    is still; motion events as a Poisson process (one per 20 s on average),
    each sending frames at 10 frame/s for a uniform 2–6 s.  Timestamps in
    milliseconds (column ``time_ms``), rounded to 1 ms.
``tenant_utilisation.csv``
    Other tenants' share of a server over one hour, sampled each minute: a
    half-hour sinusoid between 0.2 and 0.6, plus uniform noise of ±0.05,
    clipped to [0, 1].  Columns ``time_s`` and ``utilisation`` (a fraction).

    python scripts/make_example_traces.py    # rewrites both files
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "scenarios" / "traces"


def camera_arrivals(rng: np.random.Generator, horizon_s: float = 120.0) -> list[int]:
    """Frame times (ms) of the motion-triggered camera described above."""
    times = set(range(0, int(horizon_s * 1000), 1000))     # 1 frame/s heartbeat
    t = rng.exponential(20.0)
    while t < horizon_s:
        length = rng.uniform(2.0, 6.0)
        frames = np.arange(t, min(t + length, horizon_s), 0.1)
        times.update(round(float(f) * 1000) for f in frames)
        t += length + rng.exponential(20.0)
    return sorted(times)


def tenant_utilisation(rng: np.random.Generator) -> list[tuple[int, float]]:
    """(time s, utilisation) each minute for an hour, plus the closing sample."""
    rows = []
    for minute in range(61):
        base = 0.4 + 0.2 * math.sin(2 * math.pi * minute / 30.0)
        rows.append((60 * minute, float(np.clip(base + rng.uniform(-0.05, 0.05), 0, 1))))
    return rows


def main() -> None:
    rng = np.random.default_rng(2026)
    header = "# Synthetic: written by scripts/make_example_traces.py (see its docstring)\n"
    frames = camera_arrivals(rng)
    (OUT / "motion_camera_arrivals.csv").write_text(
        header + "time_ms\n" + "".join(f"{ms}\n" for ms in frames))
    util = tenant_utilisation(rng)
    (OUT / "tenant_utilisation.csv").write_text(
        header + "time_s,utilisation\n" + "".join(f"{t},{u:.3f}\n" for t, u in util))


if __name__ == "__main__":
    main()
