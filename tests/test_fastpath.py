"""The exact event-free fast path (issue 9, items 3–5) against the SimPy engine.

The fast path claims the SimPy engine's per-request records bit for bit on
the same random numbers, wherever ``simulator.fastpath.supports`` accepts a
scenario.  Checked on every sweep point of every shipped scenario it
supports, on targeted worlds (several workers, worker classes, background
load with a load curve, periodic and MMPP arrivals, several devices, Markov,
Gilbert–Elliott, Shannon and trace channels with transfers straddling rate
changes, early-exit thresholds, round-robin and random dispatch), and on
random small scenarios (hypothesis).  Station statistics are the same
integrals summed in another order: equal to rounding (rtol 1e-9).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator
from simulator import fastpath
from simulator.background_stream import BackgroundStream
from simulator.engine import Replication, ReplicationResult, SchedulerError, background_arrivals
from simulator.fastpath import FastReplication, choose_engine, run_replication, supports
from simulator.scenario import ScenarioError, Workload, load_scenario, resolve_model
from simulator.schedulers import Decision, Scheduler
from simulator.seeds import Component, stream
from simulator.summary import summarise
from simulator.tandem import AmbiguousOrder

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.yaml"))


def assert_same(simpy: ReplicationResult, fast: ReplicationResult) -> None:
    """Records equal bit for bit (values and dtypes); statistics equal to rounding."""
    assert simpy.records.keys() == fast.records.keys()
    for name, expected in simpy.records.items():
        got = fast.records[name]
        assert got.dtype == expected.dtype, f"{name}: dtype {got.dtype} != {expected.dtype}"
        np.testing.assert_array_equal(got, expected, err_msg=name, strict=True)
    assert fast.end_time_s == simpy.end_time_s
    assert len(fast.devices) == len(simpy.devices)
    for d_fast, d_simpy in zip(fast.devices, simpy.devices, strict=True):
        assert d_fast.keys() == d_simpy.keys()
        for key, value in d_simpy.items():
            if isinstance(value, str):
                assert d_fast[key] == value
            else:
                assert d_fast[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert fast.server.keys() == simpy.server.keys()
    for key, value in simpy.server.items():
        assert fast.server[key] == pytest.approx(float(value), rel=1e-9, abs=1e-12), key
    depth = 100  # summaries computed from identical records are identical
    deadlines = np.full(len(fast.devices), np.nan)
    np.testing.assert_equal(summarise(fast, 0, deadlines, depth),
                            summarise(simpy, 0, deadlines, depth))


def both(sc, model, replication: int = 0) -> tuple[ReplicationResult, ReplicationResult]:
    return (Replication(sc, model, replication).run(),
            FastReplication(sc, model, replication).run())


def supported_points(path: Path, *overrides: str) -> list:
    loaded = load_scenario(path, list(overrides))
    out = []
    for point in loaded.points:
        model = resolve_model(point.scenario, loaded.path)
        if supports(point.scenario, model) is None:
            out.append((point, model))
    return out


# ---------------------------------------------------------------- shipped scenarios


@pytest.mark.parametrize("relative", SHIPPED)
def test_fast_path_gives_the_simpy_records_on_every_supported_point_of(relative: str) -> None:
    points = supported_points(ROOT / relative, "horizon.requests=400", "horizon.warmup=0")
    for point, model in points:
        assert_same(*both(point.scenario, model, replication=1))


def test_the_shipped_scenarios_exercise_the_fast_path() -> None:
    # Not a vacuous loop above: static points of the reference, the paper scenarios
    # (fixed splits, early exits), the validation queues and a trace channel are supported.
    counts = {rel: len(supported_points(ROOT / rel, "horizon.requests=10", "horizon.warmup=0"))
              for rel in ("scenarios/reference.yaml", "scenarios/validation/mmc.yaml",
                          "scenarios/lte_driving.yaml", "scenarios/diurnal_load.yaml")}
    assert counts == {"scenarios/reference.yaml": 4, "scenarios/validation/mmc.yaml": 1,
                      "scenarios/lte_driving.yaml": 6, "scenarios/diurnal_load.yaml": 2}


# ---------------------------------------------------------------- targeted worlds

WORLD = """\
name: world
seed: 5
replications: 1
horizon: {requests: 1500, warmup: 0}
model:
  input_bytes: 40 KiB
  accuracy: 0.92
  blocks:
    - {name: b1, flops: 300 MFLOP, output_bytes: 64 KiB, exit: {flops: 2 MFLOP, accuracy: 0.6}}
    - {name: b2, flops: 500 MFLOP, output_bytes: 6 KiB, exit: {flops: 1 MFLOP, accuracy: 0.8}}
    - {name: b3, flops: 800 MFLOP, output_bytes: 2 KiB}
    - {name: b4, flops: 200 MFLOP, output_bytes: 40 B, exit: {flops: 1 MFLOP, accuracy: 0.9}}
devices:
  - name: phone
    count: 2
    compute: {speed: 40 GFLOPS, variability: {dist: gamma, cv: 0.4}}
    power: {compute: 3 W, idle: 0.3 W, radio: {model: linear, a: 0.438 W/Mbps, b: 1.288 W}}
    workload: {arrivals: poisson, rate: 6/s}
  - name: camera
    compute: {speed: 10 GFLOPS}
    power: {compute: 2 W, idle: 0.2 W, radio: 1.1 W}
    workload: {arrivals: periodic, rate: 4/s}
channel:
  uplink: {model: markov, rates: [1 Mbps, 8 Mbps, 30 Mbps], mean_sojourn: 0.2 s}
  downlink: {model: constant, rate: 40 Mbps}
  rtt: 20 ms
server:
  workers: 1
  compute: {speed: 60 GFLOPS, variability: exponential}
  background: {rate: 20/s, work: 1 GFLOP}
scheduler: {policy: server-only}
"""

TARGETED = {
    "one worker, background, Markov uplink, three devices": [],
    "three workers": ["server.workers=3", "server.background.rate=60/s"],
    "worker classes": ["server={classes: [{workers: 2, speed: 40 GFLOPS}, {workers: 1, "
                       "speed: 15 GFLOPS}], compute: {variability: exponential}, "
                       "background: {rate: 20/s, work: 1 GFLOP}}"],
    "background with a load curve": ["server.workers=2", "server.background={rate: 40/s, "
                                     "work: 1 GFLOP, pattern: [0.1, 1.0, 0.5], period: 3 s}"],
    "no background, lognormal service": [
        "server.background=null",
        "server.compute={speed: 30 GFLOPS, variability: {dist: lognormal, cv: 0.8}}"],
    "mmpp arrivals": ["devices.0.workload={arrivals: mmpp, rates: [1/s, 20/s], "
                      "mean_sojourn: [2 s, 0.5 s]}"],
    "periodic in phase on one device": ["devices.0.count=1",
                                        "devices.1.workload={arrivals: periodic, rate: 5/s, "
                                        "phase: zero}"],
    "fixed split with exits on both sides": ["scheduler={policy: early-exit, split_policy: "
                                             "fixed-split, split: 2, thresholds: 0.75}"],
    "early exits on the device side only": [
        "scheduler={policy: early-exit, split_policy: fixed-split, split: 1, "
        "exits_on: device, thresholds: [0.6, .inf, 0.7]}"],
    "device-only with exits": ["scheduler={policy: early-exit, split_policy: device-only, "
                               "thresholds: 0.7}"],
    "device-only": ["scheduler.policy=device-only"],
    "gilbert-elliott both ways": [
        "channel.uplink={model: gilbert-elliott, rate_good: 20 Mbps, rate_bad: 500 kbps, "
        "mean_good: 0.3 s, mean_bad: 0.1 s, loss_bad: 0.2}",
        "channel.downlink={model: gilbert-elliott, rate_good: 50 Mbps, rate_bad: 1 Mbps, "
        "mean_good: 0.5 s, mean_bad: 0.2 s}"],
    "shannon with rayleigh fading": ["channel.uplink={model: shannon, bandwidth: 1 MHz, "
                                     "snr: 10 dB, coherence: 5 ms}"],
    "discrete-time markov": ["channel.uplink={model: markov, rates: [500 kbps, 20 Mbps], "
                             "transition: [[0.9, 0.1], [0.3, 0.7]], step: 50 ms}"],
    "trace uplink": ["channel.uplink={model: trace, file: " + str(
        ROOT / "scenarios/traces/norway_bus_3.log") + ", random_offset: true}"],
    "ideal channel": ["channel={uplink: {model: ideal}, downlink: {model: ideal}, rtt: 0 s}"],
    "round-robin over three servers": ["server.count=3", "server.dispatch=round-robin"],
    "random dispatch over two servers": ["server.count=2", "server.dispatch=random",
                                         "server.workers=2"],
}


@pytest.mark.parametrize("name", list(TARGETED))
def test_fast_path_gives_the_simpy_records_with(name: str, scenario_file) -> None:
    path = scenario_file(WORLD)
    [(point, model)] = supported_points(path, *TARGETED[name])
    for replication in (0, 3):
        assert_same(*both(point.scenario, model, replication))


def test_transfers_straddle_rate_changes_in_the_markov_world(scenario_file) -> None:
    # Not a constant link in disguise: the same 40 KiB take very different times.
    [(point, model)] = supported_points(scenario_file(WORLD))
    up = FastReplication(point.scenario, model, 0).run().records["uplink_s"]
    tx = up[up > 0] - 0.010
    assert tx.min() < 8 * 40 * 1024 / 20e6 and tx.max() > 8 * 40 * 1024 / 2e6


def test_background_stream_fires_when_the_engine_background_process_does(
        scenario_file) -> None:
    # The engine's process sleeps at - now from its last wake-up: now + (at - now).
    for pattern in (None, [0.0, 1.0, 0.3]):
        bg = {"rate": "50/s", "work": "1 GFLOP", "period": "2 s"}
        if pattern is not None:
            bg["pattern"] = pattern
        [(point, _)] = supported_points(scenario_file(WORLD), f"server.background={bg}")
        server = point.scenario.server
        now, expected = 0.0, []
        for at, mult in background_arrivals(server, stream(3, 1, Component.BACKGROUND)):
            now = now + (at - now)
            expected.append((now, mult))
            if len(expected) == 3000:
                break
        times, mults = BackgroundStream(server, stream(3, 1, Component.BACKGROUND)
                                        ).take_before(expected[-1][0])
        assert times.tolist() == [t for t, _ in expected]
        assert mults.tolist() == [m for _, m in expected]


# ---------------------------------------------------------------- which engine runs


def test_auto_takes_the_fast_path_exactly_where_no_decision_depends_on_the_state() -> None:
    loaded = load_scenario(ROOT / "scenarios/reference.yaml")
    chosen = {p.values["scheduler.policy"]: choose_engine(
        p.scenario, resolve_model(p.scenario, loaded.path)) for p in loaded.points}
    assert chosen == {"device-only": "fast", "server-only": "fast", "dynamic-split": "simpy",
                      "splitee": "simpy", "oracle": "simpy"}


@pytest.mark.parametrize(("overrides", "reason"), [
    (["scheduler.policy=dynamic-split"], "decides from the state of the simulation"),
    (["scheduler.policy=splitee"], "learns from outcomes"),
    (["scheduler.policy=oracle"], "clairvoyant"),
    (["channel.sharing=fifo"], "channel.sharing is 'fifo'"),
    (["server.batching={size: 4, timeout: 20 ms}"], "server.batching"),
    (["server.count=2", "server.dispatch=least-loaded"], "server.dispatch is 'least-loaded'"),
])
def test_engine_fast_where_it_does_not_apply_is_bad_input_naming_why(
        overrides: list[str], reason: str, scenario_file) -> None:
    path = scenario_file(WORLD)
    with pytest.raises(ScenarioError, match="engine") as err:
        load_scenario(path, [*overrides, "engine=fast"])
    assert reason in str(err.value) and "allowed: auto" in str(err.value)
    loaded = load_scenario(path, overrides)  # auto: SimPy runs it
    sc = loaded.points[0].scenario
    assert choose_engine(sc, resolve_model(sc, path)) == "simpy"


def test_a_field_the_fast_path_does_not_know_sends_the_scenario_to_simpy(
        monkeypatch, scenario_file) -> None:
    # What a feature added later looks like to the whitelist: a field not in _KNOWN.
    known = fastpath._KNOWN[Workload]
    monkeypatch.setitem(fastpath._KNOWN, Workload, known - {"deadline"})
    path = scenario_file(WORLD)
    [(point, model)] = supported_points(path)   # at its default it changes nothing
    assert supports(point.scenario, model) is None
    loaded = load_scenario(path, ["devices.1.workload.deadline=100 ms"])
    reason = supports(loaded.points[0].scenario, model)
    assert reason == "devices.1.workload.deadline is set and the fast path does not implement it"


def test_engine_simpy_is_obeyed_where_the_fast_path_applies(scenario_file) -> None:
    loaded = load_scenario(scenario_file(WORLD), ["engine=simpy"])
    sc = loaded.points[0].scenario
    assert choose_engine(sc, resolve_model(sc, loaded.path)) == "simpy"


def test_simultaneous_arrivals_of_two_devices_fall_back_to_simpy(scenario_file) -> None:
    # Two devices in phase send at the same instants over an ideal channel: which
    # reaches the server first is SimPy's event order, so the fast path declines.
    path = scenario_file(WORLD)
    loaded = load_scenario(path, [
        "devices.0.count=1", "devices.0.workload={arrivals: periodic, rate: 4/s, phase: zero}",
        "devices.1.workload.phase=zero", "server.background=null",
        "channel={uplink: {model: ideal}, downlink: {model: ideal}, rtt: 0 s}"])
    sc = loaded.points[0].scenario
    model = resolve_model(sc, path)
    with pytest.raises(AmbiguousOrder):
        FastReplication(sc, model, 0).run()
    result, ran = run_replication(sc, model, 0, "fast")
    assert ran == "simpy"
    np.testing.assert_array_equal(result.records["latency_s"],
                                  Replication(sc, model, 0).run().records["latency_s"])


def test_the_manifest_says_which_engine_ran_each_point(tmp_path) -> None:
    res = simulator.run(ROOT / "scenarios/reference.yaml", out=tmp_path / "run",
                        executor="serial", save_requests=False,
                        set={"horizon.requests": 300, "horizon.warmup": 0, "replications": 2,
                             "sweep.scheduler.policy": ["server-only", "dynamic-split"],
                             "sweep.model.variant": ["dense"]})
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["engine"] == "mixed"
    assert [(p["scheduler.policy"], p["fast"], p["simpy"]) for p in manifest["engines"]] == [
        ("server-only", 2, 0), ("dynamic-split", 0, 2)]
    assert res.manifest == manifest


def test_serial_and_local_runs_on_the_fast_path_are_identical(tmp_path) -> None:
    runs = {}
    for kind in ("serial", "local"):
        out = tmp_path / kind
        simulator.run(ROOT / "scenarios/validation/mmc.yaml", out=out, executor=kind,
                      workers=2, save_requests=True,
                      set={"horizon.requests": 2000, "horizon.warmup": 100, "replications": 4})
        assert json.loads((out / "manifest.json").read_text())["engine"] == "fast"
        runs[kind] = (pd.read_parquet(out / "summary.parquet"),
                      pd.read_parquet(out / "requests.parquet"))
    pd.testing.assert_frame_equal(runs["serial"][0], runs["local"][0], check_exact=True)
    pd.testing.assert_frame_equal(runs["serial"][1], runs["local"][1], check_exact=True)


# ---------------------------------------------------------------- random worlds


@st.composite
def small_worlds(draw) -> list[str]:
    """Overrides of WORLD: workers, classes, background, arrivals, links, policy, exits."""
    out = [f"seed={draw(st.integers(0, 10_000))}", "horizon.requests=300"]
    background = draw(st.sampled_from(["null", "{rate: 10/s, work: 1 GFLOP}",
                                       "{rate: 30/s, work: 500 MFLOP, pattern: [0.2, 1], "
                                       "period: 1 s}"]))
    if draw(st.booleans()):
        workers = (f"workers: {draw(st.integers(1, 3))}, compute: {{speed: 60 GFLOPS, "
                   f"variability: exponential}}")
    else:
        workers = (f"classes: [{{workers: {draw(st.integers(1, 2))}, speed: 50 GFLOPS}}, "
                   f"{{workers: 1, speed: {draw(st.integers(5, 50))} GFLOPS}}], "
                   f"compute: {{variability: exponential}}")
    count = ""
    if draw(st.booleans()):
        rule = draw(st.sampled_from(["round-robin", "random"]))
        count = f", count: 2, dispatch: {rule}"
    out.append(f"server={{{workers}, background: {background}{count}}}")
    out.append(f"devices.0.count={draw(st.integers(1, 3))}")
    out.append("devices.1.workload=" + draw(st.sampled_from([
        "{arrivals: periodic, rate: 3/s}", "{arrivals: poisson, rate: 2/s}",
        "{arrivals: mmpp, rates: [1/s, 9/s], mean_sojourn: 1 s}"])))
    out.append("channel.uplink=" + draw(st.sampled_from([
        "{model: constant, rate: 10 Mbps}", "{model: markov, rates: [2 Mbps, 20 Mbps], "
        "mean_sojourn: 0.3 s}", "{model: shannon, bandwidth: 2 MHz, snr: 12 dB, "
        "coherence: 10 ms}"])))
    split = draw(st.integers(0, 4))
    threshold = draw(st.sampled_from([".inf", "0.5", "0.8", "[0.7, .inf, 0.6]"]))
    out.append("scheduler=" + draw(st.sampled_from([
        "{policy: server-only}", "{policy: device-only}", f"{{policy: fixed-split, "
        f"split: {split}}}", f"{{policy: early-exit, split_policy: fixed-split, split: "
        f"{split}, thresholds: {threshold}}}"])))
    return out


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(overrides=small_worlds())
def test_fast_path_equals_simpy_on_random_small_worlds(overrides: list[str],
                                                       scenario_file) -> None:
    path = scenario_file(WORLD)
    [(point, model)] = supported_points(path, *overrides)
    try:
        fast = FastReplication(point.scenario, model, 2).run()
    except AmbiguousOrder:  # periodic devices in phase: SimPy's order decides
        return
    assert_same(Replication(point.scenario, model, 2).run(), fast)



class OutOfRange(Scheduler):
    """A plug-in whose fixed decision names a split the model does not have."""

    def decide(self, obs) -> Decision:
        return Decision(split=99)

    def fixed_decision(self) -> Decision:
        return Decision(split=99)


def test_a_fixed_decision_the_engine_would_refuse_is_refused_the_same_way(
        scenario_file) -> None:
    loaded = load_scenario(scenario_file(WORLD),
                           ["scheduler={policy: 'test_fastpath:OutOfRange'}"])
    sc = loaded.points[0].scenario
    model = resolve_model(sc, loaded.path)
    assert supports(sc, model) is None   # a plug-in may opt in with fixed_decision()
    for engine in (Replication, FastReplication):
        with pytest.raises(SchedulerError, match=r"split 99; allowed: a whole number in 0\.\.4"):
            engine(sc, model, 0).run()
