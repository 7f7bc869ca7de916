"""Several servers behind a dispatcher (server.count, server.dispatch) against theory."""

from __future__ import annotations

import math

import numpy as np
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
