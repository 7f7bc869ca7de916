"""analysis.compare: regret against the hindsight oracle and decision counts.

The synthetic run directory here has a grid of named cases × policies, with
per-replication numbers chosen by hand, so every regret, interval and count
can be checked against arithmetic done in the test.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as st

import analysis
from analysis.compare import decision_counts, decision_table, regret_vs_oracle
from analysis.load import SUMMARY_METRICS
from analysis.plots import plot_run
from analysis.report import write_report

CASES = ["windy", "calm"]  # deliberately not alphabetical
POLICIES = ["server-only", "dynamic-split", "oracle"]
REPS = 4
# Oracle per case and replication (latency s, energy J); replication noise shared (CRN).
ORACLE_LAT = {"windy": [0.050, 0.060, 0.055, 0.045], "calm": [0.020, 0.025, 0.022, 0.018]}
ORACLE_EN = {"windy": [0.10, 0.11, 0.12, 0.09], "calm": [0.05, 0.06, 0.05, 0.04]}
# Policy minus oracle per replication: the paired differences the table must recover.
DIFF_LAT = {("server-only", "windy"): [0.010, 0.012, 0.008, 0.010],
            ("server-only", "calm"): [0.002, 0.003, 0.001, 0.002],
            ("dynamic-split", "windy"): [0.004, 0.006, 0.005, 0.005],
            ("dynamic-split", "calm"): [0.000, 0.001, -0.001, 0.000]}
DIFF_EN = {("server-only", "windy"): [-0.02, -0.01, -0.03, -0.02],
           ("server-only", "calm"): [-0.01, -0.01, -0.02, -0.00],
           ("dynamic-split", "windy"): [0.01, 0.02, 0.01, 0.02],
           ("dynamic-split", "calm"): [0.00, 0.01, 0.00, 0.01]}
# Per policy, per replication: (split, exit) of each of 5 requests (the same in every case).
DECISIONS = {"server-only": [(0, -1)] * 5,
             "dynamic-split": [(0, -1), (3, 3), (3, -1), (5, 5), (0, -1)],
             "oracle": [(3, 3), (3, 3), (5, -1), (8, -1), (0, -1)]}


def _summary() -> pd.DataFrame:
    rows = []
    for case in CASES:
        for policy in POLICIES:
            for r in range(REPS):
                lat, en = ORACLE_LAT[case][r], ORACLE_EN[case][r]
                if policy != "oracle":
                    lat += DIFF_LAT[(policy, case)][r]
                    en += DIFF_EN[(policy, case)][r]
                row = {m: 0.5 for m in SUMMARY_METRICS}
                stages = np.array([0.1, 0.3, 0.2, 0.1, 0.2, 0.1]) * lat
                row.update({"case": case, "scheduler.policy": policy, "replication": r,
                            "seed": 11, "requests": 10, "latency_mean_s": lat,
                            "latency_p50_s": lat, "latency_p95_s": 2 * lat,
                            "latency_p99_s": 3 * lat, "device_energy_mean_j": en,
                            "accuracy": 0.9, "throughput_per_s": 5.0,
                            "split_mean": 2.0, "deadline_miss_rate": float("nan")})
                row.update(dict(zip(["device_wait_mean_s", "device_compute_mean_s",
                                     "uplink_mean_s", "server_wait_mean_s",
                                     "server_service_mean_s", "downlink_mean_s"], stages,
                                    strict=True)))
                rows.append(row)
    return pd.DataFrame(rows)[["case", "scheduler.policy", "replication", "seed",
                               *SUMMARY_METRICS]]


def _requests() -> pd.DataFrame:
    rows = []
    for case in CASES:
        for policy in POLICIES:
            for r in range(REPS):
                for i, (split, exit_) in enumerate(DECISIONS[policy]):
                    rows.append({"case": case, "scheduler.policy": policy, "replication": r,
                                 "request": i, "device": 0, "arrival_s": 0.2 * i + 0.01 * r,
                                 "split": split, "exit": exit_, "latency_s": 0.05 + 0.01 * i,
                                 "device_wait_s": 0.0, "device_compute_s": 0.01,
                                 "uplink_s": 0.02, "server_wait_s": 0.0,
                                 "server_service_s": 0.01, "downlink_s": 0.01 + 0.01 * i,
                                 "energy_j": 0.1, "bytes_up": 1e4, "correct": True,
                                 "uplink_rate_bps": 1e7 * (1 + i % 2), "seed": 11})
    return pd.DataFrame(rows)


def _run_dir(root: Path, policies: list[str] = POLICIES, requests: bool = True,
             sweep_keys_in_manifest: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    scenario = {"name": "regret", "seed": 11, "replications": REPS,
                "horizon": {"requests": 10, "warmup": 0},
                "scheduler": {"policy": "dynamic-split"},
                "sweep": {"scheduler.policy": policies},
                "cases": {"windy": {"channel.uplink.rate": "2 Mbps"}, "calm": {}}}
    (root / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    summary = _summary()
    summary = summary[summary["scheduler.policy"].isin(policies)]
    summary.to_parquet(root / "summary.parquet", index=False)
    if requests:
        req = _requests()
        req[req["scheduler.policy"].isin(policies)].to_parquet(root / "requests.parquet",
                                                               index=False)
    manifest: dict[str, object] = {"version": "0.1.0", "seed": 11}
    if sweep_keys_in_manifest:
        manifest["sweep_keys"] = ["case", "scheduler.policy"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def _paired_t(d: list[float]) -> tuple[float, float]:
    d_arr = np.asarray(d)
    hw = st.t.ppf(0.975, len(d) - 1) * d_arr.std(ddof=1) / math.sqrt(len(d))
    return float(d_arr.mean()), float(hw)


# ------------------------------------------------------------------ regret


def test_regret_is_the_paired_difference_to_the_oracle_per_case(tmp_path):
    run = analysis.load(_run_dir(tmp_path / "run"))
    assert run.sweep_keys == ["case", "scheduler.policy"]
    table = regret_vs_oracle(run.summary, run.sweep_keys)
    # 2 cases × 2 policies (the oracle is the reference) × 2 metrics, in grid order.
    assert len(table) == 8
    assert list(table["case"].astype(str).unique()) == CASES
    assert "oracle" not in set(table["policy"])
    for metric, diffs, oracle in (("latency_mean_s", DIFF_LAT, ORACLE_LAT),
                                  ("device_energy_mean_j", DIFF_EN, ORACLE_EN)):
        for (policy, case), d in diffs.items():
            row = table[(table["policy"] == policy) & (table["case"] == case)
                        & (table["metric"] == metric)]
            assert len(row) == 1
            row = row.iloc[0]
            mean, hw = _paired_t(d)
            assert row["regret"] == pytest.approx(mean, abs=1e-12)
            assert row["half_width"] == pytest.approx(hw, rel=1e-9, abs=1e-12)
            assert row["ci_low"] == pytest.approx(mean - hw, abs=1e-12)
            assert row["n"] == REPS
            o = float(np.mean(oracle[case]))
            assert row["oracle_mean"] == pytest.approx(o)
            assert row["policy_mean"] == pytest.approx(o + mean)
            assert row["relative_regret"] == pytest.approx(mean / o)
            # Common random numbers: the oracle's replication noise cancels in the pairs.
            assert row["half_width"] < row["unpaired_half_width"]


def test_regret_is_empty_without_an_oracle(tmp_path):
    run = analysis.load(_run_dir(tmp_path / "run", policies=["server-only", "dynamic-split"]))
    assert regret_vs_oracle(run.summary, run.sweep_keys).empty
    names = {Path(p).stem for p in plot_run(run.path)}
    assert "regret_vs_oracle" not in names
    page = write_report(run.path).read_text(encoding="utf-8")
    assert 'id="regret"' not in page and 'id="paired"' in page


def test_regret_figure_and_csv_are_written_with_the_oracle_named_a_bound(tmp_path):
    run_dir = _run_dir(tmp_path / "run")
    paths = plot_run(run_dir)
    assert run_dir / "plots" / "regret_vs_oracle.png" in paths
    png = (run_dir / "plots" / "regret_vs_oracle.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert b"hindsight lower bound" in png  # the caption is the PNG's Description
    data = pd.read_csv(run_dir / "plots" / "regret_vs_oracle.csv")
    run = analysis.load(run_dir)
    expected = regret_vs_oracle(run.summary, run.sweep_keys)
    assert list(data.columns) == list(expected.columns)
    assert data["regret"].to_numpy() == pytest.approx(expected["regret"].to_numpy())
    assert data["half_width"].to_numpy() == pytest.approx(expected["half_width"].to_numpy())
    d = DIFF_LAT[("server-only", "windy")]
    row = data[(data["case"] == "windy") & (data["policy"] == "server-only")
               & (data["metric"] == "latency_mean_s")].iloc[0]
    assert row["regret"] == pytest.approx(np.mean(d))


def test_report_shows_the_regret_table(tmp_path):
    page = write_report(_run_dir(tmp_path / "run")).read_text(encoding="utf-8")
    start = page.index('id="regret"')
    section = page[start: page.index("<h2", start + 1)]
    assert "hindsight lower bound" in section
    assert section.count("<tr>") == 1 + 8
    # server-only, windy, latency: 10.0 ± t·s/√n ms, the paired-t interval.
    mean, hw = _paired_t(DIFF_LAT[("server-only", "windy")])
    digits = max(0, 1 - math.floor(math.log10(hw * 1e3)))
    assert f"{mean * 1e3:.{digits}f} ± {hw * 1e3:.{digits}f} ms" in section
    assert 'href="#regret"' in page


# ---------------------------------------------------------------- decisions


def test_decision_counts_match_a_hand_count(tmp_path):
    run = analysis.load(_run_dir(tmp_path / "run"))
    assert run.requests is not None
    counts = decision_counts(run.requests, run.sweep_keys)
    # Per grid point: 5 requests × 4 replications = 20.
    assert set(counts["total"]) == {20}
    got = {(r["case"], r["scheduler.policy"], r["decision"], r["block"]): r["count"]
           for _, r in counts.iterrows()}
    for case in CASES:
        # dynamic-split chose split 0 twice, 3 twice and 5 once per replication.
        assert got[(case, "dynamic-split", "split", 0)] == 2 * REPS
        assert got[(case, "dynamic-split", "split", 3)] == 2 * REPS
        assert got[(case, "dynamic-split", "split", 5)] == 1 * REPS
        assert got[(case, "dynamic-split", "exit", 3)] == 1 * REPS
        assert got[(case, "dynamic-split", "exit", 5)] == 1 * REPS
        assert got[(case, "dynamic-split", "exit", -1)] == 3 * REPS
        assert got[(case, "server-only", "split", 0)] == 5 * REPS
        assert got[(case, "server-only", "exit", -1)] == 5 * REPS
        assert got[(case, "oracle", "split", 8)] == 1 * REPS
        assert got[(case, "oracle", "exit", 3)] == 2 * REPS
    # Nothing invented: only blocks that were chosen, and every request counted once.
    assert (counts["count"] > 0).all()
    assert counts.groupby(["case", "scheduler.policy", "decision"])["count"].sum().eq(20).all()
    assert counts.groupby(["case", "scheduler.policy", "decision"])["fraction"].sum() \
        .to_numpy() == pytest.approx(1.0)
    # Grid order follows the scenario (cases windy, calm; policies as swept).
    assert list(dict.fromkeys(counts["case"])) == CASES
    assert list(dict.fromkeys(counts["scheduler.policy"])) == POLICIES


def test_decision_table_has_one_row_per_point_and_a_column_per_block(tmp_path):
    run = analysis.load(_run_dir(tmp_path / "run"))
    assert run.requests is not None
    wide = decision_table(decision_counts(run.requests, run.sweep_keys), run.sweep_keys)
    assert list(wide.columns) == ["case", "scheduler.policy", "requests", "split 0", "split 3",
                                  "split 5", "split 8", "exit 3", "exit 5", "no exit"]
    assert len(wide) == len(CASES) * len(POLICIES)
    row = wide[(wide["case"] == "calm") & (wide["scheduler.policy"] == "oracle")].iloc[0]
    assert row["requests"] == 20
    assert [row[c] for c in ("split 0", "split 3", "split 5", "split 8")] == \
        pytest.approx([0.2, 0.4, 0.2, 0.2])
    assert [row[c] for c in ("exit 3", "exit 5", "no exit")] == pytest.approx([0.4, 0.0, 0.6])
    # Pooled over the whole run when no key is given.
    pooled = decision_table(decision_counts(run.requests, []), [])
    assert pooled["requests"].tolist() == [len(run.requests)]


def test_decision_counts_are_written_and_reported(tmp_path):
    run_dir = _run_dir(tmp_path / "run")
    plot_run(run_dir)
    data = pd.read_csv(run_dir / "plots" / "decision_counts.csv")
    assert list(data.columns) == ["case", "scheduler.policy", "decision", "block", "count",
                                  "total", "fraction"]
    sel = data[(data["case"] == "windy") & (data["scheduler.policy"] == "dynamic-split")
               & (data["decision"] == "split")]
    assert dict(zip(sel["block"], sel["count"], strict=True)) == {0: 8, 3: 8, 5: 4}
    # The split histogram (policy panels, cases side by side) shows the same split counts.
    hist = pd.read_csv(run_dir / "plots" / "split_histogram.csv")
    splits = data[data["decision"] == "split"].set_index(["scheduler.policy", "case", "block"])
    assert hist.set_index(["scheduler.policy", "case", "split"])["count"].sort_index() \
        .to_dict() == splits["count"].sort_index().to_dict()
    page = write_report(run_dir).read_text(encoding="utf-8")
    start = page.index('id="decisions"')
    section = page[start: page.index("<h2", start + 1)]
    assert section.count("<tr>") == 1 + len(CASES) * len(POLICIES)
    assert re.search(r"dynamic-split</td><td>20</td><td>40\.0%</td><td>40\.0%</td>"
                     r"<td>20\.0%</td>", section)


def test_no_decisions_without_requests(tmp_path):
    run_dir = _run_dir(tmp_path / "run", requests=False)
    plot_run(run_dir)
    assert not (run_dir / "plots" / "decision_counts.csv").exists()
    assert 'id="decisions"' not in write_report(run_dir).read_text(encoding="utf-8")
