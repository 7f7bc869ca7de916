"""Engine cost per simulated request against a bare SimPy M/M/1, in one process.

Why a ratio: absolute times depend on the machine and on what else runs on
it; the ratio of two measurements taken in the same process, interleaved,
does not.  The bare model below is the smallest honest SimPy M/M/1 (one
process per customer, one Resource, exponential draws from numpy), the
floor any SimPy-based engine pays.  Targets: ≤ 3× on the server-only M/M/1
(issue 3), ≤ 1.5× later (issue 9).

Run: ``make bench`` or ``python benchmarks/engine_overhead.py [--requests N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import simpy

from simulator.engine import Replication
from simulator.scenario import load_scenario, resolve_model

ROOT = Path(__file__).resolve().parents[1]


def bare_simpy_mm1(n: int, lam: float = 5.0, mu: float = 8.0, seed: int = 1) -> float:
    """Mean wait of a bare SimPy M/M/1 with ``n`` customers (the baseline)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / lam, n).tolist()
    services = rng.exponential(1.0 / mu, n).tolist()
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    waits: list[float] = []

    def customer(service: float):
        arrive = env.now
        with server.request() as req:
            yield req
            waits.append(env.now - arrive)
            yield env.timeout(service)

    def source():
        for gap, service in zip(gaps, services, strict=True):
            yield env.timeout(gap)
            env.process(customer(service))

    env.process(source())
    env.run()
    return sum(waits) / len(waits)


def engine_run(scenario: str, n: int, *overrides: str) -> float:
    """Mean latency of one engine replication of ``scenario`` with ``n`` requests."""
    loaded = load_scenario(ROOT / scenario, [f"horizon.requests={n}", "horizon.warmup=0",
                                             *overrides])
    point = loaded.points[0]
    result = Replication(point.scenario, resolve_model(point.scenario, loaded.path), 0).run()
    return float(result.records["latency_s"].mean())


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.requests
    cases = {
        "server-only M/M/1": ("scenarios/validation/mm1.yaml",),
        "reference (neurosurgeon, sparse-75)": (
            "scenarios/reference.yaml", "scheduler.policy=neurosurgeon", "sweep={}"),
    }
    bare, engine = [], {name: [] for name in cases}
    for _ in range(args.rounds):  # interleaved, so drift hits both alike
        bare.append(timed(bare_simpy_mm1, n))
        for name, case in cases.items():
            engine[name].append(timed(engine_run, case[0], n, *case[1:]))
    base = statistics.median(bare)
    print(f"requests per run: {n:,}; medians of {args.rounds} interleaved rounds")
    print(f"bare SimPy M/M/1: {base / n * 1e6:8.2f} µs/request  ({n / base:,.0f} requests/s)")
    for name, times in engine.items():
        t = statistics.median(times)
        print(f"{name:38}: {t / n * 1e6:8.2f} µs/request  ({n / t:,.0f} requests/s)  "
              f"ratio to bare SimPy = {t / base:.2f}×")


if __name__ == "__main__":
    main()
