"""analysis.load reads a run directory (DESIGN §7, §9) into tidy frames.

This module also holds ``make_run_dir``, the synthetic run directory the other
analysis tests build on: it writes the files ``splitsim run`` writes, with
known numbers, so every figure and table can be checked against them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import analysis
from analysis.load import (
    STAGE_METRICS,
    SUMMARY_METRICS,
    RunDirError,
    grid_keys,
    infer_sweep_keys,
    numeric_axis,
)

POLICIES = ["device-only", "server-only", "dynamic-split", "oracle"]
VARIANTS = ["dense", "sparse-75"]
# Per policy: (mean latency s, energy J, accuracy, offload rate, mean split)
BASE = {
    "device-only": (0.120, 0.36, 0.91, 0.0, 8.0),
    "server-only": (0.080, 0.12, 0.92, 1.0, 0.0),
    "dynamic-split": (0.060, 0.15, 0.915, 0.7, 3.0),
    "oracle": (0.050, 0.14, 0.92, 0.6, 3.5),
}


def _summary_rows(sweep: dict[str, list[Any]], replications: int,
                  rng: np.random.Generator) -> pd.DataFrame:
    """One row per sweep point × replication; replication noise shared (CRN)."""
    keys = list(sweep)
    rep_noise = rng.normal(0.0, 0.010, replications)  # common to all points (CRN)
    rows = []
    grid = pd.MultiIndex.from_product([sweep[k] for k in keys], names=keys) if keys else [()]
    for point in grid:
        point_t = point if isinstance(point, tuple) else (point,)
        p = dict(zip(keys, point_t, strict=True))
        policy = p.get("scheduler.policy", "dynamic-split")
        lat, energy, acc, off, split = BASE[policy]
        if p.get("model.variant") == "sparse-75":
            lat *= 0.8
            energy *= 0.7
            acc -= 0.01
        rate = p.get("channel.uplink.rate")
        if rate is not None:
            lat *= 20.0 / float(str(rate).split()[0]) ** 0.5
        threshold = p.get("scheduler.threshold")
        if threshold is not None:  # a higher exit threshold: fewer, later exits
            lat *= 0.5 + threshold
            acc = 0.80 + 0.15 * threshold
        for r in range(replications):
            latency = lat + rep_noise[r] + rng.normal(0.0, 0.002)
            shares = np.array([0.1, 0.3, 0.25, 0.15, 0.15, 0.05])
            stages = latency * shares
            row = {**p, "replication": r, "seed": 1000 + r, "requests": 500,
                   "latency_mean_s": latency, "latency_p50_s": 0.9 * latency,
                   "latency_p95_s": 1.8 * latency, "latency_p99_s": 2.5 * latency}
            row.update(dict(zip(STAGE_METRICS, stages, strict=True)))
            row.update({"device_energy_mean_j": energy + 2 * rep_noise[r]
                        + rng.normal(0.0, 0.003),
                        "accuracy": acc + rng.normal(0.0, 0.002),
                        "exit_rate": 0.2, "offload_rate": off, "bytes_up_mean": 4e4 * off,
                        "split_mean": split, "deadline_miss_rate": 0.05,
                        "throughput_per_s": 5.0})
            rows.append(row)
    df = pd.DataFrame(rows)
    return df[[*keys, "replication", "seed", *SUMMARY_METRICS]]


def _request_rows(summary: pd.DataFrame, keys: list[str], per_run: int,
                  rng: np.random.Generator) -> pd.DataFrame:
    """Per-request records; the uplink rate path depends on the replication only (CRN)."""
    parts = []
    reps = sorted(summary["replication"].unique())
    arrivals = {r: np.cumsum(rng.exponential(0.2, per_run)) for r in reps}
    rates = {r: np.where((arrivals[r] // 3) % 2 == 0, 2e6, 4e7) for r in reps}
    for _, row in summary.iterrows():
        r = row["replication"]
        policy = row.get("scheduler.policy", "dynamic-split")
        if policy == "device-only":
            split = np.full(per_run, 8)
        elif policy == "server-only":
            split = np.zeros(per_run, dtype=int)
        else:
            split = np.where(rates[r] > 1e7, 1, 5)
        lat = rng.gamma(4.0, row["latency_mean_s"] / 4.0, per_run)
        df = pd.DataFrame({k: row[k] for k in keys} | {
            "replication": r, "request": np.arange(per_run), "device": 0,
            "arrival_s": arrivals[r], "split": split,
            "exit": np.where(rng.random(per_run) < 0.2, 2, -1), "latency_s": lat,
            **{s.replace("_mean", ""): lat / 6 for s in STAGE_METRICS},
            "energy_j": rng.gamma(4.0, row["device_energy_mean_j"] / 4.0, per_run),
            "bytes_up": np.where(split < 8, 4e4, 0.0),
            "correct": rng.random(per_run) < row["accuracy"],
            "uplink_rate_bps": rates[r]})
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def make_run_dir(root: Path, sweep: dict[str, list[Any]] | None = None, replications: int = 5,
                 requests: bool = True, per_run: int = 60, seed: int = 3,
                 manifest: dict[str, Any] | None = None) -> Path:
    """Write a synthetic run directory like ``splitsim run --save-requests`` does.

    Default sweep: the DESIGN §8 reference (4 policies × dense/sparse-75).
    """
    if sweep is None:
        sweep = {"scheduler.policy": POLICIES, "model.variant": VARIANTS}
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    scenario = {"name": "synthetic", "seed": seed, "replications": replications,
                "horizon": {"requests": 500, "warmup": 50},
                "scheduler": {"policy": "dynamic-split"}}
    if sweep:
        scenario["sweep"] = sweep
    (root / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    summary = _summary_rows(sweep, replications, rng)
    summary.to_parquet(root / "summary.parquet", index=False)
    if requests:
        _request_rows(summary, list(sweep), per_run, rng).to_parquet(
            root / "requests.parquet", index=False)
    info = {"version": "0.1.0", "seed": seed, "scenario_hash": "abc123",
            "wall_time_s": 1.5}
    info.update(manifest or {})
    (root / "manifest.json").write_text(json.dumps(info))
    return root


# ------------------------------------------------------------------ tests


def test_load_exposes_summary_requests_scenario_manifest_and_sweep_keys(tmp_path):
    run = analysis.load(make_run_dir(tmp_path / "run"))
    assert run.sweep_keys == ["scheduler.policy", "model.variant"]
    assert len(run.summary) == len(POLICIES) * len(VARIANTS) * 5
    assert run.requests is not None and len(run.requests) == len(run.summary) * 60
    assert run.scenario["name"] == "synthetic" == run.name
    assert run.manifest["scenario_hash"] == "abc123"
    assert run.replications == 5 and run.sweep_points == 8


def test_sweep_values_keep_the_scenario_order_not_alphabetical(tmp_path):
    run = analysis.load(make_run_dir(tmp_path / "run", requests=False))
    assert list(run.summary["scheduler.policy"].cat.categories) == POLICIES
    assert run.summary["scheduler.policy"].iloc[0] == "device-only"


def test_numeric_sweep_with_units_is_ordered_by_value(tmp_path):
    sweep = {"channel.uplink.rate": ["20 Mbps", "5 Mbps", "10 Mbps"]}
    run = analysis.load(make_run_dir(tmp_path / "run", sweep=sweep, requests=False))
    assert list(run.summary["channel.uplink.rate"].cat.categories) == \
        ["5 Mbps", "10 Mbps", "20 Mbps"]


def test_run_without_sweep_has_no_sweep_keys(tmp_path):
    run = analysis.load(make_run_dir(tmp_path / "run", sweep={}, requests=False))
    assert run.sweep_keys == []
    assert run.requests is None
    assert run.sweep_points == 1 and len(run.summary) == 5


def test_missing_summary_is_a_clear_value_error(tmp_path):
    (tmp_path / "scenario.yaml").write_text("name: x\n")
    with pytest.raises(RunDirError, match=r"summary\.parquet"):
        analysis.load(tmp_path)
    with pytest.raises(ValueError, match="not a run directory"):
        analysis.load(tmp_path / "nope")


@pytest.mark.parametrize(("values", "expected", "unit"), [
    ([1, 2, 3], [1.0, 2.0, 3.0], ""),
    (["5 Mbps", "20 Mbps"], [5.0, 20.0], "Mbps"),
    (["500 kbps", "2 Mbps"], [0.5, 2.0], "Mbps"),
    (["40 ms", "0.1 s"], [0.04, 0.1], "s"),
])
def test_numeric_axis_reads_numbers_and_unit_strings(values, expected, unit):
    nums, got_unit = numeric_axis(pd.Series(values, dtype=object))
    assert nums.tolist() == pytest.approx(expected)
    assert got_unit == unit


@pytest.mark.parametrize("values", [["dense", "sparse-75"], [True, False], ["5 W", "2 s"]])
def test_numeric_axis_rejects_categories(values):
    assert numeric_axis(pd.Series(values, dtype=object)) is None


def _grid_run_dir(root: Path, manifest_keys: list[str] | None) -> Path:
    """A run with cases × zip × sweep, as ``splitsim run`` writes it (``case`` first)."""
    root.mkdir(parents=True, exist_ok=True)
    cases = {"urban": {"channel.rtt": "60 ms"}, "rural": {}}  # not alphabetical
    zipped = {"channel.uplink.rate": ["20 Mbps", "5 Mbps"], "server.workers": [1, 4]}
    sweep = {"scheduler.policy": ["server-only", "oracle"]}
    scenario = {"name": "grid", "seed": 1, "replications": 2, "sweep": sweep, "zip": zipped,
                "cases": cases}
    (root / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    rows = []
    for case in cases:
        for i in range(2):
            for policy in sweep["scheduler.policy"]:
                for r in range(2):
                    rows.append({"case": case, "channel.uplink.rate": zipped[
                        "channel.uplink.rate"][i], "server.workers": zipped["server.workers"][i],
                        "scheduler.policy": policy, "replication": r, "seed": 1,
                        **{m: 0.1 for m in SUMMARY_METRICS}})
    pd.DataFrame(rows).to_parquet(root / "summary.parquet", index=False)
    manifest: dict[str, Any] = {"seed": 1}
    if manifest_keys is not None:
        manifest["sweep_keys"] = manifest_keys
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


GRID_KEYS = ["case", "channel.uplink.rate", "server.workers", "scheduler.policy"]


@pytest.mark.parametrize("manifest_keys", [GRID_KEYS, None], ids=["manifest", "scenario"])
def test_grid_keys_include_zip_keys_and_case(tmp_path, manifest_keys):
    run = analysis.load(_grid_run_dir(tmp_path / "run", manifest_keys))
    assert run.sweep_keys == GRID_KEYS
    assert run.sweep_points == 2 * 2 * 2  # cases × zip positions × policies, not a product
    assert list(run.summary["case"].cat.categories) == ["urban", "rural"]
    assert list(run.summary["channel.uplink.rate"].cat.categories) == ["5 Mbps", "20 Mbps"]
    assert run.summary.groupby(run.sweep_keys, observed=True).size().eq(2).all()


def test_manifest_sweep_keys_win_over_the_scenario(tmp_path):
    # A manifest listing a key absent from the summary keeps only the present ones, in its order.
    keys = ["scheduler.policy", "case", "not.a.column"]
    run = analysis.load(_grid_run_dir(tmp_path / "run", keys))
    assert run.sweep_keys == ["scheduler.policy", "case"]


def test_grid_keys_fallback_order_and_bad_manifest():
    scenario = {"sweep": {"a.b": [1, 2]}, "zip": {"c.d": [1], "e.f": [2]}, "cases": {"x": {}}}
    assert grid_keys(scenario) == ["case", "c.d", "e.f", "a.b"]
    assert grid_keys(scenario, {"sweep_keys": []}) == []
    assert grid_keys(scenario, columns=["a.b", "case"]) == ["case", "a.b"]
    with pytest.raises(RunDirError, match="sweep_keys"):
        grid_keys(scenario, {"sweep_keys": "a.b"})
    with pytest.raises(RunDirError, match="zip"):
        grid_keys({"zip": ["c.d"]})


def test_infer_sweep_keys_counts_the_case_column():
    df = pd.DataFrame({"case": ["x"], "scheduler.policy": ["a"], "replication": [0],
                       "latency_mean_s": [0.1]})
    assert infer_sweep_keys(df) == ["case", "scheduler.policy"]
