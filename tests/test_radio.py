"""The radio's RRC state machine (``power.rrc``) checked against hand computations.

One offload in the test network: 1 Mbit up at 10 Mbit/s (0.1 s), 1 GFLOP on a
10 GFLOPS server (0.1 s), 0.1 Mbit back at 1 Mbit/s (0.1 s), no propagation.
Transmit power 2 W; RRC: promotion 0.25 s at 1.2 W (0.3 J), tail 10 s at 1 W,
reception 0.5 W, idle radio 0.02 W.  Compute and idle power are 0 W, so a
request's ``energy_j`` is its radio energy alone.
"""

from __future__ import annotations

import dataclasses
import math
import typing

import numpy as np
import pytest
from conftest import replicate

from simulator.costs import RadioPower, SystemModel
from simulator.radio import RRC_PRESETS, RadioStateMachine, RrcParams
from simulator.scenario import InlineModel, Rrc, ScenarioError, load_scenario
from simulator.schedulers import Observation, resolve

RRC_NET = """\
name: rrc
seed: 3
replications: 1
horizon: {requests: 2, warmup: 0}
model:
  input_bytes: 125000
  result_bytes: 12500
  blocks: [{name: work, flops: 1 GFLOP, output_bytes: 0}]
devices:
  - name: phone
    compute: {speed: 100 GFLOPS}
    power:
      compute: 0 W
      idle: 0 W
      radio: 2 W
      rrc: {promotion: 250 ms, promotion_power: 1.2 W, tail: 10 s, tail_power: 1 W,
            idle_power: 20 mW, receive: 0.5 W}
    workload: {arrivals: periodic, rate: 1/s, phase: zero}
channel: {uplink: {model: constant, rate: 10 Mbps}, downlink: {model: constant, rate: 1 Mbps},
          rtt: 0 s}
server: {workers: 1, compute: {speed: 10 GFLOPS}}
scheduler: {policy: server-only}
"""

RRC_BLOCK = """\
      rrc: {promotion: 250 ms, promotion_power: 1.2 W, tail: 10 s, tail_power: 1 W,
            idle_power: 20 mW, receive: 0.5 W}
"""
PROMOTION_J = 1.2 * 0.25
TX_J = 2.0 * 0.1
SERVER_WAIT_J = 1.0 * 0.1   # connected (tail power) while the server computes
RECEIVE_J = 0.5 * 0.1
TAIL_J = 1.0 * 10.0


def test_one_request_from_idle_pays_promotion_delay_and_energy_and_a_full_tail(
        scenario_file) -> None:
    result = replicate(scenario_file(RRC_NET), "horizon.requests=1")
    rec = result.records
    assert rec["uplink_s"][0] == pytest.approx(0.25 + 0.1, abs=1e-12)
    assert rec["latency_s"][0] == pytest.approx(0.25 + 0.1 + 0.1 + 0.1, abs=1e-12)
    expected = PROMOTION_J + TX_J + SERVER_WAIT_J + RECEIVE_J + TAIL_J
    assert rec["energy_j"][0] == pytest.approx(expected, abs=1e-12)
    dev = result.devices[0]
    assert dev["promotions"] == 1
    assert dev["promotion_j"] == pytest.approx(PROMOTION_J, abs=1e-12)
    assert dev["tail_s"] == pytest.approx(0.1 + 10.0, abs=1e-12)
    assert dev["radio_j"] == pytest.approx(expected, abs=1e-12)


def test_two_requests_within_the_tail_pay_one_promotion(scenario_file) -> None:
    # Arrivals at 0 s and 1 s: the first ends its reception at 0.55 s, so the
    # second finds the radio in the tail and sends at once; the first pays the
    # tail up to 1 s, the second the full tail after its reception.
    result = replicate(scenario_file(RRC_NET))
    rec = result.records
    assert result.devices[0]["promotions"] == 1
    assert rec["uplink_s"][1] == pytest.approx(0.1, abs=1e-12)
    first = PROMOTION_J + TX_J + SERVER_WAIT_J + RECEIVE_J + 1.0 * (1.0 - 0.55)
    second = TX_J + SERVER_WAIT_J + RECEIVE_J + TAIL_J
    np.testing.assert_allclose(rec["energy_j"], [first, second], rtol=0, atol=1e-12)


def test_a_gap_longer_than_the_tail_pays_two_promotions(scenario_file) -> None:
    # Arrivals 20 s apart: the tail (10 s) runs out at 10.55 s, the radio idles
    # until 20 s and is promoted again.
    result = replicate(scenario_file(RRC_NET), "devices.0.workload.rate=0.05/s")
    rec = result.records
    each = PROMOTION_J + TX_J + SERVER_WAIT_J + RECEIVE_J + TAIL_J
    np.testing.assert_allclose(rec["energy_j"], [each, each], rtol=0, atol=1e-12)
    np.testing.assert_allclose(rec["uplink_s"], 0.35, rtol=0, atol=1e-12)
    dev = result.devices[0]
    assert dev["promotions"] == 2
    assert dev["radio_idle_s"] == pytest.approx(20.0 - 10.55, abs=1e-9)
    assert dev["radio_idle_j"] == pytest.approx(0.02 * (20.0 - 10.55), abs=1e-9)


@pytest.mark.parametrize(("sharing", "count", "rate"), [
    ("dedicated", 3, "0.15/s"), ("fifo", 3, "0.15/s"), ("ps", 3, "0.15/s"),
    ("dedicated", 1, "8/s"),   # a device's own transfers overlap (and join promotions)
])
def test_per_request_radio_energies_sum_to_the_device_radio_energy(scenario_file, sharing,
                                                                   count, rate) -> None:
    # Poisson arrivals around the tail length, several devices, a dedicated or
    # shared uplink: every joule of promotion, transfer, waiting and tail has one owner.
    path = scenario_file(RRC_NET)
    result = replicate(path, "horizon.requests=400", f"devices.0.count={count}",
                       f"devices.0.workload={{arrivals: poisson, rate: {rate}}}",
                       f"channel.sharing={sharing}", "server.compute.speed=20 GFLOPS")
    rec = result.records
    for dev in result.devices:
        mine = rec["device"] == dev["device"]
        assert rec["energy_j"][mine].sum() == pytest.approx(dev["radio_j"], rel=1e-12)
        assert dev["radio_j"] == pytest.approx(
            dev["transmit_j"] + dev["promotion_j"] + dev["queued_j"] + dev["receive_j"]
            + dev["tail_j"], rel=1e-12)
        assert 1 <= dev["promotions"] < mine.sum()   # some transfers found the tail
        assert dev["tail_s"] > 0 and dev["active_s"] > 0
    queued = sum(d["queued_s"] for d in result.devices)
    assert (queued > 0) == (sharing == "fifo")  # only a FIFO uplink makes devices wait


def test_the_radio_states_partition_time(scenario_file) -> None:
    result = replicate(scenario_file(RRC_NET), "horizon.requests=200",
                       "devices.0.workload={arrivals: poisson, rate: 0.2/s}")
    dev = result.devices[0]
    # The last tail runs in full past the end of the run.
    last_end = result.end_time_s
    total = (dev["radio_idle_s"] + dev["promotion_s"] + dev["active_s"] + dev["tail_s"])
    assert total == pytest.approx(last_end + 10.0, rel=1e-12)


def test_a_result_after_the_tail_waits_for_a_second_promotion(scenario_file) -> None:
    # The server takes 20 s (> 10 s tail): the radio is idle when the result comes.
    result = replicate(scenario_file(RRC_NET), "horizon.requests=1",
                       "server.compute.speed=50 MFLOPS")
    rec, dev = result.records, result.devices[0]
    assert dev["promotions"] == 2
    assert rec["downlink_s"][0] == pytest.approx(0.25 + 0.1, abs=1e-9)
    expected = 2 * PROMOTION_J + TX_J + TAIL_J + RECEIVE_J + TAIL_J
    assert rec["energy_j"][0] == pytest.approx(expected, abs=1e-9)


def test_without_the_block_nothing_changes(scenario_file) -> None:
    text = RRC_NET.replace(RRC_BLOCK, "")
    rec = replicate(scenario_file(text)).records
    np.testing.assert_allclose(rec["uplink_s"], 0.1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(rec["energy_j"], TX_J, rtol=0, atol=1e-12)
    assert "promotions" not in replicate(scenario_file(text)).devices[0]


def test_a_preset_takes_the_published_lte_values(scenario_file) -> None:
    # Huang et al., MobiSys 2012, Table 3: promotion 260.1 ms at 1210.7 mW,
    # tail 11576.0 ms at 1060.0 mW.
    params = Rrc(preset="lte").params()
    assert params.promotion_s == pytest.approx(0.2601)
    assert params.promotion_w == pytest.approx(1.2107)
    assert params.tail_s == pytest.approx(11.576)
    assert params.tail_w == pytest.approx(1.060)
    assert params.receive_w(10e6) == pytest.approx(0.05197 * 10 + 1.28804)
    overridden = Rrc(preset="lte", tail="5 s").params()
    assert overridden.tail_s == 5.0 and overridden.promotion_s == pytest.approx(0.2601)
    text = RRC_NET.replace(RRC_BLOCK, "      rrc: lte\n")
    rec = replicate(scenario_file(text), "horizon.requests=1").records
    assert rec["uplink_s"][0] == pytest.approx(0.2601 + 0.1, abs=1e-12)


def test_presets_match_the_schema_names() -> None:
    literal, _none = typing.get_args(Rrc.model_fields["preset"].annotation)
    assert set(RRC_PRESETS) == set(typing.get_args(literal))


def test_an_incomplete_block_names_what_is_missing(scenario_file) -> None:
    text = RRC_NET.replace("promotion: 250 ms, promotion_power: 1.2 W, ", "")
    with pytest.raises(ScenarioError, match=r"devices\.0\.power\.rrc.*promotion, "
                                            r"promotion_power"):
        load_scenario(scenario_file(text))


def test_state_machine_joins_a_promotion_under_way() -> None:
    radio = RadioStateMachine(RrcParams(promotion_s=0.3, promotion_w=1.0, tail_s=5.0,
                                        tail_w=0.5))
    assert radio.begin(1.0, rid=0) == pytest.approx(0.3)
    assert radio.begin(1.1, rid=1) == pytest.approx(0.2)   # waits for the same promotion
    assert radio.since(1.2) == 0.0
    radio.end(1.5, rid=0)
    radio.end(1.6, rid=1)                                  # the last to end owns the tail
    assert radio.since(2.6) == pytest.approx(1.0)
    cols = radio.finish(2.0)
    assert cols["promotions"] == 1 and cols["active_s"] == pytest.approx(1.6 - 1.3)
    assert radio.settle(0) == pytest.approx(0.3)
    assert radio.settle(1) == pytest.approx(0.5 * 5.0)
    assert math.isinf(RadioStateMachine(radio.params).since(0.0))


# ------------------------------------------------------------------ the schedulers' cost model

def _cost_model(rrc: RrcParams | None) -> SystemModel:
    """The test network as a SystemModel: split 0 sends 1 Mbit, split 1 runs on the device."""
    model = InlineModel(input_bytes=125000, result_bytes=12500, blocks=[
        {"name": "work", "flops": 1e9, "output_bytes": 0}]).to_profile()
    return SystemModel.build(model, device_speed=100e9, server_speed=10e9, server_workers=1,
                             compute_power_w=0.0, idle_power_w=0.3,
                             radio=RadioPower(0.0, 2.0), rtt_s=0.0, rrc=rrc)


PARAMS = RrcParams(promotion_s=0.25, promotion_w=1.2, tail_s=10.0, tail_w=1.0,
                   receive_b_w=0.5)


def test_cost_model_adds_the_promotion_delay_only_when_the_radio_will_be_idle() -> None:
    plain, rrc = _cost_model(None), _cost_model(PARAMS)
    args = (10e6, 1e6, 0.0)
    base = plain.latency(*args)
    # Idle (never used, or quiet for longer than the tail): offloading waits 0.25 s.
    np.testing.assert_allclose(rrc.latency(*args), base + np.array([0.25, 0.0]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(rrc.latency(*args, radio_since_s=10.0), base + np.array([0.25, 0.0]),
                               rtol=0, atol=1e-12)
    # In the tail: no promotion.
    np.testing.assert_allclose(rrc.latency(*args, radio_since_s=3.0), base, rtol=0, atol=1e-12)


def test_cost_model_charges_the_marginal_promotion_and_tail_energy() -> None:
    plain, rrc = _cost_model(None), _cost_model(PARAMS)
    args = (10e6, 1e6, 0.0)
    base = plain.energy(*args)
    connected = 1.0 * 0.1 + 0.5 * 0.1   # tail power over the server's 0.1 s, reception 0.1 s
    # From idle: a promotion (0.3 J, and 0.25 s of idle device power) and a full tail (10 J).
    idle = rrc.energy(*args)
    np.testing.assert_allclose(idle, base + np.array([0.3 + 0.3 * 0.25 + 10.0 + connected, 0]),
                               rtol=0, atol=1e-12)
    # In the tail, 3 s after the last transfer: the radio stays up those 3 s longer.
    warm = rrc.energy(*args, radio_since_s=3.0)
    np.testing.assert_allclose(warm, base + np.array([1.0 * 3.0 + connected, 0]),
                               rtol=0, atol=1e-12)


def test_an_energy_policy_keeps_sporadic_work_local_when_the_tail_is_counted() -> None:
    # Offloading costs 0.2 J to send, computing locally 2 J: without RRC the policy
    # offloads; from an idle radio the promotion and tail (10.3 J) make local cheaper.
    model = InlineModel(input_bytes=125000, result_bytes=12500, blocks=[
        {"name": "work", "flops": 1e9, "output_bytes": 0}]).to_profile()
    obs = Observation(now_s=100.0, device=0, request=0, uplink_rate_bps=10e6,
                      downlink_rate_bps=1e6, rtt_s=0.0, server_backlog_s=0.0, device_queue=0,
                      deadline_s=None)
    chosen = {}
    for name, rrc in [("plain", None), ("rrc", PARAMS)]:
        sysm = SystemModel.build(model, device_speed=1e9, server_speed=10e9, server_workers=1,
                                 compute_power_w=2.0, idle_power_w=0.0,
                                 radio=RadioPower(0.0, 2.0), rtt_s=0.0, rrc=rrc)
        cls = resolve("neurosurgeon")
        policy = cls(cls.Params(objective="energy"))
        policy.prepare(sysm, np.random.default_rng(0))
        chosen[name] = policy.decide(obs).split
        if rrc is not None:  # just after a transfer the radio is warm: offloading wins again
            chosen["warm"] = policy.decide(dataclasses.replace(obs, radio_since_s=0.5)).split
    assert chosen == {"plain": 0, "rrc": 1, "warm": 0}


@pytest.mark.parametrize("tail", ["0.7 s", "11.576 s"])
def test_the_oracle_foresees_the_promotion_exactly(scenario_file, tail) -> None:
    # The oracle's exactness check (tests/test_schedulers_oracle.py) with an LTE radio:
    # frames 1 s apart, a tail shorter (some offloads find the radio idle) or longer.
    from test_schedulers_oracle import WORLD, RecordingOracle
    rrc = f"rrc: {{preset: lte, tail: {tail}}}"
    path = scenario_file(WORLD.replace("ARRIVALS", "periodic, rate: 1/s")
                         .replace("BACKGROUND", "")
                         .replace("b: 1.288 W}}", f"b: 1.288 W}}, {rrc}}}"))
    RecordingOracle.predicted = {}
    result = replicate(path, "scheduler.policy=test_schedulers_oracle:RecordingOracle",
                       "scheduler.exits=none", "devices.0.compute.speed=10 GFLOPS")
    rec = result.records
    predicted = np.array([RecordingOracle.predicted[r] for r in rec["request"]])
    np.testing.assert_allclose(rec["latency_s"] - rec["device_wait_s"], predicted,
                               rtol=1e-9, atol=1e-12)
    assert result.devices[0]["promotions"] > (100 if tail == "0.7 s" else 0)
