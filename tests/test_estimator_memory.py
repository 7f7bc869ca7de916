"""A learned rate estimate fades back to the link's long-run mean (estimator.memory)."""

from __future__ import annotations

import math

import pytest

from simulator.channel import ConstantLink, IdealLink
from simulator.estimators import RateEstimator


def test_estimate_decays_to_the_prior_with_the_memory_time_constant() -> None:
    est = RateEstimator("last", ConstantLink(10e6), memory_s=4.0)
    est.observe(2e6, now_s=1.0)
    assert est.estimate(1.0) == pytest.approx(2e6)
    # After one time constant: prior + (2 − 10)·e^−1 Mbit/s.
    assert est.estimate(5.0) == pytest.approx(10e6 - 8e6 * math.exp(-1.0))
    assert est.estimate(1e4) == pytest.approx(10e6)


def test_new_measurements_blend_with_the_faded_estimate() -> None:
    est = RateEstimator("ewma", ConstantLink(10e6), alpha=0.5, memory_s=2.0)
    est.observe(2e6, now_s=0.0)           # 0.5·2 + 0.5·10 = 6 Mbit/s
    faded = 10e6 - 4e6 * math.exp(-1.0)  # at t = 2 s
    est.observe(2e6, now_s=2.0)
    assert est.estimate(2.0) == pytest.approx(0.5 * 2e6 + 0.5 * faded)


def test_no_memory_keeps_the_learned_value_for_ever() -> None:
    est = RateEstimator("last", ConstantLink(10e6), memory_s=None)
    est.observe(2e6, now_s=0.0)
    assert est.estimate(1e6) == 2e6


def test_an_ideal_link_has_nothing_to_fade_to() -> None:
    est = RateEstimator("ewma", IdealLink(), memory_s=1.0)
    assert est.estimate(5.0) == math.inf
