"""Properties of the engine and of validation on random scenarios (issue 10, item 2).

Random *valid* scenarios (inline models with random blocks and exit heads,
random speeds and rates kept below 90% utilisation, static policies and fixed
splits, constant / ideal / Markov links, dedicated or shared uplinks, radios
with or without an RRC state machine, with or without a topology) must run
without error and keep the books: every one of the ``horizon.requests``
arrivals is completed exactly once, a request's latency is the sum of its
stages (DESIGN.md §9), energy is never negative, ``exit`` is -1 or a block
with an exit head, and bytes go up exactly when the request was offloaded.

Random *invalid* scenarios (one field of a valid one set to a bad value)
must fail in ``load_scenario`` with one ``ScenarioError`` naming the file —
never later, inside the run — and ``splitsim run`` must then exit 2 without
creating the run directory.

Examples are few and small (hypothesis ``max_examples``) so the module runs
in well under a minute.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from simulator.cli import app
from simulator.engine import Replication
from simulator.scenario import ChannelSpec, ScenarioError, load_scenario, resolve_model
from simulator.schedulers import REGISTRY

PATH = Path("/nonexistent/property.yaml")  # names the scenario in messages; never read
STAGES = ("device_wait_s", "device_compute_s", "uplink_s", "server_wait_s",
          "server_service_s", "downlink_s")
QUICK = settings(max_examples=100, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ valid scenarios

positive = st.floats(min_value=1.0, max_value=1e6)
probability = st.floats(min_value=0.05, max_value=0.99)


@st.composite
def inline_models(draw) -> dict[str, Any]:
    """1–5 blocks of random work and (strictly positive) output size; some exit heads."""
    blocks = []
    for i in range(draw(st.integers(1, 5))):
        block: dict[str, Any] = {"name": f"b{i + 1}",
                                 "flops": draw(st.floats(1e5, 1e9)),
                                 "output_bytes": draw(positive)}
        if draw(st.booleans()):
            block["exit"] = {"flops": draw(st.floats(0.0, 1e6)), "accuracy": draw(probability),
                             "concentration": draw(st.floats(0.5, 50.0))}
        blocks.append(block)
    model = {"input_bytes": draw(positive), "blocks": blocks,
             "accuracy": draw(probability)}
    if draw(st.booleans()):
        model["result_bytes"] = draw(positive)
    return model


def links() -> st.SearchStrategy[dict[str, Any]]:
    constant = st.builds(lambda r: {"model": "constant", "rate": r}, st.floats(1e4, 1e9))
    markov = st.builds(
        lambda rates, sojourn: {"model": "markov", "rates": rates, "mean_sojourn": sojourn},
        st.lists(st.floats(1e4, 1e9), min_size=2, max_size=4), st.floats(1e-3, 5.0))
    return st.one_of(st.just({"model": "ideal"}), constant, markov)


variabilities = st.one_of(
    st.sampled_from(["deterministic", "exponential"]),
    st.builds(lambda d, cv: {"dist": d, "cv": cv}, st.sampled_from(["gamma", "lognormal"]),
              st.floats(0.1, 2.0)))


# how devices share the uplink, where this version of the schema knows it
sharing = st.sampled_from([{}, *({"sharing": kind} for kind in ("dedicated", "fifo", "ps")
                                  if "sharing" in ChannelSpec.model_fields)])


@st.composite
def valid_scenarios(draw) -> dict[str, Any]:
    """A scenario whose device and server utilisations stay below 0.9 whatever the split."""
    model = draw(inline_models())
    depth = len(model["blocks"])
    all_flops = sum(b["flops"] + b.get("exit", {}).get("flops", 0.0) for b in model["blocks"])
    devices, total_rate = [], 0.0
    for i in range(draw(st.integers(1, 3))):
        speed = draw(st.floats(1e9, 1e11))
        rate = draw(st.floats(0.05, 0.85)) * speed / all_flops  # device-only still < 0.9
        count = draw(st.integers(1, 2))
        total_rate += count * rate
        radio = draw(st.one_of(st.floats(0.0, 3.0), st.builds(
            lambda a, b: {"model": "linear", "a": a, "b": b}, st.floats(0.0, 1e-6),
            st.floats(0.0, 2.0))))
        power: dict[str, Any] = {"compute": draw(st.floats(0.0, 5.0)),
                                 "idle": draw(st.floats(0.0, 1.0)), "radio": radio}
        if draw(st.booleans()):  # the radio's RRC state machine: a preset or its own values
            power["rrc"] = draw(st.one_of(st.sampled_from(["lte", "wifi"]), st.builds(
                lambda p, pw, t, tw: {"promotion": p, "promotion_power": pw, "tail": t,
                                      "tail_power": tw},
                st.floats(0.0, 0.5), st.floats(0.0, 2.0), st.floats(0.0, 5.0),
                st.floats(0.0, 2.0))))
        devices.append({
            "name": f"d{i}", "count": count,
            "compute": {"speed": speed, "variability": draw(variabilities)},
            "power": power,
            "workload": {"arrivals": draw(st.sampled_from(["poisson", "periodic"])),
                         "rate": rate, "phase": draw(st.sampled_from(["random", "zero"]))}})
    workers = draw(st.integers(1, 3))
    utilisation = draw(st.floats(0.05, 0.85))
    offered = total_rate * all_flops  # server-only: the most the server can get (FLOP/s)
    server: dict[str, Any] = {"workers": workers,
                              "compute": {"speed": offered / (workers * utilisation),
                                          "variability": draw(variabilities)}}
    if draw(st.booleans()):  # background jobs take part of the remaining headroom
        spare = (0.9 - utilisation) * workers * server["compute"]["speed"]
        rate = draw(st.floats(0.01, 5.0)) * total_rate  # a bounded number of events
        share = draw(st.floats(0.01, 0.9))
        server["background"] = {"rate": rate, "work": share * spare / rate}
    policies = ["device-only", "server-only", "fixed-split"]
    policies += ["random"] if "random" in REGISTRY else []
    scheduler: dict[str, Any] = {"policy": draw(st.sampled_from(policies))}
    if scheduler["policy"] == "fixed-split":
        scheduler["split"] = draw(st.integers(0, depth))
    n_exits = sum("exit" in b for b in model["blocks"])
    threshold = st.one_of(st.floats(0.0, 1.0), st.just(math.inf))
    scheduler["thresholds"] = draw(st.one_of(
        st.none(), threshold, st.lists(threshold, min_size=n_exits, max_size=n_exits)))
    raw = {
        "name": "property", "seed": draw(st.integers(0, 2**32 - 1)), "replications": 1,
        "horizon": {"requests": draw(st.integers(1, 300))},
        "model": model, "devices": devices,
        "channel": {"uplink": draw(links()), "downlink": draw(links()),
                    "rtt": draw(st.floats(0.0, 0.1)), **draw(sharing)},
        "server": server, "scheduler": scheduler,
    }
    if draw(st.booleans()):  # behind a topology: an access point, the edge, maybe a cloud
        wire = st.builds(lambda latency, rate: {"latency": latency, "rate": rate},
                         st.floats(0.0, 0.05), st.floats(1e6, 1e10))
        nodes = [{"name": "ap", "kind": "access_point"}, {"name": "edge", "kind": "edge"}]
        links_ = [{"between": ["ap", "edge"], **draw(wire)}]
        if draw(st.booleans()):
            nodes.append({"name": "cloud", "kind": "cloud", "server": copy.deepcopy(server)})
            links_.append({"between": ["edge", "cloud"], **draw(wire)})
        raw["topology"] = {"nodes": nodes, "links": links_}
    return raw


def simulate(raw: dict[str, Any]):
    loaded = load_scenario(PATH, raw=raw)
    scenario = loaded.points[0].scenario
    model = resolve_model(scenario, PATH)
    return Replication(scenario, model, replication=0).run(), model


@QUICK
@given(valid_scenarios())
def test_random_valid_scenarios_run_and_keep_the_books(raw) -> None:
    result, model = simulate(raw)
    rec = result.records
    n = raw["horizon"]["requests"]
    # conservation: arrivals 0..N-1, each completed exactly once
    assert np.array_equal(np.sort(rec["request"]), np.arange(n))
    order = np.argsort(rec["request"])
    assert np.all(np.diff(rec["arrival_s"][order]) >= 0)  # numbered in arrival order
    # latency = the sum of its stages, each of them >= 0 (DESIGN.md §9)
    stages = np.vstack([rec[s] for s in STAGES])
    assert np.all(stages >= 0)
    np.testing.assert_allclose(stages.sum(axis=0), rec["latency_s"], rtol=1e-9, atol=1e-12)
    assert np.all(rec["energy_j"] >= 0)
    assert set(np.unique(rec["exit"]).tolist()) <= {-1, *model.exit_blocks}
    assert np.all((rec["split"] >= 0) & (rec["split"] <= model.depth))
    # offloaded = the cut is inside the network and no exit on the device answered
    on_device_exit = (rec["exit"] != -1) & (rec["exit"] <= rec["split"])
    offloaded = (rec["split"] < model.depth) & ~on_device_exit
    assert np.array_equal(rec["bytes_up"] > 0, offloaded)
    cut_bytes = np.array([model.input_bytes] + [b.output_bytes for b in model.blocks])
    np.testing.assert_array_equal(rec["bytes_up"][offloaded],
                                  cut_bytes[rec["split"][offloaded]])
    for stage in ("uplink_s", "server_wait_s", "server_service_s", "downlink_s"):
        assert np.all(rec[stage][~offloaded] == 0), stage
    # the server that ran it: one of the edge's (a topology's nodes) exactly when offloaded
    servers = len(raw["topology"]["nodes"]) - 1 if "topology" in raw else 1
    assert np.array_equal(rec["server"] >= 0, offloaded)
    assert np.all(rec["server"] < servers)


# ------------------------------------------------------------------ invalid scenarios

BASE: dict[str, Any] = {
    "name": "mutant", "seed": 3, "replications": 2,
    "horizon": {"requests": 50, "warmup": 5},
    "model": {"input_bytes": "12 KiB", "blocks": [
        {"name": "b1", "flops": "200 MFLOP", "output_bytes": "64 KiB",
         "exit": {"flops": "1 MFLOP", "accuracy": 0.7}},
        {"name": "b2", "flops": "400 MFLOP", "output_bytes": "8 KiB"},
        {"name": "b3", "flops": "100 MFLOP", "output_bytes": "40 B"}]},
    "devices": [{"name": "phone", "compute": {"speed": "20 GFLOPS"},
                 "power": {"compute": "3 W", "idle": "0.3 W", "radio": "1.2 W"},
                 "workload": {"arrivals": "poisson", "rate": "5/s"}}],
    "channel": {"uplink": {"model": "constant", "rate": "20 Mbps"},
                "downlink": {"model": "markov", "rates": ["10 Mbps", "50 Mbps"],
                             "mean_sojourn": "1 s"},
                "rtt": "30 ms"},
    "server": {"workers": 1, "compute": {"speed": "1 TFLOPS", "variability": "exponential"}},
    "scheduler": {"policy": "fixed-split", "split": 1},
}

NAN, INF = math.nan, math.inf
# dotted path → values that are wrong there (types, units, signs, ranges, NaN, inf, names)
MUTATIONS: dict[str, list[Any]] = {
    "seed": [-1, "abc", 1.5, [1]],
    "replications": [0, -3, "many"],
    "horizon.requests": [0, -1, "ten", 2.5, None, [50]],
    "horizon.warmup": [-1, 50, 51, "some"],
    "model.input_bytes": [-1, NAN, INF, "12 KB/s", "3 W", "big", True],
    "model.blocks": [[], "b1", None],
    "model.blocks.0.flops": [-1, NAN, INF, "1 Mbps", "2 GHz"],
    "model.blocks.1.output_bytes": [-5, "3 W", NAN],
    "model.blocks.0.exit.accuracy": [1.5, -0.1, NAN, "high"],
    "model.blocks.0.exit.concentration": [0, -1],
    "devices": [[], {}, "phone"],
    "devices.0.count": [0, -1, "two"],
    "devices.0.compute.speed": [0, -1, NAN, INF, "5 W", "fast", "GFLOPS", True],
    "devices.0.compute.variability": ["normal", {"dist": "gamma", "cv": -1},
                                      {"dist": "gamma"}],
    "devices.0.power.compute": [-1, "3 Mbps", NAN],
    "devices.0.power.radio": [{"model": "linear", "a": "0.4 W", "b": "1 W"}, "1 J"],
    "devices.0.workload.rate": [0, "-5/s", "5 W", NAN, INF, "5 per second"],
    "devices.0.workload.arrivals": ["bursty", 3],
    "devices.0.workload.deadline": [0, "-1 s", "5 Mbps"],
    "channel.rtt": [-0.01, "30 Mbps", NAN, INF, "-30 ms"],
    "channel.uplink": [{"model": "wifi"}, {"model": "constant", "rate": 0},
                       {"model": "constant"}, {"model": "markov", "rates": []},
                       {"model": "markov", "rates": ["1 Mbps"], "mean_sojourn": "1 s"},
                       {"model": "markov", "rates": ["1 Mbps", "2 Mbps"]},
                       {"model": "constant", "rate": "20 Mbps", "loss": 0.1}],
    "channel.downlink.mean_sojourn": [0, "-1 s", NAN, "1 Mbps"],
    "server.workers": [0, -1, "two", [1], 1.5],
    "server.compute.speed": [0, "5 W", NAN, -1e9],
    "server.background": [{"rate": "5/s"}, {"rate": 0, "work": "1 GFLOP"},
                          {"rate": "5/s", "work": "-1 GFLOP"}],
    "scheduler.policy": ["no-such-policy", "device-onyl", "nowhere:Policy", 7],
    "scheduler.split": [-1, 4, 99, "one", 1.5],
    "scheduler.thresholds": [[0.5, 0.6], [], NAN, "high", [NAN]],
    "sweep": [{"server.workers": [1, 0]}, {"server.wrkers": [1, 2]},
              {"servr.workers": [1]}, {"server.workers": []}, {"seed": [1, 2]},
              {"scheduler.split": [1, 9]}, {"server.workers": 2}],
}
UNKNOWN_KEY_PARENTS = ["", "horizon", "model", "model.blocks.0", "devices.0",
                       "devices.0.workload", "channel", "channel.uplink", "server",
                       "server.compute"]


def set_dotted(raw: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value


def get_dotted(raw: dict[str, Any], path: str) -> Any:
    node: Any = raw
    for part in filter(None, path.split(".")):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


@st.composite
def invalid_scenarios(draw) -> tuple[str, dict[str, Any]]:
    """The valid BASE with exactly one field set to a bad value (or one unknown key added)."""
    raw = copy.deepcopy(BASE)
    if draw(st.integers(0, 5)) == 0:
        parent = draw(st.sampled_from(UNKNOWN_KEY_PARENTS))
        key = draw(st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True))
        node = get_dotted(raw, parent)
        if key in node or key in {"name", "flops", "exit", "description", "phase", "rate",
                                  "warmup", "deadline", "variability", "background",
                                  "accuracy", "result_bytes", "natural_bottleneck",
                                  "sweep", "zip", "cases", "seed", "loss"}:
            key += "_x"  # make sure it is not a real (optional) field
        node[key] = 1
        return f"unknown key {parent}.{key}", raw
    path = draw(st.sampled_from(sorted(MUTATIONS)))
    value = draw(st.sampled_from(MUTATIONS[path]))
    set_dotted(raw, path, value)
    return f"{path} = {value!r}", raw


@pytest.mark.parametrize(("path", "value"), [(p, v) for p, values in MUTATIONS.items()
                                             for v in values], ids=repr)
def test_every_listed_mutation_fails_in_validation(path, value) -> None:
    raw = copy.deepcopy(BASE)
    set_dotted(raw, path, value)
    with pytest.raises(ScenarioError, match=f"^{re.escape(str(PATH))}: "):
        load_scenario(PATH, raw=raw)


def test_the_base_of_the_mutants_is_valid_and_runs() -> None:
    result, _ = simulate(copy.deepcopy(BASE))
    assert len(result.records["request"]) == BASE["horizon"]["requests"]


@settings(max_examples=150, deadline=None, database=None)
@given(invalid_scenarios())
def test_random_invalid_scenarios_fail_in_validation_with_one_message(mutant) -> None:
    what, raw = mutant
    with pytest.raises(ScenarioError) as err:
        load_scenario(PATH, raw=raw)
    message = str(err.value)
    assert message.startswith(str(PATH)), (what, message)
    assert "\n" not in message, (what, message)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mutants")


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutant=invalid_scenarios())
def test_run_rejects_invalid_scenarios_before_creating_the_run_directory(mutant,
                                                                         workdir) -> None:
    import yaml

    what, raw = mutant
    scenario = workdir / "mutant.yaml"
    scenario.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = workdir / "run"
    result = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out),
                                      "--executor", "serial", "--quiet"])
    assert result.exit_code == 2, (what, result.stderr, result.exception)
    assert len(result.stderr.strip().splitlines()) == 1, (what, result.stderr)
    assert not out.exists(), what
