"""SplitEE, SplitEE-S and I-SplitEE (Bajpai et al. 2023; 2024): rewards, convergence, regret."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import replicate

from simulator.exits import draw_exits
from simulator.scenario import load_scenario, resolve_model
from simulator.schedulers import Outcome, resolve

# Four blocks, heads after blocks 1-3.  Stationary: the samples' difficulty never drifts.
BANDIT = """\
name: bandit
seed: 21
replications: 1
horizon: {requests: 4000, warmup: 0}
model:
  input_bytes: 3072
  accuracy: 0.97
  blocks:
    - {name: b1, flops: 1 GFLOP, output_bytes: 2048, exit: {flops: 1 MFLOP, accuracy: 0.4}}
    - {name: b2, flops: 1 GFLOP, output_bytes: 1024, exit: {flops: 1 MFLOP, accuracy: 0.92,
                                                             concentration: 20}}
    - {name: b3, flops: 1 GFLOP, output_bytes: 1024, exit: {flops: 1 MFLOP, accuracy: 0.93}}
    - {name: b4, flops: 1 GFLOP, output_bytes: 40}
devices: [{name: d, compute: {speed: 1 TFLOPS}, workload: {arrivals: poisson, rate: 20/s}}]
channel: {uplink: {model: constant, rate: 50 Mbps}, downlink: {model: constant, rate: 50 Mbps},
          rtt: 5 ms}
server: {workers: 1, compute: {speed: 10 TFLOPS}}
scheduler: {policy: splitee, lambda: 0.2, o: 0.5, alpha: 0.8, c: 1}
"""


def expected_rewards(path, lam=0.2, o=0.5, alpha=0.8, n=400_000) -> dict[int, float]:
    """Brute force: each arm's mean reward over many samples of the same exit model."""
    sc = load_scenario(path).points[0].scenario
    model = resolve_model(sc, path)
    d = draw_exits(model, n, np.random.default_rng(0))
    conf, final = d.confidence[:, :-1], d.confidence[:, -1]
    out = {}
    for j, block in enumerate(model.exit_blocks):
        c = conf[:, j]
        out[block] = float(np.where(c >= alpha, c - lam * block,
                                    final - lam * block - o).mean())
    out[model.depth] = float((final - lam * model.depth).mean())
    return out


def test_reward_is_confidence_minus_lambda_layers_minus_o_when_offloading(scenario_file) -> None:
    # The paper's r(i): C_i − λi if C_i ≥ α, else C_L − λi − o; device-only C_L − λL.
    sc = load_scenario(scenario_file(BANDIT)).points[0].scenario
    from simulator.costs import RadioPower, SystemModel

    sysm = SystemModel.build(sc.model.to_profile(), device_speed=1e12, server_speed=1e13,
                             server_workers=1, compute_power_w=1, idle_power_w=0,
                             radio=RadioPower(), rtt_s=0.0)
    p = sc.scheduler.build()
    p.prepare(sysm, np.random.default_rng(0))
    arm = {int(s): k for k, s in enumerate(p.arms)}
    assert list(p.arms) == [1, 2, 3, 4]
    # λ = 0.2, o = 0.5, α = 0.8
    assert p.reward(arm[2], 0.85, 0.99) == pytest.approx(0.85 - 0.4)
    assert p.reward(arm[2], 0.7, 0.99) == pytest.approx(0.99 - 0.4 - 0.5)
    assert p.reward(arm[4], math.nan, 0.9) == pytest.approx(0.9 - 0.8)
    # The decision of arm 2: split after block 2, only its head on, at α.
    d = p.decisions[arm[2]]
    assert d.split == 2 and d.thresholds == (math.inf, 0.8, math.inf)


def test_i_splitee_weighs_gamma_per_block_and_o_by_mu(scenario_file) -> None:
    # I-SplitEE: C_i − μγi if C_i ≥ α, else C_L − μ(γi + o); side information on.
    sc = load_scenario(scenario_file(BANDIT), [
        "scheduler.policy=i-splitee", "scheduler.gamma=0.05", "scheduler.mu=2",
        "scheduler.o=0.25", "scheduler.alpha=0.6"]).points[0].scenario
    from simulator.costs import RadioPower, SystemModel

    sysm = SystemModel.build(sc.model.to_profile(), device_speed=1e12, server_speed=1e13,
                             server_workers=1, compute_power_w=1, idle_power_w=0,
                             radio=RadioPower(), rtt_s=0.0)
    p = sc.scheduler.build()
    p.prepare(sysm, np.random.default_rng(0))
    assert p.reward(2, 0.65, 0.9) == pytest.approx(0.65 - 2 * 0.05 * 3)
    assert p.reward(2, 0.55, 0.9) == pytest.approx(0.9 - 2 * (0.05 * 3 + 0.25))
    # heads below the split run observe-only (side information), the split's at α
    assert p.decisions[2].thresholds == (2.0, 2.0, 0.6)


@pytest.mark.parametrize("policy", ["splitee", "splitee-s"])
def test_converges_to_the_best_arm_with_sublinear_regret(scenario_file, policy) -> None:
    path = scenario_file(BANDIT)
    mu = expected_rewards(path)
    best = max(mu, key=mu.get)
    gaps = sorted(mu[best] - v for k, v in mu.items() if k != best)
    assert best == 2 and gaps[0] > 0.1   # the scenario has a clear winner
    rec = replicate(path, f"scheduler.policy={policy}").records
    splits = rec["split"][np.argsort(rec["request"])]  # one device: decision order
    n = len(splits)
    assert (splits[n // 2:] == best).mean() >= 0.8
    regret = np.cumsum([mu[best] - mu[int(s)] for s in splits])
    # Sublinear: the second half adds far less regret than the first (linear: as much).
    assert regret[-1] - regret[n // 2 - 1] < 0.5 * regret[n // 2 - 1]


def test_side_information_learns_the_arms_below_for_free(scenario_file) -> None:
    # SplitEE-S plays the lower arms less, because it samples them on every pull above.
    path = scenario_file(BANDIT)
    plain = replicate(path, "scheduler.policy=splitee").records["split"]
    side = replicate(path, "scheduler.policy=splitee-s").records["split"]
    assert (side == 1).sum() < (plain == 1).sum()


def test_side_observations_use_only_what_the_device_saw() -> None:
    # A request played on arm 3 left at block 3: its final confidence was never seen,
    # so a lower arm that would have offloaded is credited with C_3 in its place.
    from simulator.costs import RadioPower, SystemModel
    from simulator.scenario import InlineModel

    model = InlineModel(input_bytes=100, blocks=[
        {"name": f"b{i}", "flops": 1e9, "output_bytes": 10,
         **({"exit": {"flops": 1e6, "accuracy": 0.8}} if i < 3 else {})}
        for i in range(4)]).to_profile()
    sysm = SystemModel.build(model, device_speed=1e12, server_speed=1e13, server_workers=1,
                             compute_power_w=1, idle_power_w=0, radio=RadioPower(), rtt_s=0)
    cls = resolve("splitee-s")
    p = cls(cls.Params(alpha=0.8))
    p.prepare(sysm, np.random.default_rng(0))
    p.update(Outcome(request=0, device=0, split=3, exit_block=3, confidence=0.9,
                     latency_s=0.1, energy_j=0.1, bytes_up=0, measured_uplink_bps=None,
                     head_confidences=(0.85, 0.5, 0.9)))
    assert p.counts.tolist() == [1, 1, 1, 0]
    assert p.sums[0] == pytest.approx(0.85 - 0.1)        # arm 1 would have exited
    assert p.sums[1] == pytest.approx(0.9 - 0.2 - 0.3)   # arm 2 offloads: C_3 for C_L
    assert p.sums[2] == pytest.approx(0.9 - 0.3)


DIGITS = """\
name: digits
seed: 3
replications: 1
horizon: {requests: 5000, warmup: 0}
model: {profile: digits-cnn, variant: dense}
devices: [{name: d, compute: {speed: 20 GFLOPS}, workload: {arrivals: poisson, rate: 5/s}}]
channel: {uplink: {model: constant, rate: 10 Mbps}, downlink: {model: constant, rate: 50 Mbps},
          rtt: 30 ms}
server: {workers: 1, compute: {speed: 10 TFLOPS}}
scheduler: {policy: splitee, lambda: 0.1, o: 0.3, alpha: 0.8}
"""


def test_on_the_digits_exit_trace_cost_and_accuracy_against_final_layer_inference(
        scenario_file) -> None:
    # Bajpai et al. (2023) claim > 50% lower cost with < 2% accuracy drop against
    # final-layer inference.  On the digits CNN's real exit trace (heads after blocks 1
    # and 2 of 4), with the paper's cost λ·(blocks on the device) + o per offload and
    # λ = 0.1, o = 0.3, α = 0.8, this simulator measures (seed 3, 5000 requests):
    # cost −52.0%, accuracy 99.42% vs 99.54% (−0.12 points) — in line with the claim.
    # (Not in the claim: offloading costs real latency — 4.5 ms against 0.1 ms for
    # this tiny network run whole on the device; the paper's cost has no latency term.)
    path = scenario_file(DIGITS)
    final = replicate(path, "scheduler.policy=device-only").records
    rec = replicate(path).records
    depth = 4
    cost = (0.1 * rec["split"] + 0.3 * (rec["bytes_up"] > 0)).mean()
    reduction = 1 - cost / (0.1 * depth)
    drop = final["correct"].mean() - rec["correct"].mean()
    assert reduction == pytest.approx(0.52, abs=0.01)
    assert drop == pytest.approx(0.0012, abs=0.0005)
    assert reduction > 0.5 and drop < 0.02   # the paper's claim holds here
