"""Where the engine's time goes, per simulated request, by component (issue 9).

Why this script: "make it faster" starts with knowing what is slow.  It runs
one replication of a scenario under pyinstrument (a sampling profiler, so the
engine runs at nearly full speed), assigns every sample to the *innermost*
engine function on its stack (table ``COMPONENTS``), and scales the shares by
the wall time of the same replication run again without the profiler, so
the table reads in µs per simulated request of an unprofiled run.  Samples
with no engine function on the stack are SimPy's own event loop
(``Environment.step``, ``Process._resume``, event callbacks).

Run: ``python benchmarks/profile_engine.py [--requests N] [--scenario NAME ...]``
(needs the ``dev`` extra for pyinstrument).  Figures are machine-dependent;
``benchmarks/README.md`` quotes one run.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from pyinstrument import Profiler
from pyinstrument.frame import Frame

from simulator.engine import Replication
from simulator.scenario import load_scenario, resolve_model

ROOT = Path(__file__).resolve().parents[1]

#: Scenario cases: name → (YAML file, overrides).  The reference scenario is
#: profiled at its dynamic-split sweep point.
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "mm1": ("scenarios/validation/mm1.yaml", ()),
    "reference": ("scenarios/reference.yaml",
                  ("scheduler.policy=dynamic-split", "model.variant=sparse-75", "sweep={}")),
}

#: Engine function name → component.  A sample counts for the innermost of
#: these on its stack, so e.g. ``env.timeout`` called by ``_request`` counts
#: for the request's process, and ``decide`` called by ``_request`` for the
#: scheduler.
COMPONENTS: dict[str, str] = {
    "__init__ (Replication)": "set-up (draws, devices, policy)",
    "_arrivals": "arrivals (draws, timeouts)",
    "_mmpp_arrivals": "arrivals (draws, timeouts)",
    "_spawn": "starting a request's process",
    "_start": "starting a request's process",
    "_request": "the request's process (§4 steps 2, 4–7)",
    "_serve": "the request's process (§4 steps 2, 4–7)",
    "_serve_batched": "the request's process (§4 steps 2, 4–7)",
    "_device_part": "the request's process (§4 steps 2, 4–7)",
    "_server_part": "the request's process (§4 steps 2, 4–7)",
    "_observe": "scheduler: observation, decide, check, update",
    "_decide": "scheduler: observation, decide, check, update",
    "decide": "scheduler: observation, decide, check, update",
    "_check": "scheduler: observation, decide, check, update",
    "update": "scheduler: observation, decide, check, update",
    "_background": "background jobs",
    "_background_job": "background jobs",
    "_serve_background": "background jobs",
    "_end_background": "background jobs",
    "next_arrival": "background jobs",
    "arrive": "background jobs",
    "background_arrivals": "background jobs",
    "_flush_rows": "records → result (columns, order)",
    "_result": "records → result (columns, order)",
}
LOOP = "SimPy event loop (step, resume, callbacks)"


def _component(frame: Frame) -> str | None:
    name = frame.function
    if name == "__init__" and frame.class_name == "Replication":
        name = "__init__ (Replication)"
    return COMPONENTS.get(name)


def _attribute(frame: Frame, current: str, out: dict[str, float]) -> None:
    """Add each frame's self time to the innermost component above it."""
    current = _component(frame) or current
    out[current] += frame.total_self_time
    for child in frame.children:
        _attribute(child, current, out)


def _load(case: str, n: int) -> tuple:
    """(scenario, model) of ``case`` with ``n`` requests; loading is not timed."""
    path, overrides = CASES[case]
    loaded = load_scenario(ROOT / path, [f"horizon.requests={n}", "horizon.warmup=0",
                                         *overrides])
    scenario = loaded.points[0].scenario
    return scenario, resolve_model(scenario, loaded.path)


def breakdown(case: str, n: int, interval_s: float = 1e-4) -> tuple[float, dict[str, float]]:
    """(unprofiled µs per request, µs per request by component) for one replication."""
    Replication(*_load(case, min(n, 2000)), 0).run()  # warm imports and caches
    scenario, model = _load(case, n)
    start = time.perf_counter()
    Replication(scenario, model, 0).run()
    wall = time.perf_counter() - start
    profiler = Profiler(interval=interval_s)
    profiler.start()
    Replication(scenario, model, 0).run()
    profiler.stop()
    root = profiler.last_session.root_frame()
    shares: dict[str, float] = defaultdict(float)
    if root is not None:
        _attribute(root, LOOP, shares)
    total = sum(shares.values())
    per_request = wall / n * 1e6
    return per_request, {k: v / total * per_request for k, v in shares.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--scenario", nargs="*", choices=sorted(CASES), default=list(CASES))
    args = parser.parse_args()
    for case in args.scenario:
        per_request, parts = breakdown(case, args.requests)
        print(f"\n{case}: {args.requests:,} requests, {per_request:.2f} µs/request unprofiled")
        print("| component | µs / request | share |\n|---|---|---|")
        for name, us in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"| {name} | {us:.2f} | {us / per_request:.0%} |")


if __name__ == "__main__":
    main()
