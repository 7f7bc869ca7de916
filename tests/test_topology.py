"""Topology (access points, routers, edge and cloud servers, wired links) vs hand computation."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
from conftest import replicate

from simulator.costs import RadioPower, SystemModel
from simulator.engine import SchedulerError
from simulator.scenario import InlineModel, ScenarioError, load_scenario
from simulator.schedulers import Decision, Observation, Scheduler, ServerView
from simulator.schedulers.dynamic import DynamicSplit
from simulator.schedulers.neurosurgeon import Neurosurgeon, ObjectiveParams

# SPLIT_NET of test_engine behind a router: ap --(2 ms, 100 Mbps)-- core --(10 ms, 50 Mbps)--
# cloud; the cloud has its own server (2 workers of 2 TFLOPS, deterministic).
MODEL = """\
model:
  input_bytes: 12288
  accuracy: 0.9
  blocks:
    - {name: b1, flops: 2 GFLOP, output_bytes: 65536}
    - {name: b2, flops: 4 GFLOP, output_bytes: 4096}
    - {name: b3, flops: 1 GFLOP, output_bytes: 40}
"""
PATH_NET = """\
name: path
seed: 11
replications: 1
horizon: {requests: 200, warmup: 0}
""" + MODEL + """\
devices:
  - name: phone
    compute: {speed: 100 GFLOPS}
    workload: {arrivals: periodic, rate: 2/s, phase: zero}
channel: {uplink: {model: constant, rate: 8 Mbps}, downlink: {model: constant, rate: 32 Mbps},
          rtt: 40 ms}
server: {workers: 1, compute: {speed: 1 TFLOPS}}
topology:
  nodes:
    - {name: ap, kind: access_point}
    - {name: core, kind: router}
    - {name: cloud, kind: cloud, server: {workers: 2, compute: {speed: 2 TFLOPS}}}
  links:
    - {between: [ap, core], latency: 2 ms, rate: 100 Mbps}
    - {between: [core, cloud], latency: 10 ms, rate: 50 Mbps}
scheduler: {policy: fixed-split, split: 2}
"""


def test_a_wired_path_adds_each_links_latency_plus_bits_over_its_rate(scenario_file) -> None:
    # Up: 4096 B = 32,768 bit over the radio (8 Mbit/s, + rtt/2 = 20 ms), then store and
    # forward over 2 ms + 32768/100e6 and 10 ms + 32768/50e6.  Down: 40 B = 320 bit back
    # over both links, then 320 bit at 32 Mbit/s + 20 ms.  The cloud runs b3 (1 GFLOP)
    # at 2 TFLOPS = 0.5 ms.
    rec = replicate(scenario_file(PATH_NET)).records
    up = 32768 / 8e6 + 0.020 + (0.002 + 32768 / 100e6) + (0.010 + 32768 / 50e6)
    down = (0.002 + 320 / 100e6) + (0.010 + 320 / 50e6) + 320 / 32e6 + 0.020
    np.testing.assert_allclose(rec["uplink_s"], up, rtol=1e-12)
    np.testing.assert_allclose(rec["downlink_s"], down, rtol=1e-12)
    np.testing.assert_allclose(rec["server_service_s"], 1e9 / 2e12, rtol=1e-12)
    np.testing.assert_allclose(rec["latency_s"], 6e9 / 100e9 + up + 1e9 / 2e12 + down,
                               rtol=1e-9)
    assert (rec["server"] == 0).all()  # the cloud is the only server: index 0


def test_a_request_that_stays_on_the_device_has_server_minus_one(scenario_file) -> None:
    rec = replicate(scenario_file(PATH_NET), "scheduler.split=3").records
    assert (rec["server"] == -1).all() and (rec["uplink_s"] == 0).all()


def test_a_topology_of_one_free_hop_gives_the_same_records_as_none() -> None:
    # One AP, one edge (the top-level server) over a link of no latency and no rate limit:
    # the wired part adds exactly 0, so every record is bit-identical to the scenario
    # without a topology (reference: Markov uplink, background load, dynamic-split).
    from pathlib import Path

    from simulator.engine import Replication
    from simulator.scenario import resolve_model

    path = Path(__file__).resolve().parents[1] / "scenarios" / "reference.yaml"
    common = ["horizon.requests=600", "horizon.warmup=0", "sweep={}",
              "scheduler.policy=dynamic-split"]
    one_hop = ("topology={nodes: [{name: ap, kind: access_point}, {name: edge, kind: edge}], "
               "links: [{between: [ap, edge], latency: 0 s}]}")
    out = []
    for extra in ([], [one_hop]):
        sc = load_scenario(path, common + extra).points[0].scenario
        out.append(Replication(sc, resolve_model(sc, path), 0).run().records)
    plain, routed = out
    for name, column in plain.items():
        assert np.array_equal(column, routed[name]), name
    assert (plain["server"] == routed["server"]).all()
    assert set(plain["server"]) <= {-1, 0}


# ------------------------------------------------------------------ choosing the server

def _system(device_speed: float = 10e9) -> SystemModel:
    model = InlineModel.model_validate({
        "input_bytes": 12288, "blocks": [
            {"name": "b1", "flops": 2e9, "output_bytes": 65536},
            {"name": "b2", "flops": 4e9, "output_bytes": 4096},
            {"name": "b3", "flops": 1e9, "output_bytes": 40}]}).to_profile()
    return SystemModel.build(model, device_speed=device_speed, server_speed=1e12,
                             server_workers=1, compute_power_w=3.0, idle_power_w=0.3,
                             radio=RadioPower(0.0, 1.2), rtt_s=0.004)


def _obs(servers: tuple[ServerView, ...], up: float = 80e6, down: float = 100e6) -> Observation:
    return Observation(now_s=0.0, device=0, request=0, uplink_rate_bps=up,
                       downlink_rate_bps=down, rtt_s=0.004,
                       server_backlog_s=min(s.backlog_s for s in servers), device_queue=0,
                       deadline_s=None, servers=servers)


def _edge(backlog: float) -> ServerView:
    return ServerView(index=0, name="edge", backlog_s=backlog, latency_s=0.001,
                      rate_bps=1e9, speed_flops=1e12, workers=1)


CLOUD = ServerView(index=1, name="cloud", backlog_s=0.0, latency_s=0.025, rate_bps=1e9,
                   speed_flops=10e12, workers=8)


def _hand_latency(split: int, view: ServerView, obs: Observation, dev_speed: float) -> float:
    """Latency of (split, server) written out from the model, without the cost model."""
    flops = [0.0, 2e9, 6e9, 7e9]
    out_bytes = [12288, 65536, 4096, 0]
    if split == 3:
        return flops[3] / dev_speed
    bits_up, bits_down = 8 * out_bytes[split], 8 * 40
    return (flops[split] / dev_speed + bits_up / obs.uplink_rate_bps + obs.rtt_s
            + 2 * view.latency_s + (bits_up + bits_down) / view.rate_bps + view.backlog_s
            + (7e9 - flops[split]) / view.speed_flops + bits_down / obs.downlink_rate_bps)


def test_the_cloud_is_chosen_only_once_the_edge_backlog_outweighs_its_extra_distance() -> None:
    # Server-only wins throughout (the device needs 0.2 s for b1 alone).  Edge vs cloud:
    # the cloud's extra round trip 2 × (25 − 1) ms against the edge's slower compute
    # 7 GFLOP / 1 TFLOPS − 7 GFLOP / 10 TFLOPS = 6.3 ms: worth it from a backlog of 41.7 ms.
    crossover = 2 * (0.025 - 0.001) - (7e9 / 1e12 - 7e9 / 10e12)
    assert math.isclose(crossover, 0.0417)
    policy = DynamicSplit()
    policy.prepare(_system(), np.random.default_rng(0))
    for backlog, expected in ((0.0, 0), (crossover - 1e-4, 0), (crossover + 1e-4, 1),
                              (0.15, 1)):
        decision = policy.decide(_obs((_edge(backlog), CLOUD)))
        assert (decision.split, decision.server) == (0, expected), backlog


@pytest.mark.parametrize("policy_class", [Neurosurgeon, DynamicSplit])
def test_the_chosen_split_and_server_minimise_the_predicted_latency(policy_class) -> None:
    # Brute force over random rates, backlogs, path latencies and speeds: the decision's
    # (split, server) has the least hand-computed latency among the allowed pairs.
    rng = np.random.default_rng(5)
    dev_speed = 40e9
    policy = policy_class(ObjectiveParams())
    policy.prepare(_system(dev_speed), np.random.default_rng(0))
    allowed = [int(s) for s in policy.candidates()]
    chosen_servers = set()
    for _ in range(300):
        servers = tuple(
            ServerView(index=k, name=f"s{k}", backlog_s=float(rng.exponential(0.05)),
                       latency_s=float(rng.uniform(0, 0.04)),
                       rate_bps=float(rng.choice([1e8, 1e9, math.inf])),
                       speed_flops=float(rng.choice([0.5e12, 2e12, 10e12])), workers=1)
            for k in range(3))
        obs = _obs(servers, up=float(rng.uniform(2e6, 200e6)))
        decision = policy.decide(obs)
        costs = {(s, v.index): _hand_latency(s, v, obs, dev_speed)
                 for s in allowed for v in servers}
        best = min(costs.values())
        server = 0 if decision.server is None else decision.server
        assert costs[(decision.split, server)] <= best * (1 + 1e-12)
        assert (decision.server is None) == (decision.split == 3)
        chosen_servers.add(decision.server)
    assert {0, 1, 2} <= chosen_servers  # every server wins sometimes: the test has teeth


def _hand_energy(split: int, view: ServerView, obs: Observation, dev_speed: float) -> float:
    """Device energy of (split, server): 3 W computing, 1.2 W sending, 0.3 W waiting."""
    flops = [0.0, 2e9, 6e9, 7e9]
    out_bytes = [12288, 65536, 4096, 0]
    compute_j = 3.0 * flops[split] / dev_speed
    if split == 3:
        return compute_j
    bits_up, bits_down = 8 * out_bytes[split], 8 * 40
    away = (view.backlog_s + obs.rtt_s + bits_down / obs.downlink_rate_bps
            + 2 * view.latency_s + (bits_up + bits_down) / view.rate_bps
            + (7e9 - flops[split]) / view.speed_flops)
    return compute_j + 1.2 * bits_up / obs.uplink_rate_bps + 0.3 * away


def test_the_energy_objective_picks_the_least_energy_split_and_server() -> None:
    # As above for objective: energy — the wires and the far server's time are idle waiting.
    rng = np.random.default_rng(8)
    dev_speed = 40e9
    policy = Neurosurgeon(ObjectiveParams(objective="energy"))
    policy.prepare(_system(dev_speed), np.random.default_rng(0))
    chosen = set()
    for _ in range(300):
        servers = tuple(
            ServerView(index=k, name=f"s{k}", backlog_s=float(rng.exponential(0.5)),
                       latency_s=float(rng.uniform(0, 0.4)), rate_bps=1e8,
                       speed_flops=float(rng.choice([0.05e12, 2e12])), workers=1)
            for k in range(2))
        obs = _obs(servers, up=float(rng.uniform(2e6, 200e6)))
        decision = policy.decide(obs)
        costs = {(s, v.index): _hand_energy(s, v, obs, dev_speed)
                 for s in range(4) for v in servers}
        server = 0 if decision.server is None else decision.server
        assert costs[(decision.split, server)] <= min(costs.values()) * (1 + 1e-12)
        chosen.add((decision.split == 3, decision.server))
    assert {(False, 0), (False, 1), (True, None)} <= chosen


def _random_servers(rng: np.random.Generator) -> tuple[ServerView, ...]:
    return tuple(
        ServerView(index=k, name=f"s{k}", backlog_s=float(rng.exponential(0.1)),
                   latency_s=float(rng.uniform(0, 0.05)), rate_bps=1e8,
                   speed_flops=float(rng.choice([0.2e12, 2e12])), workers=1)
        for k in range(3))


def test_energy_slo_takes_the_least_energy_pair_that_meets_the_slo() -> None:
    # Brute force: among (split, server) whose hand-computed latency is within the SLO,
    # the least hand-computed energy; if none fits, the least latency.
    from simulator.schedulers.deadline import EnergySLO, EnergySLOParams

    rng = np.random.default_rng(13)
    dev_speed = 40e9
    policy = EnergySLO(EnergySLOParams(slo=0.12))
    policy.prepare(_system(dev_speed), np.random.default_rng(0))
    fallback = 0
    for _ in range(300):
        servers = _random_servers(rng)
        obs = _obs(servers, up=float(rng.uniform(2e6, 200e6)))
        decision = policy.decide(obs)
        pairs = [(s, v) for s in range(4) for v in servers]
        lat = {(s, v.index): _hand_latency(s, v, obs, dev_speed) for s, v in pairs}
        energy = {(s, v.index): _hand_energy(s, v, obs, dev_speed) for s, v in pairs}
        fits = [key for key, t in lat.items() if t <= 0.12 * (1 - 1e-9)]
        key = (decision.split, 0 if decision.server is None else decision.server)
        if fits:
            assert lat[key] <= 0.12 * (1 + 1e-9)
            assert energy[key] <= min(energy[f] for f in fits) * (1 + 1e-12)
        else:
            fallback += 1
            assert lat[key] <= min(lat.values()) * (1 + 1e-12)
    assert 0 < fallback < 300


def test_deadline_meets_the_deadline_on_the_fastest_pair_when_accuracy_is_equal() -> None:
    # No exit heads: every candidate has the same accuracy, so the deadline policy takes
    # the least hand-computed latency over (split, server).
    from simulator.schedulers.deadline import Deadline, DeadlineParams

    rng = np.random.default_rng(21)
    dev_speed = 40e9
    policy = Deadline(DeadlineParams(deadline=0.1))
    policy.prepare(_system(dev_speed), np.random.default_rng(0))
    chosen = set()
    for _ in range(200):
        servers = _random_servers(rng)
        obs = _obs(servers, up=float(rng.uniform(2e6, 200e6)))
        decision = policy.decide(obs)
        lat = {(s, v.index): _hand_latency(s, v, obs, dev_speed)
               for s in range(4) for v in servers}
        key = (decision.split, 0 if decision.server is None else decision.server)
        assert lat[key] <= min(lat.values()) * (1 + 1e-12)
        chosen.add(decision.server)
    assert {0, 1, 2} <= chosen


# ------------------------------------------------------------------ dispatch among reachable

# Two access points: lobby reaches edge-a and (through it) the cloud; lab reaches only edge-b.
TWO_AP = """\
name: two-ap
seed: 3
replications: 1
horizon: {requests: 400, warmup: 0}
""" + MODEL + """\
devices:
  - {name: d1, compute: {speed: 100 GFLOPS}, workload: {arrivals: poisson, rate: 4/s}}
  - {name: d2, compute: {speed: 100 GFLOPS}, workload: {arrivals: poisson, rate: 4/s}}
channel: {uplink: {model: constant, rate: 50 Mbps}, downlink: {model: constant, rate: 50 Mbps},
          rtt: 4 ms}
server: {workers: 1, compute: {speed: 1 TFLOPS, variability: exponential},
         dispatch: round-robin}
topology:
  nodes:
    - {name: lobby, kind: access_point}
    - {name: lab, kind: access_point}
    - {name: edge-a, kind: edge}
    - {name: edge-b, kind: edge}
    - {name: cloud, kind: cloud, server: {workers: 4, compute: {speed: 10 TFLOPS}}}
  links:
    - {between: [lobby, edge-a], latency: 1 ms, rate: 1 Gbps}
    - {between: [edge-a, cloud], latency: 20 ms, rate: 1 Gbps}
    - {between: [lab, edge-b], latency: 1 ms, rate: 1 Gbps}
  attach: {d1: lobby, d2: lab}
scheduler: {policy: server-only}
"""


def _by_device(rec: dict[str, np.ndarray], device: int) -> np.ndarray:
    mine = rec["device"] == device
    return rec["server"][mine][np.argsort(rec["request"][mine])]


def test_round_robin_takes_turns_among_the_servers_an_access_point_reaches(scenario_file) -> None:
    rec = replicate(scenario_file(TWO_AP)).records
    d1, d2 = _by_device(rec, 0), _by_device(rec, 1)
    # d1 alone at lobby: edge-a (0), cloud (2), edge-a, ...; d2 at lab only reaches edge-b (1)
    assert d1.tolist() == [0, 2] * (len(d1) // 2) + [0] * (len(d1) % 2)
    assert (d2 == 1).all()


@pytest.mark.parametrize("rule", ["least-loaded", "random"])
def test_other_dispatch_rules_stay_among_the_reachable_servers(scenario_file, rule) -> None:
    rec = replicate(scenario_file(TWO_AP), f"server.dispatch={rule}",
                    "server.background={rate: 30/s, work: 20 GFLOP}").records
    assert set(_by_device(rec, 0)) == {0, 2}   # both used: edge-a is busy, the cloud far
    assert set(_by_device(rec, 1)) == {1}


def test_dynamic_split_uses_the_cloud_only_when_the_edge_is_loaded(scenario_file) -> None:
    # Idle edge 1 ms away vs a cloud 20 ms further: never worth the trip.  With other
    # tenants keeping edge-a busy (30/s × 20 ms = ρ 0.6 before the requests), sometimes.
    path = scenario_file(TWO_AP)
    idle = replicate(path, "scheduler.policy=dynamic-split").records
    busy = replicate(path, "scheduler.policy=dynamic-split",
                     "server.background={rate: 30/s, work: 20 GFLOP}").records
    assert 2 not in set(idle["server"])
    assert 0 < np.mean(_by_device(busy, 0) == 2) < 1


# ------------------------------------------------------------------ plug-ins choose the server

class ToCloud(Scheduler):
    """Server-only to the server named 'cloud', remembering what it was shown."""

    seen: ClassVar[list] = []

    def decide(self, obs: Observation) -> Decision:
        ToCloud.seen.append(obs.servers)
        return Decision(split=0, server="cloud")


class ToNowhere(Scheduler):
    """Names a server that does not exist."""

    def decide(self, obs: Observation) -> Decision:
        return Decision(split=0, server="clod")


def test_a_policy_sees_each_reachable_server_and_may_name_one(scenario_file) -> None:
    ToCloud.seen.clear()
    rec = replicate(scenario_file(TWO_AP), "scheduler.policy=test_topology:ToCloud",
                    "topology.attach.d2=lobby",
                    "topology.links.2.between=[lobby, edge-b]").records
    assert (rec["server"] == 2).all()
    views = ToCloud.seen[0]
    assert [v.name for v in views] == ["edge-a", "edge-b", "cloud"]
    assert [v.index for v in views] == [0, 1, 2]
    cloud = views[2]
    # lobby → edge-a → cloud: 1 ms + 20 ms; two 1 Gbit/s links in series = 0.5 Gbit/s
    assert math.isclose(cloud.latency_s, 0.021) and math.isclose(cloud.rate_bps, 0.5e9)
    assert (cloud.speed_flops, cloud.workers) == (10e12, 4)


def test_a_server_the_device_cannot_reach_is_refused_naming_the_policy(scenario_file) -> None:
    # each device is offered what its own access point reaches
    with pytest.raises(SchedulerError, match=r"test_topology:ToNowhere.*server 'clod', which "
                                             r"this device cannot reach; allowed: None "
                                             r"\(server.dispatch\) or one of "
                                             r"(0 \('edge-a'\), 2 \('cloud'\)|1 \('edge-b'\))$"):
        replicate(scenario_file(TWO_AP), "scheduler.policy=test_topology:ToNowhere")


class ToSecond(Scheduler):
    """Server-only to server 1."""

    def decide(self, obs: Observation) -> Decision:
        return Decision(split=0, server=1)


def test_without_a_topology_a_server_is_chosen_by_index_not_by_name(scenario_file) -> None:
    plain = scenario_file(TWO_AP.split("topology:")[0] + "scheduler: {policy: server-only}\n")
    rec = replicate(plain, "scheduler.policy=test_topology:ToSecond", "server.count=2").records
    assert (rec["server"] == 1).all()
    with pytest.raises(SchedulerError, match=r"server 'cloud'; allowed: None .* index in 0..1"):
        replicate(plain, "scheduler.policy=test_topology:ToCloud", "server.count=2")


# ------------------------------------------------------------------ bad topologies

@pytest.mark.parametrize("override, message", [
    ("topology.links.0.between=[lobby, edge-c]",
     "topology.links.0.between: unknown node 'edge-c' (did you mean 'edge-b'?); allowed: "
     "lobby, lab, edge-a, edge-b, cloud"),
    ("topology.links.0.between=[lobby, lobby]", "a link joins two different nodes"),
    ("topology.links.1.between=[edge-a, lobby]", "'edge-a' and 'lobby' are already linked"),
    ("topology.links.0.latency=-1 ms", "topology.links.0.latency"),
    ("topology.nodes.1.name=lobby", "topology.nodes.1.name: 'lobby' is used by two nodes"),
    ("topology.attach={d1: lobby}", "device entry 'd2' is not attached"),
    ("topology.attach.d2=labb", "unknown access point 'labb' (did you mean 'lab'?)"),
    ("topology.attach.d2=cloud", "attach.d2: 'cloud' is a cloud node"),
    ("topology.attach.d3=lab", "attach: unknown device entry 'd3'"),
    ("topology.links.2.between=[edge-a, edge-b]",
     "access point 'lab' reaches no edge or cloud node"),
    ("topology.nodes.3.kind=access_point", "topology.links"),
    ("server.count=2", "server.count is 2, but with a topology the servers are its edge"),
    ("topology.nodes.4.server.count=2", "server.count is not allowed in a topology node"),
    ("topology.nodes.0.server={workers: 1, compute: {speed: 1 TFLOPS}}",
     "'lobby' is an access_point, which has no server"),
])
def test_a_bad_topology_is_refused_naming_the_field(scenario_file, override, message) -> None:
    with pytest.raises(ScenarioError, match="^.*" + _escape(message)):
        load_scenario(scenario_file(TWO_AP), [override])


def test_a_server_no_device_can_reach_is_refused(scenario_file) -> None:
    text = TWO_AP.replace("    - {between: [lab, edge-b], latency: 1 ms, rate: 1 Gbps}\n",
                          "").replace("attach: {d1: lobby, d2: lab}", "attach: {d1: lobby, "
                                      "d2: lobby}")
    with pytest.raises(ScenarioError, match="server 'edge-b' is not reachable from any access "
                                            "point with devices"):
        load_scenario(scenario_file(text))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


# ------------------------------------------------------------------ the oracle chooses too

ORACLE_TOPOLOGY = (
    "topology={nodes: [{name: ap, kind: access_point}, {name: edge, kind: edge}, "
    "{name: cloud, kind: cloud, server: {workers: 4, compute: {speed: 5 TFLOPS, "
    "variability: {dist: gamma, cv: 0.5}}}}], links: [{between: [ap, edge], latency: 1 ms, "
    "rate: 1 Gbps}, {between: [edge, cloud], latency: 8 ms, rate: 200 Mbps}]}")


def test_the_oracle_predicts_exactly_through_a_topology(scenario_file) -> None:
    # test_schedulers_oracle's world behind an AP, an edge (its server) and a faster cloud
    # with other variability: frames 1 s apart, so the realised latency is what the oracle
    # computed for the (split, exit, server) it chose, and it uses both servers.
    from test_schedulers_oracle import WORLD, RecordingOracle

    path = scenario_file(WORLD.replace("ARRIVALS", "periodic, rate: 1/s")
                         .replace("BACKGROUND", ""))
    RecordingOracle.predicted = {}
    rec = replicate(path, "scheduler.policy=test_schedulers_oracle:RecordingOracle",
                    ORACLE_TOPOLOGY).records
    predicted = np.array([RecordingOracle.predicted[r] for r in rec["request"]])
    np.testing.assert_allclose(rec["latency_s"] - rec["device_wait_s"], predicted,
                               rtol=1e-9, atol=1e-12)
    assert {0, 1} <= set(rec["server"])


def test_the_oracle_is_not_beaten_by_the_joint_choice(scenario_file) -> None:
    # Common random numbers through the topology, with background jobs the oracle cannot
    # foresee: dynamic-split and server-only are no faster on average.
    from test_schedulers_oracle import WORLD

    path = scenario_file(WORLD.replace("ARRIVALS", "poisson, rate: 3/s").replace(
        "BACKGROUND", ", background: {rate: 20/s, work: 5 GFLOP}"))
    common = ("horizon.requests=1000", ORACLE_TOPOLOGY, "scheduler.exits=none",
              "scheduler.thresholds=null")
    oracle = replicate(path, *common, "scheduler.policy=oracle").records
    for policy in ("dynamic-split", "neurosurgeon", "server-only"):
        rec = replicate(path, *common, f"scheduler.policy={policy}").records
        np.testing.assert_array_equal(rec["arrival_s"], oracle["arrival_s"])
        assert oracle["latency_s"].mean() <= rec["latency_s"].mean(), policy


def test_the_overload_warning_counts_every_server_of_the_topology() -> None:
    # edge_cloud.yaml under server-only: two edges (1 × 400 GFLOPS, background 40/s × 5 GFLOP
    # each) and a cloud (8 × 10 TFLOPS); ρ = offered FLOP/s over the total speed 80.8 TFLOPS.
    from pathlib import Path

    from simulator.scenario import resolve_model

    path = Path(__file__).resolve().parents[1] / "scenarios" / "edge_cloud.yaml"
    loaded = load_scenario(path, ["scheduler.policy=server-only", "sweep={}",
                                  "devices.0.workload.rate=13000/s"])
    model = resolve_model(loaded.base, path)
    work = sum(2.0 * b.effective_macs for b in model.blocks)
    rho = ((6 * 13000 + 4 * 3) * work + 2 * 40 * 5e9) / (2 * 400e9 + 8 * 10e12)
    assert 1.0 <= rho < 1.1  # about 200 if only one 400 GFLOPS edge were counted
    assert [w.split(":")[0] for w in loaded.warnings] == [f"server utilisation is {rho:.2f} ≥ 1"]


@pytest.mark.parametrize("tail", ["0.7 s", "11.576 s"])
def test_the_oracle_predicts_exactly_through_a_topology_with_an_lte_radio(scenario_file,
                                                                          tail) -> None:
    # Both features at once: the promotion before the uplink, the wired route both ways,
    # and a second promotion when the result (after the wired route back) comes after
    # the tail.  The realised latency must still be what the oracle computed.
    from test_schedulers_oracle import WORLD, RecordingOracle

    rrc = f"rrc: {{preset: lte, tail: {tail}}}"
    path = scenario_file(WORLD.replace("ARRIVALS", "periodic, rate: 1/s")
                         .replace("BACKGROUND", "")
                         .replace("b: 1.288 W}}", f"b: 1.288 W}}, {rrc}}}"))
    RecordingOracle.predicted = {}
    result = replicate(path, "scheduler.policy=test_schedulers_oracle:RecordingOracle",
                       "scheduler.exits=none", "devices.0.compute.speed=10 GFLOPS",
                       ORACLE_TOPOLOGY)
    rec = result.records
    predicted = np.array([RecordingOracle.predicted[r] for r in rec["request"]])
    np.testing.assert_allclose(rec["latency_s"] - rec["device_wait_s"], predicted,
                               rtol=1e-9, atol=1e-12)
    assert (rec["server"] >= 0).any()
    assert result.devices[0]["promotions"] > (100 if tail == "0.7 s" else 0)
