"""The request's life (DESIGN.md §4) checked stage by stage against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import replicate
from scipy import stats

# A three-block what-if network: 12,288-byte input, 64 KiB then 4 KiB then 40 B out.
SPLIT_NET = """\
name: split
seed: 11
replications: 2
horizon: {requests: 400, warmup: 0}
model:
  input_bytes: 12288
  accuracy: 0.9
  blocks:
    - {name: b1, flops: 2 GFLOP, output_bytes: 65536}
    - {name: b2, flops: 4 GFLOP, output_bytes: 4096}
    - {name: b3, flops: 1 GFLOP, output_bytes: 40}
devices:
  - name: phone
    compute: {speed: 100 GFLOPS}
    power: {compute: 3 W, idle: 0.3 W, radio: {model: linear, a: 0.438 W/Mbps, b: 1.288 W}}
    workload: {arrivals: periodic, rate: 2/s, phase: zero}
channel: {uplink: {model: constant, rate: 8 Mbps}, downlink: {model: constant, rate: 32 Mbps},
          rtt: 40 ms}
server: {workers: 1, compute: {speed: 1 TFLOPS}}
scheduler: {policy: fixed-split, split: 2}
"""


def test_transfer_of_b_bytes_at_rate_r_takes_8b_over_r_plus_half_rtt(scenario_file) -> None:
    # Split after b2: 4096 B at 8 Mbit/s = 4.096 ms, plus rtt/2 = 20 ms.  Result: the
    # last block's 40 B at 32 Mbit/s = 10 µs, plus 20 ms.
    rec = replicate(scenario_file(SPLIT_NET)).records
    np.testing.assert_allclose(rec["uplink_s"], 8 * 4096 / 8e6 + 0.020, rtol=0, atol=1e-15)
    np.testing.assert_allclose(rec["downlink_s"], 8 * 40 / 32e6 + 0.020, rtol=0, atol=1e-15)
    assert (rec["bytes_up"] == 4096).all()


def test_compute_times_are_work_over_speed(scenario_file) -> None:
    # Device: 6 GFLOP at 100 GFLOPS = 60 ms; server: 1 GFLOP at 1 TFLOPS = 1 ms.
    rec = replicate(scenario_file(SPLIT_NET)).records
    np.testing.assert_allclose(rec["device_compute_s"], 0.06, rtol=1e-12)
    np.testing.assert_allclose(rec["server_service_s"], 0.001, rtol=1e-12)
    # Frames every 0.5 s never queue behind each other.
    assert (rec["device_wait_s"] == 0).all() and (rec["server_wait_s"] == 0).all()


def test_latency_is_the_sum_of_its_stages(scenario_file) -> None:
    path = scenario_file(SPLIT_NET)
    for overrides in [(), ("scheduler.split=0",), ("scheduler.split=3",),
                      ("devices.0.workload={arrivals: poisson, rate: 30/s}",
                       "server.compute={speed: 2 GFLOPS, variability: exponential}")]:
        rec = replicate(path, *overrides).records
        stages = (rec["device_wait_s"] + rec["device_compute_s"] + rec["uplink_s"]
                  + rec["server_wait_s"] + rec["server_service_s"] + rec["downlink_s"])
        np.testing.assert_allclose(rec["latency_s"], stages, rtol=1e-9, atol=1e-12)


def test_device_energy_is_compute_plus_radio_plus_idle_waiting(scenario_file) -> None:
    rec = replicate(scenario_file(SPLIT_NET)).records
    tx = 8 * 4096 / 8e6
    radio_w = 0.438e-6 * 8e6 + 1.288  # Huang et al. linear LTE model at 8 Mbit/s
    waiting = 0.020 + 0.001 + (8 * 40 / 32e6 + 0.020)  # propagation, server, downlink
    expected = 3.0 * 0.06 + radio_w * tx + 0.3 * waiting
    np.testing.assert_allclose(rec["energy_j"], expected, rtol=1e-12)


def test_device_only_sends_nothing_and_spends_only_compute_energy(scenario_file) -> None:
    rec = replicate(scenario_file(SPLIT_NET), "scheduler.split=3").records
    assert (rec["bytes_up"] == 0).all() and (rec["uplink_s"] == 0).all()
    np.testing.assert_allclose(rec["energy_j"], 3.0 * 0.07, rtol=1e-12)


def test_server_only_uploads_the_raw_input(scenario_file) -> None:
    rec = replicate(scenario_file(SPLIT_NET), "scheduler.split=0").records
    np.testing.assert_allclose(rec["uplink_s"], 8 * 12288 / 8e6 + 0.020, rtol=1e-12)
    assert (rec["device_compute_s"] == 0).all()


def test_periodic_frames_arrive_exactly_one_period_apart(scenario_file) -> None:
    rec = replicate(scenario_file(SPLIT_NET)).records
    np.testing.assert_allclose(np.diff(rec["arrival_s"]), 0.5, rtol=1e-12)
    assert rec["arrival_s"][0] == 0.0


EXIT_NET = """\
name: exits
seed: 5
replications: 1
horizon: {requests: 40000}
model:
  input_bytes: 12288
  accuracy: 0.95
  blocks:
    - {name: b1, flops: 1 GFLOP, output_bytes: 8192, exit: {flops: 10 MFLOP, accuracy: 0.7,
                                                             concentration: 4}}
    - {name: b2, flops: 1 GFLOP, output_bytes: 40}
devices: [{name: d, compute: {speed: 1 TFLOPS}, workload: {arrivals: poisson, rate: 10/s}}]
channel: {uplink: {model: ideal}, downlink: {model: ideal}, rtt: 0 s}
server: {workers: 1, compute: {speed: 1 TFLOPS}}
scheduler: {policy: device-only, thresholds: 0.8}
"""


def test_exit_rate_and_accuracy_follow_the_calibrated_beta_model(scenario_file) -> None:
    # Confidence ~ Beta(κa, κ(1−a)) with a = 0.7, κ = 4; a sample leaves when
    # confidence ≥ 0.8, and is right with probability equal to its confidence.
    rec = replicate(scenario_file(EXIT_NET)).records
    conf = stats.beta(4 * 0.7, 4 * 0.3)
    p_exit = conf.sf(0.8)
    exited = rec["exit"] == 1
    n = len(exited)
    assert abs(exited.mean() - p_exit) < 4 * math.sqrt(p_exit * (1 - p_exit) / n)
    # E[c | c ≥ t] = ∫_t^1 c f(c) dc / P(c ≥ t)
    acc_exit = conf.expect(lambda c: c, lb=0.8, ub=1.0) / p_exit
    k = exited.sum()
    assert abs(rec["correct"][exited].mean() - acc_exit) < 4 * math.sqrt(
        acc_exit * (1 - acc_exit) / k)


def test_an_exit_saves_the_blocks_after_it(scenario_file) -> None:
    # Exited: block 1 + head = 1.01 GFLOP; otherwise both blocks + head = 2.01 GFLOP.
    rec = replicate(scenario_file(EXIT_NET), "horizon.requests=2000").records
    exited = rec["exit"] == 1
    np.testing.assert_allclose(rec["device_compute_s"][exited], 1.01e9 / 1e12, rtol=1e-12)
    np.testing.assert_allclose(rec["device_compute_s"][~exited], 2.01e9 / 1e12, rtol=1e-12)


def test_exits_off_means_every_request_reaches_the_final_layer(scenario_file) -> None:
    rec = replicate(scenario_file(EXIT_NET), "scheduler.thresholds=null",
                    "horizon.requests=20000").records
    assert (rec["exit"] == -1).all()
    p = 0.95
    assert abs(rec["correct"].mean() - p) < 4 * math.sqrt(p * (1 - p) / 20000)


def test_server_side_exit_shortens_server_compute(scenario_file) -> None:
    # Server-only with the exit enabled: exited requests run block 1 + head on the server.
    rec = replicate(scenario_file(EXIT_NET), "scheduler.policy=server-only",
                    "horizon.requests=2000").records
    exited = rec["exit"] == 1
    assert 0 < exited.mean() < 1
    np.testing.assert_allclose(rec["server_service_s"][exited], 1.01e9 / 1e12, rtol=1e-12)


def test_same_requests_at_every_policy_common_random_numbers(scenario_file) -> None:
    # The exit samples belong to the request, not to the policy: under device-only and
    # server-only, request i leaves at the same exit and is equally right.
    path = scenario_file(EXIT_NET)
    a = replicate(path, "horizon.requests=3000").records
    b = replicate(path, "horizon.requests=3000", "scheduler.policy=server-only").records
    np.testing.assert_array_equal(a["arrival_s"], b["arrival_s"])
    np.testing.assert_array_equal(a["exit"], b["exit"])
    np.testing.assert_array_equal(a["correct"], b["correct"])


def test_replications_use_different_streams(scenario_file) -> None:
    path = scenario_file(EXIT_NET)
    a = replicate(path, "horizon.requests=100", replication=0).records
    b = replicate(path, "horizon.requests=100", replication=1).records
    assert not np.array_equal(a["arrival_s"], b["arrival_s"])


def test_count_makes_independent_devices(scenario_file) -> None:
    rec = replicate(scenario_file(SPLIT_NET), "devices.0.count=3",
                    "devices.0.workload={arrivals: poisson, rate: 2/s}").records
    per_device = [rec["arrival_s"][rec["device"] == d] for d in range(3)]
    assert all(len(a) > 50 for a in per_device)
    assert len({round(a[0], 12) for a in per_device}) == 3


def test_background_load_adds_its_utilisation(scenario_file) -> None:
    # Utilisation = λ·E[S] + λ_bg·E[S_bg] = 10·0.05 + 20·0.01 = 0.7 (work-conserving).
    text = EXIT_NET.replace("server: {workers: 1, compute: {speed: 1 TFLOPS}}",
                            "server: {workers: 1, compute: {speed: 40 GFLOPS, variability: "
                            "exponential}, background: {rate: 20/s, work: 400 MFLOP}}")
    result = replicate(scenario_file(text), "scheduler.policy=server-only",
                       "scheduler.thresholds=null", "horizon.requests=40000")
    assert result.server["utilisation"] == pytest.approx(0.7, rel=0.03)
    assert result.server["background_jobs"] > 0
