"""Several servers behind a dispatcher (server.count, server.dispatch) against theory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize
from test_theory import assert_matches, simulate


def test_random_dispatch_splits_poisson_into_independent_mm1_queues() -> None:
    # Poisson splitting: 2 servers at λ/2 = 6.4/s each, μ = 8/s → M/M/1 at ρ = 0.8.
    out = simulate("mm1", "server.count=2", "server.dispatch=random",
                   "devices.0.workload.rate=12.8/s", "horizon.requests=120000")
    lam, mu = 6.4, 8.0
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), (lam / mu) / (mu - lam))
    assert_matches(out.server["utilisation"].to_numpy(), lam / mu, tolerance=0.01)


def test_round_robin_makes_each_server_erlang2_m_1() -> None:
    # Every 2nd Poisson arrival: Erlang-2 inter-arrivals → GI/M/1 with
    # σ = A*(μ(1−σ)), A*(s) = (λ/(λ+s))², and Wq = σ/(μ(1−σ)).
    lam, mu = 12.8, 8.0
    sigma = optimize.brentq(lambda s: s - (lam / (lam + mu * (1 - s))) ** 2, 1e-9, 1 - 1e-9)
    out = simulate("mm1", "server.count=2", "server.dispatch=round-robin",
                   f"devices.0.workload.rate={lam}/s", "horizon.requests=80000")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), sigma / (mu * (1 - sigma)))


def test_least_loaded_waits_less_than_random() -> None:
    # Routing on the backlog avoids the queue that random routing walks into.
    args = ("server.count=2", "devices.0.workload.rate=12.8/s", "horizon.requests=20000",
            "replications=4")
    least = simulate("mm1", *args, "server.dispatch=least-loaded")
    rand = simulate("mm1", *args, "server.dispatch=random")
    assert (least.summary["server_wait_mean_s"].to_numpy()
            < 0.7 * rand.summary["server_wait_mean_s"].to_numpy()).all()


def test_each_server_gets_its_own_background_load() -> None:
    # Two servers, each with 20/s background jobs of 10 ms at 40 GFLOPS: the edge is
    # busy ρ_bg = 0.2 plus the requests' 5/s × 1 GFLOP / 40 GFLOPS / 2 servers = 0.0625.
    out = simulate("mm1", "server.count=2", "server.compute.speed=40 GFLOPS",
                   "server.background={rate: 20/s, work: 400 MFLOP}",
                   "horizon.requests=20000", "replications=4")
    np.testing.assert_allclose(out.server["utilisation"].mean(), 0.2625, rtol=0.03)
    # Over the 20,000 requests' time span (20,000 / 5 per s) both servers see 20/s each.
    assert math.isclose(out.server["background_jobs"].mean() / 20000, 2 * 20 / 5,
                        rel_tol=0.02)


def test_background_pattern_follows_its_load_curve() -> None:
    # Thinning: in each quarter of a 40 s cycle the rate is 100/s × the pattern value,
    # so over 50 cycles the jobs in quarter i are Poisson with mean 100 × 10 s × 50 × p_i.
    from simulator.engine import background_arrivals
    from simulator.scenario import ServerSpec

    pattern = [0.1, 1.0, 0.5, 0.0]
    spec = ServerSpec.model_validate({
        "compute": {"speed": "1 TFLOPS"},
        "background": {"rate": "100/s", "work": "1 MFLOP", "pattern": pattern,
                       "period": "40 s"}})
    times = []
    for at, _ in background_arrivals(spec, np.random.default_rng(3)):
        if at >= 2000.0:
            break
        times.append(at)
    quarter = (np.asarray(times) % 40.0 // 10.0).astype(int)
    counts = np.bincount(quarter, minlength=4)
    for count, level in zip(counts, pattern, strict=True):
        mean = 100 * 10 * 50 * level
        assert abs(count - mean) <= 4 * math.sqrt(mean) + 1e-9, (count, mean)
    assert counts[3] == 0


def test_mmpp_long_run_rate_is_the_stationary_rate(scenario_file) -> None:
    # Two states, 1/s for a mean 6 s and 21/s for a mean 2 s: the chain spends 3/4 of
    # the time in the first, so the long-run rate is 0.75·1 + 0.25·21 = 6/s.
    from conftest import replicate

    path = scenario_file((Path(__file__).resolve().parents[1] / "scenarios" / "validation"
                          / "mm1.yaml").read_text())
    result = replicate(path, "devices.0.workload={arrivals: mmpp, rates: [1/s, 21/s], "
                             "mean_sojourn: [6 s, 2 s]}", "horizon.requests=60000",
                       "horizon.warmup=0", "server.compute.speed=1 TFLOPS")
    arrivals = np.sort(result.records["arrival_s"])
    rate = len(arrivals) / arrivals[-1]
    assert rate == pytest.approx(6.0, rel=0.03)
    # Bursty: counts per second are overdispersed (a Poisson stream has variance = mean).
    counts = np.bincount(arrivals.astype(int))
    assert counts.var() > 3 * counts.mean()


def test_background_of_equal_work_makes_mm1_with_the_combined_rate() -> None:
    # Requests at 3/s and background jobs at 3/s, both 1 GFLOP exponential at 8 GFLOPS:
    # one M/M/1 with λ = 6/s, μ = 8/s, so Wq = ρ/(μ − λ) = 0.375 s for everyone.
    out = simulate("mm1", "devices.0.workload.rate=3/s",
                   "server.background={rate: 3/s, work: 1 GFLOP}", "horizon.requests=40000")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), 0.75 / 2.0)
