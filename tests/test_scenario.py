"""Scenario loading: the DESIGN.md §8 examples, overrides, sweeps and clear errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from simulator.scenario import ScenarioError, load_scenario, scenario_json_schema

# DESIGN.md §8, verbatim: the M/M/1 check needs no profile.
MM1_EXAMPLE = """\
name: mm1
seed: 1
replications: 10
horizon: {requests: 20000, warmup: 1000}
model: {input_bytes: 0, blocks: [{name: work, flops: 1 GFLOP, output_bytes: 0}]}
devices: [{name: d, compute: {speed: 1 TFLOPS}, workload: {arrivals: poisson, rate: 5/s}}]
channel: {uplink: {model: ideal}, downlink: {model: ideal}, rtt: 0 s}
server: {workers: 1, compute: {speed: 8 GFLOPS, variability: exponential}}
scheduler: {policy: server-only}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path: Path, *overrides: str) -> str:
    with pytest.raises(ScenarioError) as err:
        load_scenario(path, list(overrides))
    return str(err.value)


def test_design_mm1_example_is_valid_and_in_si_units(tmp_path) -> None:
    loaded = load_scenario(write(tmp_path, MM1_EXAMPLE))
    sc = loaded.points[0].scenario
    assert sc.server.compute.speed == 8e9
    assert sc.devices[0].workload.rate == 5.0
    assert sc.model.blocks[0].flops == 1e9
    assert sc.horizon.requests == 20000
    assert len(loaded.points) == 1 and loaded.warnings == ()


def test_set_overrides_any_dotted_field_including_list_items(tmp_path) -> None:
    path = write(tmp_path, MM1_EXAMPLE)
    loaded = load_scenario(path, ["server.workers=3", "devices.0.workload.rate=300/min",
                                  "channel.rtt=40 ms"])
    sc = loaded.points[0].scenario
    assert sc.server.workers == 3
    assert sc.devices[0].workload.rate == 5.0
    assert sc.channel.rtt == pytest.approx(0.04)
    assert loaded.raw["server"]["workers"] == 3  # the saved scenario is the one that ran


def test_sweep_is_the_cartesian_product_in_order(tmp_path) -> None:
    path = write(tmp_path, MM1_EXAMPLE + "sweep:\n  server.workers: [1, 2]\n"
                 "  channel.rtt: [0 s, 10 ms, 20 ms]\n")
    points = load_scenario(path).points
    assert [(p.values["server.workers"], p.values["channel.rtt"]) for p in points] == [
        (1, "0 s"), (1, "10 ms"), (1, "20 ms"), (2, "0 s"), (2, "10 ms"), (2, "20 ms")]
    assert [p.scenario.channel.rtt for p in points[:3]] == pytest.approx([0, 0.01, 0.02])


@pytest.mark.parametrize(("override", "expected"), [
    ("server.workrs=2", "server.workrs: unknown key 'workrs' (did you mean 'workers'?)"),
    ("sheduler.policy=device-only", "unknown key 'sheduler' (did you mean 'scheduler'?)"),
    ("server.compute.speed=5 W", "server.compute.speed: unknown compute speed unit 'W'"),
    ("devices.0.workload.rate=-2/s", "devices.0.workload.rate: a frequency cannot be negative"),
    ("channel.uplink={model: constant, rat: 3}",
     "channel.uplink.rat: unknown key 'rat' (did you mean 'rate'?)"),
    ("channel.uplink={model: constant}", "channel.uplink.rate: required field is missing"),
    ("channel.uplink={model: telepathy}", "channel.uplink"),
    ("scheduler.policy=best", "unknown scheduler 'best'"),
    ("scheduler.objectiv=energy", "unknown parameter 'objectiv' for policy 'server-only' "
                                  "(did you mean 'objective'?)"),
    ("scheduler={policy: fixed-split, split: 2}", "scheduler.split: 2 is out of range"),
    ("horizon.warmup=20000", "warmup (20000) must be smaller than requests (20000)"),
    ("server.compute.variability={dist: gamma}", "'gamma' needs a coefficient of variation"),
    ("channel.rtt=nan s", "channel.rtt: a duration must be a finite number"),
    ("server.workers=0", "server.workers: Input should be greater than or equal to 1"),
    ("devices=[]", "devices: List should have at least 1 item"),
    ("model={profile: no-such-net}", "model.profile: unknown profile 'no-such-net'"),
    ("model.blocks.0.exit={flops: 1 MFLOP, accuracy: 1.5}",
     "model.blocks.0.exit.accuracy: Input should be less than or equal to 1"),
    ("scheduler.thresholds=[0.5, 0.9]", "2 values given but the model has 0 exit heads"),
])
def test_bad_input_names_the_file_the_field_and_what_is_allowed(tmp_path, override,
                                                                  expected) -> None:
    path = write(tmp_path, MM1_EXAMPLE)
    message = error_of(path, override)
    assert message.startswith(str(path)), message
    assert expected in message, message


def test_yaml_syntax_error_gives_the_line(tmp_path) -> None:
    path = write(tmp_path, "name: x\nseed: [1, 2\nreplications: 3\n")
    message = error_of(path)
    assert message.startswith(f"{path}: line ") and "YAML syntax error" in message


def test_a_missing_file_and_a_non_mapping_are_reported(tmp_path) -> None:
    assert "no such scenario file" in error_of(tmp_path / "absent.yaml")
    assert "must be a YAML mapping" in error_of(write(tmp_path, "- a\n- b\n"))


def test_bad_value_at_one_sweep_point_names_that_point(tmp_path) -> None:
    path = write(tmp_path, MM1_EXAMPLE + "sweep:\n  server.workers: [1, -1]\n")
    message = error_of(path)
    assert "server.workers" in message and "sweep point server.workers=-1" in message


def test_sweep_over_an_unknown_key_is_refused_before_running(tmp_path) -> None:
    path = write(tmp_path, MM1_EXAMPLE + "sweep:\n  servr.workers: [1, 2]\n")
    assert "unknown key 'servr' (did you mean 'server'?)" in error_of(path)


def test_overloaded_server_warns_but_validates(tmp_path) -> None:
    # λ = 10/s against μ = 8/s: ρ = 1.25.
    loaded = load_scenario(write(tmp_path, MM1_EXAMPLE), ["devices.0.workload.rate=10/s"])
    assert any("server utilisation is 1.25" in w for w in loaded.warnings)


def test_inline_blocks_become_a_profile_with_natural_bottlenecks(tmp_path) -> None:
    text = MM1_EXAMPLE.replace(
        "model: {input_bytes: 0, blocks: [{name: work, flops: 1 GFLOP, output_bytes: 0}]}",
        "model: {input_bytes: 12 KiB, accuracy: 0.9, blocks: ["
        "{name: b1, flops: 2e8, output_bytes: 64 KiB, exit: {flops: 1e6, accuracy: 0.7}},"
        "{name: b2, flops: 2e8, output_bytes: 4 KiB}, {name: b3, flops: 1e8, output_bytes: 40}]}")
    from simulator.scenario import resolve_model

    model = resolve_model(load_scenario(write(tmp_path, text)).points[0].scenario)
    assert model.depth == 3 and model.exit_blocks == (1,)
    assert [b.natural_bottleneck for b in model.blocks] == [False, True, True]
    assert model.blocks[0].exit.flops == 1e6 and model.final_accuracy == 0.9
    assert model.downlink_bytes == 40


def test_json_schema_lists_the_top_level_fields() -> None:
    schema = scenario_json_schema()
    assert {"name", "horizon", "model", "devices", "channel", "server",
            "scheduler"} <= set(schema["required"])
    assert "sweep" in schema["properties"]
