"""Requests at the times of a file (``workload: {arrivals: trace}``), checked by hand."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import replicate

from simulator.arrival_trace import read_arrival_trace, replay
from simulator.scenario import ScenarioError, load_scenario
from simulator.traces import TraceError

ROOT = Path(__file__).resolve().parents[1]
MM1 = (ROOT / "scenarios" / "validation" / "mm1.yaml").read_text()

# Binary fractions, so every sum below is exact in floating point.
TIMES = "10\n10.5\n10.5\n12.25\n"   # relative: 0, 0.5, 0.5, 2.25; n = 4, span 2.25 s


@pytest.fixture
def trace_scenario(scenario_file, tmp_path):
    """mm1.yaml with a device replaying ``text`` from ``name`` (next to the scenario)."""
    def make(text: str = TIMES, name: str = "arrivals.txt", **workload: str) -> Path:
        (tmp_path / name).write_text(text)
        extra = "".join(f", {k}: {v}" for k, v in workload.items())
        return scenario_file(MM1.replace("workload: {arrivals: poisson, rate: 5/s}",
                                         f"workload: {{arrivals: trace, file: {name}{extra}}}"))
    return make


def arrivals(path: Path, requests: int, *overrides: str, replication: int = 0) -> np.ndarray:
    result = replicate(path, f"horizon.requests={requests}", "horizon.warmup=0",
                       "server.compute.speed=1 TFLOPS", *overrides, replication=replication)
    return np.sort(result.records["arrival_s"])


def test_requests_arrive_at_the_trace_times(trace_scenario) -> None:
    # The first timestamp is time 0; equal timestamps are requests arriving together.
    path = trace_scenario(loop="false")
    np.testing.assert_array_equal(arrivals(path, 4), [0.0, 0.5, 0.5, 2.25])


def test_csv_in_milliseconds_with_other_columns(trace_scenario) -> None:
    text = "# a log\nuser;timestamp (ms);bytes\nann;1000;5\nbob;1250;7\nann;3000;1\n"
    path = trace_scenario(text, "log.csv", loop="false")
    np.testing.assert_array_equal(arrivals(path, 3), [0.0, 0.25, 2.0])


def test_loop_repeats_every_span_plus_one_mean_gap(trace_scenario) -> None:
    # Default period = span·n/(n − 1) = 2.25 × 4/3 = 3 s: copy k is shifted by 3k s.
    path = trace_scenario()
    np.testing.assert_array_equal(arrivals(path, 10),
                                  [0, 0.5, 0.5, 2.25, 3, 3.5, 3.5, 5.25, 6, 6.5])


def test_offset_time_scale_and_period_by_hand(trace_scenario) -> None:
    # Scaled ×2: times 0, 1, 1, 4.5 and period 2 × 3 s = 6 s; starting at 1 s drops
    # the first request and shifts the rest by −1 s.
    path = trace_scenario(offset="1 s", time_scale="2", period="3 s")
    np.testing.assert_array_equal(arrivals(path, 10),
                                  [0, 0, 3.5, 5, 6, 6, 9.5, 11, 12, 12])


def test_random_offset_differs_by_replication_and_keeps_the_gaps(trace_scenario) -> None:
    path = trace_scenario(offset="random")
    a0 = arrivals(path, 12, replication=0)
    again = arrivals(path, 12, replication=0)
    a1 = arrivals(path, 12, replication=1)
    np.testing.assert_array_equal(a0, again)          # same seed: bit-identical
    assert a0[0] != a1[0] and 0 <= a0[0] < 3 and 0 <= a1[0] < 3
    # Whatever the start, each 3 s period holds the trace's pattern of arrivals.
    phases = np.sort((a0 - a0[0] + 1e-9) % 3.0)
    assert len(set(np.round(phases, 6))) == 3         # gaps 0.5, 0, 1.75, 0.75 repeat


def test_long_run_rate_is_requests_per_period(trace_scenario) -> None:
    path = trace_scenario(time_scale="0.5")
    wl = load_scenario(path).base.devices[0].workload
    assert wl.mean_rate == pytest.approx(4 / (3 * 0.5))
    a = arrivals(path, 4001)   # 1000 periods of 1.5 s and the first request of the next
    assert a[-1] == pytest.approx(1500.0)
    assert (len(a) - 1) / a[-1] == pytest.approx(wl.mean_rate)


def test_mean_rate_feeds_the_overload_warning(trace_scenario) -> None:
    # 4 requests per 3 s × time_scale 0.1 → 13.33/s of 1 GFLOP at 8 GFLOPS: ρ = 1.67.
    path = trace_scenario(time_scale="0.1")
    warnings = load_scenario(path).warnings
    assert any("server utilisation is 1.67" in w for w in warnings), warnings
    assert not load_scenario(path, ["devices.0.workload.time_scale=1"]).warnings


def test_copies_replaying_one_trace_in_lockstep_are_warned(trace_scenario) -> None:
    path = trace_scenario()
    assert any("arrive together" in w
               for w in load_scenario(path, ["devices.0.count=3"]).warnings)
    assert not load_scenario(path, ["devices.0.count=3",
                                    "devices.0.workload.offset=random"]).warnings


def test_a_trace_without_loop_must_hold_the_horizon(trace_scenario) -> None:
    path = trace_scenario(loop="false")
    with pytest.raises(ScenarioError, match=r"horizon.requests is 20000 .* send only 4"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match="send only 8"):  # two copies hold 8
        load_scenario(path, ["devices.0.count=2", "horizon.requests=9", "horizon.warmup=0"])
    # A Poisson device beside the trace keeps the run going after the trace ends.
    both = ("devices=[{name: a, compute: {speed: 1 TFLOPS}, workload: {arrivals: trace, "
            "file: arrivals.txt, loop: false}}, {name: b, compute: {speed: 1 TFLOPS}, "
            "workload: {arrivals: poisson, rate: 5/s}}]")
    records = replicate(path, both, "horizon.requests=50", "horizon.warmup=0").records
    assert len(records["request"]) == 50
    np.testing.assert_array_equal(np.sort(records["arrival_s"][records["device"] == 0]),
                                  [0.0, 0.5, 0.5, 2.25])


def test_the_workload_fields_belong_to_their_process(trace_scenario) -> None:
    path = trace_scenario()
    for override, message in [
        ("devices.0.workload.rate=5/s", "not 'rate'"),
        ("devices.0.workload.period=1 s", "shorter than the trace's span"),
        ("devices.0.workload.offset=soon", "random"),
    ]:
        with pytest.raises(ScenarioError, match=message):
            load_scenario(path, [override])
    with pytest.raises(ScenarioError, match="needs loop: true"):
        load_scenario(path, ["devices.0.workload.loop=false",
                             "devices.0.workload.offset=random"])
    with pytest.raises(ScenarioError, match="'loop' belongs to arrivals: trace"):
        load_scenario(ROOT / "scenarios" / "validation" / "mm1.yaml",
                      ["devices.0.workload.loop=false"])


@pytest.mark.parametrize(("text", "name", "line", "problem"), [
    ("1\n3\n2\n", "a.txt", 3, "goes backwards (2 s after 3 s)"),
    ("1\n-2\n", "a.txt", 2, "'-2' is negative"),
    ("1\nsoon\n", "a.txt", 2, "'soon' is not a number"),
    ("1\ninf\n", "a.txt", 2, "not a finite number"),
    ("1 2\n", "a.txt", 1, "expected one timestamp, found 2 columns"),
    ("# nothing\n", "a.txt", None, "no data lines"),
    ("user,size\na,1\n", "a.csv", 1, "cannot find the time column"),
    ("time_furlongs\n1\n", "a.csv", 1, "unknown time unit 'furlongs'"),
    ("time\n1\n", "a.csv", 1, "does not say its unit"),
    ("time_s\n", "a.csv", None, "a header but no timestamps"),
])
def test_bad_arrival_files_name_the_file_and_line(tmp_path, text: str, name: str,
                                                  line: int | None, problem: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TraceError) as err:
        read_arrival_trace(path)
    message = str(err.value)
    assert message.startswith(str(path) + (f", line {line}:" if line else ":")), message
    assert problem in message
    assert "non-decreasing" in message or "allowed" in message or "unit" in message


def test_timestamps_that_span_no_time_need_a_period(trace_scenario) -> None:
    path = trace_scenario("5\n5\n")
    with pytest.raises(ScenarioError, match="spanning no time give no rate"):
        load_scenario(path)
    # With a period the two simultaneous requests repeat every 2 s.
    np.testing.assert_array_equal(
        arrivals(path, 6, "devices.0.workload.period=2 s"), [0, 0, 2, 2, 4, 4])


def test_replay_starts_inside_a_later_cycle() -> None:
    # Offset 7 s in a 3 s loop of (0, 1): trace times 7 (=6+1), 9, 10, 12 → 0, 2, 3, 5.
    it = replay(np.array([0.0, 1.0]), 3.0, 7.0)
    assert [next(it) for _ in range(4)] == [0.0, 2.0, 3.0, 5.0]


def test_the_shipped_example_replays(tmp_path) -> None:
    path = ROOT / "scenarios" / "motion_cameras.yaml"
    loaded = load_scenario(path)
    assert loaded.warnings == ()
    wl = loaded.base.devices[0].workload
    trace = wl.arrival_trace()
    assert trace.rows == len(re.findall(r"^\d+$", Path(wl.file).read_text(), re.M))
    assert wl.mean_rate == pytest.approx((trace.rows - 1) / trace.span)
