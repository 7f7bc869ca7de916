"""analysis.stats: Student-t intervals, paired differences (CRN), batch means.

References: Law, *Simulation Modeling and Analysis* 5th ed., §9.4.1 (t
interval), §10.2.1 (paired-t under common random numbers), §9.5.3 (batch
means); White (1997) for MSER.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import signal
from scipy import stats as st

from analysis.stats import (
    batch_means,
    mean_ci,
    mser_truncation,
    paired_difference,
    summarise,
    summarise_wide,
    welch_half_width,
)


def test_mean_ci_matches_hand_computed_example():
    # x = 1..5: mean 3, s = √2.5, t(0.975, 4) = 2.776445 → 2.776445·√2.5/√5 = 1.963243
    mean, hw = mean_ci([1, 2, 3, 4, 5])
    assert mean == 3.0
    assert hw == pytest.approx(1.963243, abs=1e-6)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_mean_ci_matches_scipy_t_interval(confidence):
    x = np.random.default_rng(1).normal(10.0, 2.0, 17)
    low, high = st.t.interval(confidence, len(x) - 1, loc=x.mean(), scale=st.sem(x))
    mean, hw = mean_ci(x, confidence)
    assert mean - hw == pytest.approx(low) and mean + hw == pytest.approx(high)


def test_mean_ci_single_value_has_unknown_half_width():
    mean, hw = mean_ci([0.25])
    assert mean == 0.25 and math.isnan(hw)


def test_mean_ci_ignores_nan_and_handles_empty():
    assert mean_ci([1.0, np.nan, 3.0])[0] == 2.0
    assert all(math.isnan(v) for v in mean_ci([]))
    assert mean_ci([2.0, 2.0, 2.0]) == (2.0, 0.0)


def test_mean_ci_rejects_a_confidence_outside_0_1():
    with pytest.raises(ValueError):
        mean_ci([1, 2], confidence=95)


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for policy in ["a", "b"]:
        for variant in ["dense", "sparse"]:
            for r in range(6):
                rows.append({"scheduler.policy": policy, "model.variant": variant,
                             "replication": r, "latency_mean_s": rng.normal(1, 0.1),
                             "accuracy": np.nan if (policy, r) == ("a", 0) else 0.9})
    return pd.DataFrame(rows)


def test_summarise_gives_mean_and_t_interval_per_sweep_point():
    df = _frame()
    out = summarise(df, ["scheduler.policy", "model.variant"], ["latency_mean_s", "accuracy"])
    assert len(out) == 4 * 2
    row = out[(out["scheduler.policy"] == "b") & (out["model.variant"] == "sparse")
              & (out["metric"] == "latency_mean_s")].iloc[0]
    x = df[(df["scheduler.policy"] == "b") & (df["model.variant"] == "sparse")]["latency_mean_s"]
    low, high = st.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=st.sem(x))
    assert row["mean"] == pytest.approx(x.mean())
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["n"] == 6


def test_summarise_counts_only_finite_replications():
    out = summarise(_frame(), ["scheduler.policy", "model.variant"], ["accuracy"])
    assert out.set_index(["scheduler.policy", "model.variant"])["n"].to_dict() == {
        ("a", "dense"): 5, ("a", "sparse"): 5, ("b", "dense"): 6, ("b", "sparse"): 6}


def test_summarise_without_keys_pools_all_rows():
    df = _frame()
    out = summarise(df, [], ["latency_mean_s"])
    assert len(out) == 1 and out["n"].iloc[0] == len(df)
    assert out["mean"].iloc[0] == pytest.approx(df["latency_mean_s"].mean())


def test_summarise_wide_has_one_row_per_point_and_the_same_numbers():
    df = _frame()
    keys = ["scheduler.policy", "model.variant"]
    wide = summarise_wide(df, keys, ["latency_mean_s", "accuracy"])
    long = summarise(df, keys, ["latency_mean_s"])
    assert len(wide) == 4
    assert wide["latency_mean_s_mean"].tolist() == pytest.approx(long["mean"].tolist())
    assert wide["latency_mean_s_ci_high"].tolist() == pytest.approx(long["ci_high"].tolist())


def _crn_frame(n_rep: int = 10, shared_sd: float = 1.0, own_sd: float = 0.1,
               effect: float = 0.3) -> pd.DataFrame:
    """Two policies whose outputs share a large per-replication term (same channel)."""
    rng = np.random.default_rng(42)
    shared = rng.normal(0.0, shared_sd, n_rep)
    rows = []
    for policy, shift in (("a", effect), ("b", 0.0)):
        for variant in ("dense", "sparse"):
            for r in range(n_rep):
                rows.append({"scheduler.policy": policy, "model.variant": variant,
                             "replication": r,
                             "latency_mean_s": 5 + shift + shared[r] + rng.normal(0, own_sd)})
    return pd.DataFrame(rows)


def test_paired_difference_is_narrower_than_unpaired_under_common_random_numbers():
    df = _crn_frame()
    out = paired_difference(df, "scheduler.policy", "a", "b", "latency_mean_s")
    assert set(out["model.variant"]) == {"dense", "sparse"}
    for _, row in out.iterrows():
        assert row["n"] == 10
        assert row["half_width"] < row["unpaired_half_width"] / 3
        assert row["ci_low"] < 0.3 < row["ci_high"]  # the true effect is covered
        assert row["ci_low"] > 0  # and resolved, which the unpaired interval cannot do
        assert row["mean"] - row["unpaired_half_width"] < 0


def test_paired_difference_matches_scipy_paired_t():
    df = _crn_frame()
    out = paired_difference(df, "scheduler.policy", "a", "b", "latency_mean_s")
    dense = df[df["model.variant"] == "dense"]
    a = dense[dense["scheduler.policy"] == "a"].sort_values("replication")["latency_mean_s"]
    b = dense[dense["scheduler.policy"] == "b"].sort_values("replication")["latency_mean_s"]
    ci = st.ttest_rel(a.to_numpy(), b.to_numpy()).confidence_interval(0.95)
    row = out[out["model.variant"] == "dense"].iloc[0]
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_paired_difference_pairs_only_replications_present_on_both_sides():
    df = _crn_frame()
    df = df[~((df["scheduler.policy"] == "a") & (df["replication"] == 3))]
    out = paired_difference(df, "scheduler.policy", "a", "b", "latency_mean_s",
                            by=["model.variant"])
    assert out["n"].tolist() == [9, 9]


def test_paired_difference_rejects_an_unknown_value():
    with pytest.raises(ValueError, match="no rows"):
        paired_difference(_crn_frame(), "scheduler.policy", "a", "zzz", "latency_mean_s")


def test_welch_half_width_matches_scipy():
    rng = np.random.default_rng(5)
    x, y = rng.normal(0, 1, 8), rng.normal(0, 3, 13)
    ci = st.ttest_ind(x, y, equal_var=False).confidence_interval(0.95)
    assert welch_half_width(x, y) == pytest.approx((ci.high - ci.low) / 2)


def _ar1(phi: float, n: int, rng: np.random.Generator, count: int = 1) -> np.ndarray:
    noise = rng.normal(0.0, 1.0, (count, n))
    return signal.lfilter([1.0], [1.0, -phi], noise, axis=1)


def test_batch_means_covers_the_mean_of_a_correlated_series_where_naive_ci_fails():
    # AR(1) with φ = 0.9 has mean 0 and integrated correlation time (1+φ)/(1−φ) = 19,
    # so the naive s/√N interval is ~√19 ≈ 4.4 times too narrow (Law §9.5.3).
    rng = np.random.default_rng(7)
    series = _ar1(0.9, 10_000, rng, count=300)
    batch_hits = naive_hits = 0
    for x in series:
        bm = batch_means(x, n_batches=20)
        batch_hits += abs(bm.mean) <= bm.half_width
        m, hw = mean_ci(x)
        naive_hits += abs(m) <= hw
    assert 0.90 <= batch_hits / len(series) <= 0.99
    assert naive_hits / len(series) < 0.55


def test_batch_means_drops_the_leading_remainder_and_reports_the_layout():
    x = np.r_[[1000.0] * 3, np.arange(40.0)]
    bm = batch_means(x, n_batches=4)
    assert (bm.n_batches, bm.batch_size, bm.dropped) == (4, 10, 3)
    assert bm.mean == pytest.approx(np.arange(40.0).mean())


def test_batch_means_needs_enough_observations():
    with pytest.raises(ValueError):
        batch_means([1.0, 2.0, 3.0], n_batches=5)


def test_mser_finds_the_end_of_an_initial_transient():
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, 5000)
    x[:500] += np.linspace(8.0, 0.0, 500)  # a queue filling up from empty, say
    d = mser_truncation(x)
    assert 250 <= d <= 600


def test_mser_keeps_a_stationary_series():
    x = np.random.default_rng(4).normal(0.0, 1.0, 5000)
    assert mser_truncation(x) < 500
