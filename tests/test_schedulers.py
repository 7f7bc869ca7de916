"""Model-based policies against brute force, the shared exit model, and the registry.

Brute force here means the engine itself: on a constant link with no queueing the
engine's latency of every fixed split is exact, so "the policy's choice is the best
split" is checked against simulated outcomes, not against the cost model it uses.
"""

from __future__ import annotations

import math
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import replicate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.library import load_profile
from simulator.costs import ExitModel, RadioPower, SystemModel
from simulator.exits import draw_exits
from simulator.scenario import ScenarioError, load_scenario
from simulator.schedulers import REGISTRY, Decision, Observation, resolve

# ------------------------------------------------------------------ the exit model


@pytest.mark.parametrize("profile", ["resnet18-cifar10", "digits-cnn"])
@pytest.mark.parametrize("which", ["all-0.8", "first-and-last", "off"])
def test_exit_probabilities_match_the_engines_draws(profile, which) -> None:
    # parametric (ResNet-18: Beta survival, exact) and trace (digits CNN: empirical)
    model = load_profile(profile, "dense")
    n_heads = len(model.exit_blocks)
    t = {"all-0.8": [0.8] * n_heads,
         "first-and-last": [0.6] + [math.inf] * (n_heads - 2) + [0.9],
         "off": [math.inf] * n_heads}[which]
    p, right = ExitModel.from_profile(model).distribution(t)
    n = 200_000
    draws = draw_exits(model, n, np.random.default_rng(5))
    leaves = draws.confidence[:, :-1] >= np.asarray(t)
    col = np.where(leaves.any(axis=1), leaves.argmax(axis=1), n_heads)
    p_mc = np.bincount(col, minlength=n_heads + 1) / n
    right_mc = np.bincount(col, weights=draws.correct[np.arange(n), col],
                           minlength=n_heads + 1) / n
    def tol(x):
        return 4 * np.sqrt(np.maximum(x * (1 - x), 1e-6) / n)
    assert np.all(np.abs(p - p_mc) <= tol(p_mc))
    assert np.all(np.abs(right - right_mc) <= tol(right_mc))


EXIT_NET = """\
name: exits
seed: 4
replications: 1
horizon: {requests: 20000, warmup: 0}
model:
  input_bytes: 12288
  accuracy: 0.95
  blocks:
    - {name: b1, flops: 1 GFLOP, output_bytes: 8192, exit: {flops: 50 MFLOP, accuracy: 0.7}}
    - {name: b2, flops: 2 GFLOP, output_bytes: 4096, exit: {flops: 50 MFLOP, accuracy: 0.85}}
    - {name: b3, flops: 1 GFLOP, output_bytes: 40}
devices: [{name: d, compute: {speed: 1 TFLOPS}, workload: {arrivals: poisson, rate: 10/s}}]
channel: {uplink: {model: constant, rate: 20 Mbps}, downlink: {model: constant, rate: 50 Mbps},
          rtt: 10 ms}
server: {workers: 1, compute: {speed: 4 TFLOPS}}
scheduler: {policy: fixed-split, split: 1, thresholds: 0.8}
"""


def exit_net_system(thresholds=(0.8, 0.8)) -> SystemModel:
    path = Path(tempfile.mkdtemp()) / "s.yaml"
    path.write_text(EXIT_NET)
    sc = load_scenario(path).points[0].scenario
    return SystemModel.build(sc.model.to_profile(), device_speed=1e12, server_speed=4e12,
                             server_workers=1, compute_power_w=1.0, idle_power_w=0.1,
                             radio=RadioPower(0, 1.0), rtt_s=0.01, thresholds=thresholds)


@pytest.mark.parametrize("split", [0, 1, 2, 3])
def test_the_exit_outlook_predicts_the_engines_means(scenario_file, split) -> None:
    rec = replicate(scenario_file(EXIT_NET), f"scheduler.split={split}").records
    o = exit_net_system().configured
    n = len(rec["split"])
    tol = lambda x: 4 * np.std(x) / np.sqrt(n) + 1e-12  # noqa: E731
    assert abs(rec["device_compute_s"].mean() - o.device_flops[split] / 1e12) <= tol(
        rec["device_compute_s"])
    assert abs(rec["server_service_s"].mean() - o.server_flops[split] / 4e12) <= tol(
        rec["server_service_s"])
    offloaded = rec["bytes_up"] > 0
    assert abs(offloaded.mean() - o.p_offload[split]) <= tol(offloaded) + 1e-9
    assert abs(rec["correct"].mean() - o.accuracy[split]) <= tol(rec["correct"])


def test_with_exits_off_the_outlook_is_the_plain_backbone() -> None:
    sysm = exit_net_system(thresholds=(math.inf, math.inf))
    o = sysm.configured
    np.testing.assert_array_equal(o.device_flops, sysm.device_flops)
    np.testing.assert_array_equal(o.server_flops, sysm.server_flops)
    np.testing.assert_array_equal(o.p_offload, [1, 1, 1, 0])


# ------------------------------------------------------------------ brute force


@st.composite
def what_if_worlds(draw):
    """A random inline model on a random constant link."""
    depth = draw(st.integers(2, 6))
    blocks = []
    for i in range(depth):
        nb = draw(st.sampled_from([None, True, False]))
        blocks.append({"name": f"b{i}", "flops": draw(st.floats(1e6, 4e9)),
                       "output_bytes": draw(st.integers(0, 600_000)),
                       **({} if nb is None else {"natural_bottleneck": nb})})
    return {
        "input_bytes": draw(st.integers(0, 600_000)), "blocks": blocks,
        "device": draw(st.floats(2e9, 2e11)), "server": draw(st.floats(2e11, 2e13)),
        "rate": draw(st.floats(2e5, 2e9)), "rtt": draw(st.floats(0.0, 0.1)),
        "radio_a": draw(st.floats(0.0, 1e-6)), "radio_b": draw(st.floats(0.1, 2.0)),
    }


def world_file(w) -> Path:
    model = {"input_bytes": w["input_bytes"], "blocks": w["blocks"]}
    text = f"""\
    name: brute
    seed: 2
    replications: 1
    horizon: {{requests: 1, warmup: 0}}
    model: {model}
    devices: [{{name: d, compute: {{speed: {w['device']}}},
               power: {{compute: 2.5, idle: 0.25,
                        radio: {{model: linear, a: {w['radio_a']}, b: {w['radio_b']}}}}},
               workload: {{rate: 1/s}}}}]
    channel: {{uplink: {{model: constant, rate: {w['rate']}}},
              downlink: {{model: constant, rate: 50 Mbps}}, rtt: {w['rtt']}}}
    server: {{workers: 1, compute: {{speed: {w['server']}}}}}
    scheduler: {{policy: neurosurgeon, estimator: oracle}}
    """
    path = Path(tempfile.mkdtemp()) / "w.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=what_if_worlds(), objective=st.sampled_from(["latency", "energy"]))
def test_neurosurgeon_and_dynamic_split_equal_the_brute_force_optimum(world, objective) -> None:
    path = world_file(world)
    column = "latency_s" if objective == "latency" else "energy_j"
    depth = len(world["blocks"])
    realised = np.array([replicate(path, "scheduler.policy=fixed-split",
                                   f"scheduler.split={s}").records[column][0]
                         for s in range(depth + 1)])
    sc = load_scenario(path).points[0].scenario
    natural = sorted({0, depth} | {i + 1 for i, b in enumerate(sc.model.to_profile().blocks)
                                   if b.natural_bottleneck})
    for policy, allowed in (("neurosurgeon", range(depth + 1)), ("dynamic-split", natural)):
        chosen = replicate(path, f"scheduler.policy={policy}",
                           f"scheduler.objective={objective}").records["split"][0]
        assert chosen in allowed
        best = min(realised[list(allowed)])
        assert realised[chosen] <= best * (1 + 1e-9) + 1e-15


# ------------------------------------------------------------------ early-exit


def obs(rate=20e6, backlog=0.0, deadline=None, waited=0.0, request=0) -> Observation:
    return Observation(now_s=0.0, device=0, request=request, uplink_rate_bps=rate,
                       downlink_rate_bps=50e6, rtt_s=0.01, server_backlog_s=backlog,
                       device_queue=0, deadline_s=deadline, waited_s=waited)


def build(policy: str, system: SystemModel, **params):
    from simulator.scenario import SchedulerSpec

    spec = SchedulerSpec(policy=policy, **params)
    p = spec.build()
    p.prepare(system, np.random.default_rng(0))
    return p


def test_early_exit_takes_the_split_of_its_split_policy_and_the_scenarios_thresholds() -> None:
    sysm = exit_net_system(thresholds=(0.7, 0.9))
    d = build("early-exit", sysm, split_policy="fixed-split", split=2).decide(obs())
    assert d == Decision(split=2, thresholds=(0.7, 0.9))


def test_early_exit_defaults_every_head_to_default_threshold_when_none_is_set() -> None:
    sysm = exit_net_system(thresholds=(math.inf, math.inf))
    d = build("early-exit", sysm, split_policy="server-only", default_threshold=0.75).decide(
        obs())
    assert d == Decision(split=0, thresholds=(0.75, 0.75))


def test_early_exit_on_device_turns_the_heads_after_the_cut_off() -> None:
    sysm = exit_net_system()
    d = build("early-exit", sysm, split_policy="fixed-split", split=1,
              exits_on="device").decide(obs())
    assert d == Decision(split=1, thresholds=(0.8, math.inf))


@pytest.mark.parametrize("policy,params", [
    ("device-only", {}), ("server-only", {}), ("fixed-split", {"split": 1}),
    ("early-exit", {"split_policy": "fixed-split", "split": 2}),
    ("early-exit", {"split_policy": "server-only", "exits_on": "device"})])
def test_a_fixed_decision_is_what_decide_returns_whatever_it_observes(policy, params) -> None:
    sysm = exit_net_system(thresholds=(0.7, 0.9))
    p = build(policy, sysm, **params)
    fixed = p.fixed_decision()
    assert fixed is not None
    for seen in (obs(), obs(rate=1e3, backlog=5.0, deadline=0.01, waited=1.0, request=7)):
        assert p.decide(seen) == fixed


@pytest.mark.parametrize("policy,params", [
    ("neurosurgeon", {}), ("dynamic-split", {}), ("random", {}), ("splitee", {}),
    ("deadline", {}), ("early-exit", {"split_policy": "neurosurgeon"})])
def test_policies_that_look_at_the_world_have_no_fixed_decision(policy, params) -> None:
    assert build(policy, exit_net_system(), **params).fixed_decision() is None


def test_early_exit_lets_the_split_policy_predict_with_the_exits() -> None:
    # Neurosurgeon inside early-exit sees the same latencies as the exit outlook gives.
    sysm = exit_net_system()
    policy = build("early-exit", sysm, split_policy="neurosurgeon")
    expected = sysm.latency(20e6, 50e6, 0.0, sysm.outlook((0.8, 0.8)))
    assert policy.decide(obs()).split == int(np.argmin(expected))


def test_early_exit_refuses_a_split_policy_that_picks_exits_itself(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(EXIT_NET)
    with pytest.raises(ScenarioError, match="split_policy"):
        load_scenario(path, ["scheduler.policy=early-exit", "scheduler.split_policy=splitee"])


# ------------------------------------------------------------------ deadline / energy-slo


def brute_force_deadline(sysm: SystemModel, o: Observation, default=0.8):
    """Every (split, exits) candidate, written out: (accuracy, latency, split, thresholds)."""
    n_heads = len(sysm.exit_blocks)
    cands = []
    for s in range(sysm.depth + 1):
        for t in [(math.inf,) * n_heads,
                  tuple(default if b <= s else math.inf for b in sysm.exit_blocks)]:
            out = sysm.outlook(t)
            lat = sysm.latency(o.uplink_rate_bps, o.downlink_rate_bps, o.server_backlog_s,
                               out)[s]
            cands.append((out.accuracy[s], lat, s, t))
    return cands


@pytest.mark.parametrize("rate", [0.3e6, 2e6, 20e6, 1e9])
@pytest.mark.parametrize("deadline", [0.001, 0.003, 0.005, 0.02, 0.2, None])
def test_deadline_picks_the_most_accurate_candidate_that_fits(rate, deadline) -> None:
    sysm = exit_net_system(thresholds=(math.inf, math.inf))
    o = obs(rate=rate, deadline=deadline)
    d = build("deadline", sysm).decide(o)
    cands = brute_force_deadline(sysm, o)
    chosen = next(c for c in cands if c[2] == d.split and c[3] == d.thresholds)
    fits = [c for c in cands if deadline is None or c[1] <= deadline]
    if fits:
        assert chosen[1] <= (math.inf if deadline is None else deadline)
        assert chosen[0] == pytest.approx(max(c[0] for c in fits), abs=1e-12)
        same = [c for c in fits if abs(c[0] - chosen[0]) < 1e-12]
        assert chosen[1] == pytest.approx(min(c[1] for c in same))
    else:  # best effort: the fastest candidate
        assert chosen[1] == pytest.approx(min(c[1] for c in cands))


DEADLINE_NET = EXIT_NET.replace("workload: {arrivals: poisson, rate: 10/s}",
                                "workload: {arrivals: periodic, rate: 5/s, deadline: DL}")


@pytest.mark.parametrize(("deadline", "feasible"), [("25 ms", True), ("6 ms", True),
                                                     ("3 ms", False)])
def test_deadline_meets_every_deadline_that_some_split_can_meet(scenario_file, deadline,
                                                                 feasible) -> None:
    # Exits off, constant link, frames 200 ms apart: latency is deterministic per split.
    path = scenario_file(DEADLINE_NET.replace("DL", deadline))
    common = ("horizon.requests=200", "scheduler.thresholds=null")
    rec = replicate(path, "scheduler.policy=deadline", "scheduler.exit_candidates=false",
                    *common).records
    best = min(replicate(path, f"scheduler.split={s}", *common).records["latency_s"].max()
               for s in range(4))
    limit = float(deadline.split()[0]) / 1000
    assert (best <= limit) == feasible
    if feasible:
        assert (rec["latency_s"] <= limit + 1e-12).all()
    else:
        assert rec["latency_s"].max() == pytest.approx(best)


@pytest.mark.parametrize("rate", [0.3e6, 2e6, 20e6, 1e9])
@pytest.mark.parametrize("slo", [0.004, 0.006, 0.02, 1.0])
def test_energy_slo_is_the_least_energy_split_within_the_slo(rate, slo) -> None:
    sysm = exit_net_system(thresholds=(math.inf, math.inf))
    o = obs(rate=rate, waited=0.001)
    split = build("energy-slo", sysm, slo=slo).decide(o).split
    latency = sysm.latency(rate, 50e6, 0.0)
    energy = sysm.energy(rate, 50e6, 0.0)
    fits = latency <= slo - 0.001
    if fits.any():
        assert fits[split] and energy[split] == pytest.approx(energy[fits].min())
    else:
        assert latency[split] == pytest.approx(latency.min())


# ------------------------------------------------------------------ random


def test_random_is_uniform_over_splits_and_reproducible() -> None:
    sysm = exit_net_system()
    a = build("random", sysm)
    splits = [a.decide(obs()).split for _ in range(8000)]
    counts = np.bincount(splits, minlength=4)
    assert counts.min() > 0.23 * 8000 and counts.max() < 0.27 * 8000
    b = build("random", sysm)
    assert [b.decide(obs()).split for _ in range(8000)] == splits


# ------------------------------------------------------------------ registry-wide


@pytest.mark.parametrize("policy", sorted(REGISTRY))
def test_every_policy_runs_is_deterministic_and_only_the_oracle_sees_the_future(
        scenario_file, policy) -> None:
    from simulator.engine import Replication

    path = scenario_file(EXIT_NET.replace("model: constant, rate: 20 Mbps",
                                          "model: markov, rates: [1 Mbps, 30 Mbps], "
                                          "mean_sojourn: 1 s"))
    overrides = ["horizon.requests=300", f"scheduler.policy={policy}", "scheduler.slo=50 ms",
                 "scheduler.split=2"]
    a = replicate(path, *overrides).records
    b = replicate(path, *overrides).records
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert ((a["split"] >= 0) & (a["split"] <= 3)).all()
    loaded = load_scenario(path, overrides)
    sc = loaded.points[0].scenario
    rep = Replication(sc, sc.model.to_profile(), 0)
    scheduler = rep.devices[0].scheduler
    assert scheduler.clairvoyant == (policy == "oracle")
    assert hasattr(scheduler, "hindsight") == (policy == "oracle")


def test_a_policy_that_is_not_clairvoyant_may_not_be_given_hindsight() -> None:
    with pytest.raises(TypeError, match="not clairvoyant"):
        resolve("neurosurgeon")().attach(None)


def test_policy_parameters_use_their_yaml_names(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(EXIT_NET)
    sc = load_scenario(path, ["scheduler.policy=splitee", "scheduler.lambda=0.05",
                              "scheduler.o=0.2"]).points[0].scenario
    policy = sc.scheduler.build()
    assert policy.params.lam == 0.05 and policy.params.o == 0.2
    with pytest.raises(ScenarioError, match="lamda"):
        load_scenario(path, ["scheduler.policy=splitee", "scheduler.lamda=0.05"])


# ------------------------------------------------------------------ DESIGN.md §8


# DESIGN.md §8, verbatim: the reference example.
REFERENCE_EXAMPLE = """\
name: reference
seed: 7
replications: 20
horizon: {requests: 5000, warmup: 200}
model: {profile: resnet18-cifar10, variant: sparse-75}   # or inline: {input_bytes, blocks: [...]}
devices:
  - name: phone
    count: 1
    compute: {speed: 20 GFLOPS}
    power: {compute: 3 W, idle: 0.3 W, radio: {model: linear, a: 0.438 W/Mbps, b: 1.288 W}}  # LTE uplink, Huang et al. MobiSys 2012
    workload: {arrivals: poisson, rate: 5/s}
channel:
  uplink: {model: markov, rates: [2 Mbps, 10 Mbps, 40 Mbps], mean_sojourn: 2 s}
  downlink: {model: constant, rate: 50 Mbps}
  rtt: 30 ms
server:
  workers: 1
  compute: {speed: 10 TFLOPS, variability: exponential}
  background: {arrivals: poisson, rate: 50/s, work: 2 GFLOP}
scheduler: {policy: dynamic-split, objective: latency, estimator: ewma}
sweep:
  scheduler.policy: [device-only, server-only, dynamic-split, splitee, oracle]
  model.variant: [dense, sparse-75]
"""  # noqa: E501


def test_design_reference_example_is_valid(tmp_path) -> None:
    path = tmp_path / "reference.yaml"
    path.write_text(REFERENCE_EXAMPLE)
    loaded = load_scenario(path)
    assert [p.values for p in loaded.points] == [
        {"scheduler.policy": p, "model.variant": v}
        for p in ["device-only", "server-only", "dynamic-split", "splitee", "oracle"]
        for v in ["dense", "sparse-75"]]
    assert loaded.base.scheduler.estimator.kind == "ewma"


def test_shipped_reference_scenario_has_the_design_sweep() -> None:
    loaded = load_scenario(Path(__file__).parents[1] / "scenarios" / "reference.yaml")
    assert loaded.base.sweep == {
        "scheduler.policy": ["device-only", "server-only", "dynamic-split", "splitee", "oracle"],
        "model.variant": ["dense", "sparse-75"]}
