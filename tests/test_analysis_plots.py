"""analysis.plots: the right figures for a run, and each plots exactly its data.

Every figure is written with a CSV of the numbers it draws; these tests
recompute those numbers from the raw parquet files, independently of
analysis.stats, and compare.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

import analysis
from analysis.plots import (
    CLAIRVOYANT_LABELS,
    accuracy_latency_tradeoff,
    build_figures,
    latency_energy_tradeoff,
    plot_run,
)

try:
    from test_analysis_load import POLICIES, VARIANTS, make_run_dir
except ImportError:  # tests/ collected as a package
    from tests.test_analysis_load import POLICIES, VARIANTS, make_run_dir

KEYS = ["scheduler.policy", "model.variant"]
RATE_SWEEP = {"scheduler.policy": ["server-only", "dynamic-split"],
              "channel.uplink.rate": ["5 Mbps", "20 Mbps", "10 Mbps"]}
REPS = 4


@pytest.fixture(scope="module")
def ref_run(tmp_path_factory) -> Path:
    """The DESIGN §8 sweep (policy × variant), with requests, plotted once."""
    run_dir = make_run_dir(tmp_path_factory.mktemp("ref") / "run", replications=REPS,
                           per_run=40)
    plot_run(run_dir)
    return run_dir


@pytest.fixture(scope="module")
def rate_run(tmp_path_factory) -> Path:
    """A numeric sweep written with units, no requests saved, plotted once."""
    run_dir = make_run_dir(tmp_path_factory.mktemp("rate") / "run", sweep=RATE_SWEEP,
                           replications=REPS, requests=False)
    plot_run(run_dir)
    return run_dir


def _csv(run_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(run_dir / "plots" / f"{name}.csv")


def _t_ci(x: pd.Series) -> tuple[float, float, float]:
    low, high = st.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=st.sem(x))
    return x.mean(), low, high


def test_default_set_for_a_policy_variant_sweep_with_requests(ref_run):
    names = sorted(p.stem for p in (ref_run / "plots").glob("*.png"))
    assert names == sorted(["latency_breakdown", "tradeoff_latency_energy",
                            "tradeoff_accuracy_latency", "metrics_by_point", "latency_cdf",
                            "split_over_time", "split_histogram", "regret_vs_oracle"])
    for name in names:
        png = (ref_run / "plots" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 20_000
        assert (ref_run / "plots" / f"{name}.csv").stat().st_size > 0


def test_writes_leave_no_temporary_files(ref_run):
    assert not [p for p in (ref_run / "plots").iterdir() if p.name.startswith(".")]


def test_latency_energy_points_equal_the_summary_means_and_t_intervals(ref_run):
    data = _csv(ref_run, "tradeoff_latency_energy")
    raw = pd.read_parquet(ref_run / "summary.parquet")
    assert len(data) == len(POLICIES) * len(VARIANTS)
    for _, row in data.iterrows():
        sel = raw[(raw["scheduler.policy"] == row["scheduler.policy"])
                  & (raw["model.variant"] == row["model.variant"])]
        for metric in ("latency_mean_s", "device_energy_mean_j"):
            mean, low, high = _t_ci(sel[metric])
            assert row[f"{metric}_mean"] == pytest.approx(mean)
            assert row[f"{metric}_ci_low"] == pytest.approx(low)
            assert row[f"{metric}_ci_high"] == pytest.approx(high)
        assert row["n"] == REPS


def test_latency_energy_front_is_the_non_dominated_set(ref_run):
    data = _csv(ref_run, "tradeoff_latency_energy")
    x, y = data["latency_mean_s_mean"].to_numpy(), data["device_energy_mean_j_mean"].to_numpy()
    expected = [not ((x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))).any()
                for i in range(len(data))]
    assert data["pareto"].tolist() == expected
    # The synthetic oracle on the sparse model is both fastest and cheapest-but-one.
    front = data[data["pareto"]]
    assert ("oracle", "sparse-75") in set(zip(front["scheduler.policy"],
                                              front["model.variant"], strict=True))


def test_breakdown_stages_equal_summary_means_and_add_up_to_latency(ref_run):
    data = _csv(ref_run, "latency_breakdown")
    raw = pd.read_parquet(ref_run / "summary.parquet")
    means = raw.groupby(KEYS).mean(numeric_only=True)
    stages = [c for c in data.columns if c.endswith("_mean_s_mean") and c != "latency_mean_s_mean"]
    assert len(stages) == 6
    for _, row in data.iterrows():
        point = (row["scheduler.policy"], row["model.variant"])
        for col in stages:
            assert row[col] == pytest.approx(means.loc[point, col.removesuffix("_mean")])
        assert sum(row[c] for c in stages) == pytest.approx(row["latency_mean_s_mean"])


def test_latency_cdf_points_lie_on_the_empirical_cdf_of_the_requests(ref_run):
    data = _csv(ref_run, "latency_cdf")
    req = pd.read_parquet(ref_run / "requests.parquet")
    assert len(data.groupby(KEYS)) == len(POLICIES) * len(VARIANTS)
    for (policy, variant), part in data.groupby(KEYS):
        lat = np.sort(req[(req["scheduler.policy"] == policy)
                          & (req["model.variant"] == variant)]["latency_s"].to_numpy())
        ecdf = np.searchsorted(lat, part["latency_s"].to_numpy(), side="right") / lat.size
        assert part["cdf"].to_numpy() == pytest.approx(ecdf)
        assert part["cdf"].iloc[-1] == 1.0 and part["latency_s"].iloc[-1] == lat[-1]


def test_split_histogram_counts_every_request_once(ref_run):
    data = _csv(ref_run, "split_histogram")
    req = pd.read_parquet(ref_run / "requests.parquet")
    expected = req.groupby([*KEYS, "split"]).size()
    got = data.set_index([*KEYS, "split"])["count"]
    assert got.sort_index().to_dict() == expected[expected > 0].sort_index().to_dict()
    assert data.groupby(KEYS)["fraction"].sum().to_numpy() == pytest.approx(1.0)


def test_split_over_time_shows_one_replication_of_the_policies_that_react(ref_run):
    data = _csv(ref_run, "split_over_time")
    req = pd.read_parquet(ref_run / "requests.parquet")
    assert set(data["replication"]) == {0}
    # device-only and server-only never change their split, so they are left out.
    assert set(data["scheduler.policy"]) == {"dynamic-split", "oracle"}
    merged = data.merge(req, on=[*KEYS, "replication", "request"], suffixes=("", "_raw"))
    assert len(merged) == len(data)
    assert (merged["split"] == merged["split_raw"]).all()
    assert merged["uplink_rate_bps"].tolist() == merged["uplink_rate_bps_raw"].tolist()


def test_numeric_sweep_gets_metric_lines_in_value_order(rate_run):
    names = sorted(p.stem for p in (rate_run / "plots").glob("*.png"))
    assert "metrics_vs_channel_uplink_rate" in names
    assert not {"latency_cdf", "split_histogram", "split_over_time"} & set(names)
    data = _csv(rate_run, "metrics_vs_channel_uplink_rate")
    raw = pd.read_parquet(rate_run / "summary.parquet")
    lat = data[data["metric"] == "latency_mean_s"]
    for _, row in lat.iterrows():
        sel = raw[(raw["scheduler.policy"] == row["scheduler.policy"])
                  & (raw["channel.uplink.rate"] == row["channel.uplink.rate"])]
        mean, low, high = _t_ci(sel["latency_mean_s"])
        assert (row["mean"], row["ci_low"], row["ci_high"]) == (
            pytest.approx(mean), pytest.approx(low), pytest.approx(high))
        assert row["channel.uplink.rate [numeric]"] == float(row["channel.uplink.rate"].split()[0])
    # Metrics equal at every point (throughput, deadline misses here) are not drawn.
    assert "throughput_per_s" not in set(data["metric"])


def test_accuracy_latency_joins_points_along_a_swept_exit_threshold(tmp_path):
    sweep = {"scheduler.policy": ["dynamic-split", "oracle"],
             "scheduler.threshold": [0.9, 0.5, 0.7]}
    run_dir = make_run_dir(tmp_path / "run", sweep=sweep, replications=3, requests=False)
    result = accuracy_latency_tradeoff(analysis.load(run_dir))
    assert "Lines join the values of scheduler.threshold" in result.caption
    labels = sorted(t.get_text() for t in result.figure.axes[0].texts)
    assert labels == ["0.5", "0.5", "0.7", "0.7", "0.9", "0.9"]
    data = result.data
    ax = result.figure.axes[0]
    curves = [line for line in ax.lines if line.get_gid() == "along-scheduler.threshold"]
    assert len(curves) == 2  # one per policy
    for line in curves:
        xs = list(line.get_xdata())
        match = data[data["latency_mean_s_mean"].isin(xs)].copy()
        assert match["scheduler.policy"].nunique() == 1
        by_threshold = match.sort_values("scheduler.threshold")["latency_mean_s_mean"]
        assert xs == by_threshold.tolist()  # drawn in threshold order 0.5, 0.7, 0.9


def test_run_without_sweep_still_gets_breakdown_and_distributions(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", sweep={}, replications=3, per_run=30)
    names = sorted(p.stem for p in plot_run(run_dir))
    assert names == ["latency_breakdown", "latency_cdf", "split_histogram", "split_over_time"]
    data = _csv(run_dir, "latency_breakdown")
    raw = pd.read_parquet(run_dir / "summary.parquet")
    assert data["latency_mean_s_mean"].iloc[0] == pytest.approx(raw["latency_mean_s"].mean())


def test_x_and_y_ask_for_a_single_figure(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", replications=3, requests=False)
    paths = plot_run(run_dir, x="latency_p95_s", y="accuracy", hue="model.variant", fmt="svg")
    assert [p.name for p in paths] == ["scatter_accuracy_vs_latency_p95_s.svg"]
    assert paths[0].read_text().lstrip().startswith("<?xml")
    data = _csv(run_dir, "scatter_accuracy_vs_latency_p95_s")
    assert {"latency_p95_s_mean", "accuracy_mean", "pareto"} <= set(data.columns)
    paths = plot_run(run_dir, x="model.variant", y="device_energy_mean_j", fmt="pdf")
    assert paths[0].read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"y": "latency"}, "--y must be a metric"),
    ({"x": "bandwidth"}, "--x must be"),
    ({"hue": "accuracy"}, "--hue must be a sweep key"),
    ({"fmt": "jpg"}, "format must be one of"),
])
def test_bad_arguments_are_value_errors_naming_the_choices(tmp_path, kwargs, message):
    run_dir = make_run_dir(tmp_path / "run", replications=2, requests=False)
    with pytest.raises(ValueError, match=message):
        plot_run(run_dir, **kwargs)


def test_figures_have_unit_labels_a_legend_and_a_caption_with_the_run(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", replications=3, requests=False)
    before = dict(mpl.rcParams)
    result = latency_energy_tradeoff(analysis.load(run_dir))
    ax = result.figure.axes[0]
    assert ax.get_xlabel() == "Mean latency (ms)"
    assert ax.get_ylabel() == "Device energy per request (mJ)"
    labels = [t.get_text() for t in result.figure.legends[0].get_texts()]
    shown = [CLAIRVOYANT_LABELS.get(p, p) for p in POLICIES]  # the oracle says it is a bound
    assert {"policy", *shown, "variant", *VARIANTS, "Pareto front"} <= set(labels)
    assert "oracle (hindsight lower bound)" in labels
    assert "Scenario 'synthetic', 3 replications per sweep point" in result.caption
    drawn = next(line for line in ax.lines if line.get_gid() == "pareto-front")
    front = result.data[result.data["pareto"]].sort_values("latency_mean_s_mean")
    assert list(drawn.get_xdata()) == front["latency_mean_s_mean"].tolist()
    assert list(drawn.get_ydata()) == front["device_energy_mean_j_mean"].tolist()
    assert dict(mpl.rcParams) == before  # styling is scoped, nothing global changes


def test_hue_override_changes_the_legend(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", replications=2, requests=False)
    figs = build_figures(analysis.load(run_dir), hue="model.variant")
    trade = next(f for f in figs if f.name == "tradeoff_latency_energy")
    labels = [t.get_text() for t in trade.figure.legends[0].get_texts()]
    assert labels[:3] == ["variant", *VARIANTS]


def test_analysis_never_imports_the_simulator():
    code = ("import sys, analysis, analysis.plots, analysis.report, analysis.stats; "
            "bad = [m for m in sys.modules if m == 'simulator' or m.startswith('simulator.')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
    root = Path(__file__).resolve().parents[1] / "analysis"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import simulator" not in text and "from simulator" not in text, path
