"""Rate estimators and the stale backlog report: what a device believes when it decides."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest
from conftest import replicate

from simulator.channel import ConstantLink
from simulator.estimators import BacklogHistory, RateEstimator
from simulator.schedulers import Decision, Scheduler


def test_harmonic_mean_of_the_last_k_transfers_by_hand() -> None:
    est = RateEstimator("harmonic", ConstantLink(17e6), window=2)
    assert est.estimate(0.0) == 17e6  # no transfer yet: the link's long-run mean
    est.observe(10e6)
    assert est.estimate(1.0) == pytest.approx(10e6)
    est.observe(40e6)
    assert est.estimate(2.0) == pytest.approx(2 / (1 / 10e6 + 1 / 40e6))  # 16 Mbit/s
    est.observe(20e6)  # the 10 Mbit/s sample leaves the window of k = 2
    assert est.estimate(3.0) == pytest.approx(2 / (1 / 40e6 + 1 / 20e6))  # 26.67 Mbit/s


def test_harmonic_mean_is_pulled_down_by_one_slow_transfer_more_than_up_by_a_fast_one() -> None:
    # The reason MPC streaming uses it (Yin et al., SIGCOMM 2015): robust to outliers up.
    est = RateEstimator("harmonic", ConstantLink(10e6), window=3)
    for r in (10e6, 10e6, 100e6):
        est.observe(r)
    up = est.estimate(0.0)
    est = RateEstimator("harmonic", ConstantLink(10e6), window=3)
    for r in (10e6, 10e6, 1e6):
        est.observe(r)
    down = est.estimate(0.0)
    assert up - 10e6 < 10e6 - down
    assert up == pytest.approx(3 / (2 / 10e6 + 1 / 100e6))


def test_last_and_ewma_by_hand() -> None:
    last = RateEstimator("last", ConstantLink(5e6))
    ewma = RateEstimator("ewma", ConstantLink(5e6), alpha=0.25)
    for r in (8e6, 2e6):
        last.observe(r)
        ewma.observe(r)
    assert last.estimate(0.0) == 2e6
    assert ewma.estimate(0.0) == pytest.approx(0.25 * 2e6 + 0.75 * (0.25 * 8e6 + 0.75 * 5e6))


def test_oracle_reads_the_true_rate_and_ignores_measurements() -> None:
    est = RateEstimator("oracle", ConstantLink(7e6))
    est.observe(1.0)
    assert est.estimate(3.0) == 7e6


def test_bad_estimator_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown estimator"):
        RateEstimator("median", ConstantLink(1e6))
    with pytest.raises(ValueError, match="window"):
        RateEstimator("harmonic", ConstantLink(1e6), window=0)


def test_backlog_history_reports_the_state_delay_seconds_ago() -> None:
    # One worker.  At t=1 a 0.5 s job starts (ends at 1.5) and a 0.2 s job queues;
    # at t=1.5 the second starts (ends 1.7); at 1.7 the server is empty.
    h = BacklogHistory(delay_s=0.3, n_workers=1)
    h.record(1.0, 0.0, 1.5, 1)      # job A in service
    h.record(1.0, 0.2, 1.5, 1)      # job B queued
    h.record(1.5, 0.0, 1.7, 1)      # B in service
    h.record(1.7, 0.0, 0.0, 0)      # empty
    assert h.reported(0.5) == 0.0                          # before anything happened
    assert h.reported(1.3) == pytest.approx(0.2 + 0.5)    # as at t=1.0: A's 0.5 s + B
    assert h.reported(1.6) == pytest.approx(0.2 + 0.2)    # as at t=1.3: 0.2 of A left + B
    assert h.reported(1.9) == pytest.approx(0.1)          # as at t=1.6: 0.1 of B left
    assert h.reported(2.5) == 0.0
    assert len(h.samples) == 1                            # old snapshots were dropped


class Spy(Scheduler):
    """Server-only, remembering every observation (a plug-in for the engine)."""

    seen: ClassVar[list] = []

    def decide(self, obs) -> Decision:
        Spy.seen.append(obs)
        return Decision(split=0)


# Frames every 100 ms, a deterministic 60 ms server job each, nothing else: at a frame's
# start the previous job finished 40 ms ago; 70 ms earlier it had 30 ms of work left.
STALE = """\
name: stale
seed: 1
replications: 1
horizon: {requests: 50, warmup: 0}
model: {input_bytes: 0, blocks: [{name: w, flops: 60 MFLOP, output_bytes: 0}]}
devices: [{name: d, compute: {speed: 1 TFLOPS},
           workload: {arrivals: periodic, rate: 10/s, phase: zero}}]
channel: {uplink: {model: ideal}, downlink: {model: ideal}, rtt: 0 s}
server: {workers: 1, compute: {speed: 1 GFLOPS}}
scheduler: {policy: "test_estimators:Spy"}
"""


@pytest.mark.parametrize(("delay", "expected"), [("0 s", 0.0), ("70 ms", 0.03),
                                                   ("50 ms", 0.01), ("130 ms", 0.0)])
def test_a_device_sees_the_server_backlog_as_it_was_backlog_delay_ago(
        scenario_file, delay, expected) -> None:
    Spy.seen = []
    replicate(scenario_file(STALE), f"scheduler.backlog_delay={delay}")
    reported = [o.server_backlog_s for o in Spy.seen[2:]]
    assert reported == pytest.approx([expected] * len(reported), abs=1e-9)


def test_staleness_never_peeks_ahead(scenario_file) -> None:
    # With a delay longer than the run, every report is the empty server at the start.
    Spy.seen = []
    replicate(scenario_file(STALE), "scheduler.backlog_delay=1 h")
    assert all(o.server_backlog_s == 0.0 for o in Spy.seen)
    assert not math.isnan(Spy.seen[-1].waited_s)
