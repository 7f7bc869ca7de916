"""The engine against queueing theory (nobody here wrote these formulas).

Each check runs a scenario of scenarios/validation/ with an ideal channel, so a
static policy turns the server (or the device) into a textbook queue, and
asserts that the mean waiting time over replications is within 3% of the
formula and that its 95% Student-t confidence interval covers the formula.
Request counts (replications × requests) are chosen so that 3% is about two
standard errors of the mean or more: for M/M/1 at ρ = 0.8 the asymptotic
variance of the mean wait is ≈ 2000/μ² per request, so 600,000 requests give
a standard error of 1.4% of Wq = 4/μ.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

from simulator.montecarlo import run_all
from simulator.scenario import load_scenario

VALIDATION = Path(__file__).resolve().parents[1] / "scenarios" / "validation"


def simulate(name: str, *overrides: str):
    loaded = load_scenario(VALIDATION / f"{name}.yaml", list(overrides))
    return run_all(loaded, executor="local", workers=2)


def mean_and_ci(values: np.ndarray) -> tuple[float, float]:
    n = len(values)
    half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return float(values.mean()), float(half)


def assert_matches(values: np.ndarray, theory: float, tolerance: float = 0.03) -> None:
    mean, half = mean_and_ci(values)
    assert abs(mean - theory) <= tolerance * theory, (mean, theory)
    assert mean - half <= theory <= mean + half, (mean, half, theory)


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C formula)."""
    a = lam / mu
    rho = a / c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / (math.factorial(c) * (1 - rho))
    p_wait = tail / (head + tail)
    return p_wait / (c * mu - lam)


def pollaczek_khinchine_wait(lam: float, mu: float, scv: float) -> float:
    """Mean wait in queue of M/G/1 with service SCV ``scv``."""
    rho = lam / mu
    return lam * (1 + scv) / mu**2 / (2 * (1 - rho))


@pytest.mark.parametrize(("rate", "requests"), [(4.0, 20_000), (6.4, 60_000)])
def test_server_only_is_mm1(rate: float, requests: int) -> None:
    # M/M/1: Wq = ρ/(μ−λ) with μ = 8/s (1 GFLOP at 8 GFLOPS); ρ = 0.5 and 0.8.
    out = simulate("mm1", f"devices.0.workload.rate={rate}/s",
                   f"horizon.requests={requests}", "horizon.warmup=2000")
    mu = 8.0
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), (rate / mu) / (mu - rate))


def test_mm1_utilisation_and_littles_law() -> None:
    # ρ = λ/μ is the busy fraction; L = ρ/(1−ρ) requests at the server (M/M/1).
    out = simulate("mm1", "horizon.requests=60000")
    rho = 5.0 / 8.0
    assert_matches(out.server["utilisation"].to_numpy(), rho, tolerance=0.01)
    assert_matches(out.server["mean_in_system"].to_numpy(), rho / (1 - rho))
    # Little's law L = λW with the simulated W: λ is the measured throughput.
    s = out.summary
    sojourn = s["server_wait_mean_s"] + s["server_service_mean_s"]
    little = (s["throughput_per_s"] * sojourn).to_numpy()
    np.testing.assert_allclose(little, out.server["mean_in_system"].to_numpy(), rtol=0.02)


@pytest.mark.parametrize(("workers", "rate", "requests"),
                         [(2, 12.8, 60_000), (3, 16.8, 40_000)])
def test_server_only_with_c_workers_is_mmc(workers: int, rate: float, requests: int) -> None:
    # Erlang C with μ = 8/s per worker; ρ = 0.8 (c=2) and 0.7 (c=3); four devices
    # whose Poisson streams merge into one.
    per_device = rate / 4
    out = simulate("mmc", f"server.workers={workers}",
                   f"devices.0.workload.rate={per_device}/s", f"horizon.requests={requests}",
                   "replications=20")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(),
                   erlang_c_wait(rate, 8.0, workers))


@pytest.mark.parametrize("rate", [5.0, 6.8])
def test_deterministic_service_is_md1(rate: float) -> None:
    # Pollaczek–Khinchine with SCV 0; ρ = 0.625 and 0.85.
    out = simulate("md1", f"devices.0.workload.rate={rate}/s", "horizon.requests=40000")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(),
                   pollaczek_khinchine_wait(rate, 8.0, 0.0))


@pytest.mark.parametrize("rate", [5.0, 6.4])
def test_gamma_service_is_mg1(rate: float) -> None:
    # Pollaczek–Khinchine with gamma service, CV 0.5 (SCV 0.25); ρ = 0.625 and 0.8.
    out = simulate("mg1", f"devices.0.workload.rate={rate}/s", "horizon.requests=50000")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(),
                   pollaczek_khinchine_wait(rate, 8.0, 0.25))


def test_lognormal_service_is_mg1() -> None:
    # The P-K mean depends only on the first two moments: lognormal CV 1.5 at ρ = 0.5.
    out = simulate("mg1", "server.compute.variability={dist: lognormal, cv: 1.5}",
                   "devices.0.workload.rate=4/s", "horizon.requests=60000")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(),
                   pollaczek_khinchine_wait(4.0, 8.0, 2.25))


def test_periodic_arrivals_are_dm1() -> None:
    # D/M/1 (GI/M/1): Wq = σ/(μ(1−σ)) with σ = exp(−μ(1−σ)/λ), λ = 6.4/s, μ = 8/s.
    lam, mu = 6.4, 8.0
    sigma = optimize.brentq(lambda s: s - math.exp(-mu * (1 - s) / lam), 1e-9, 1 - 1e-9)
    out = simulate("dm1", f"devices.0.workload.rate={lam}/s", "horizon.requests=40000")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), sigma / (mu * (1 - sigma)))


@pytest.mark.parametrize("rate", [4.0, 6.4])
def test_device_only_makes_the_device_mm1(rate: float) -> None:
    # Device-only: the phone's processor is an M/M/1 with μ = 8/s; nothing is sent.
    out = simulate("device_mm1", f"devices.0.workload.rate={rate}/s",
                   f"horizon.requests={60_000 if rate > 5 else 20_000}")
    assert_matches(out.summary["device_wait_mean_s"].to_numpy(), (rate / 8.0) / (8.0 - rate))
    assert (out.summary["bytes_up_mean"] == 0).all()
    assert (out.summary["offload_rate"] == 0).all()
