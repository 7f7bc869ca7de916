"""Paper reproductions (scenarios/papers/): every scenario validates, and every figure
script regenerates its figure from a tiny run of its scenario."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

import simulator
from simulator.scenario import load_scenario

PAPERS = Path(__file__).resolve().parents[1] / "scenarios" / "papers"
FOLDERS = sorted(p for p in PAPERS.iterdir() if p.is_dir())

# A tiny run per paper: one replication, few requests, a thinner grid where it is big.
TINY = {
    "bakhtiarnia2022_dynamic_split": {
        "horizon.requests": 200, "horizon.warmup": 20,
        "sweep.channel.uplink.rate": ["1 Mbps", "128 Mbps"],
        "sweep.server.background.rate": ["0.001/s", "90/s"]},
    "bajpai2023_splitee": {"horizon.requests": 200},
    "capogrosso2024_sparse": {"horizon.requests": 200, "horizon.warmup": 20},
}


def _figure_module(folder: Path):
    spec = importlib.util.spec_from_file_location(f"figure_{folder.name}", folder / "figure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_paper_folder_is_complete() -> None:
    assert {p.name for p in FOLDERS} == set(TINY)
    for folder in FOLDERS:
        assert (folder / "README.md").is_file(), folder
        assert (folder / "figure.py").is_file(), folder
        assert list(folder.glob("*.yaml")), folder


@pytest.mark.parametrize("path", sorted(PAPERS.rglob("*.yaml")),
                         ids=lambda p: str(p.relative_to(PAPERS)))
def test_paper_scenario_validates_without_warnings(path: Path) -> None:
    assert load_scenario(path).warnings == ()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_figure_regenerates_from_a_tiny_run(folder: Path, tmp_path: Path) -> None:
    (scenario,) = folder.glob("*.yaml")
    run = tmp_path / "run"
    simulator.run(scenario, out=run, replications=1, executor="serial", set=TINY[folder.name],
                  save_requests=True, progress=False)
    out = _figure_module(folder).main([str(run), "--out", str(tmp_path / "fig.png")])
    assert out == tmp_path / "fig.png"
    assert out.stat().st_size > 10_000


def test_capogrosso_table_shows_the_reduction() -> None:
    t = _figure_module(PAPERS / "capogrosso2024_sparse").storage_table()
    s75 = t[t["variant"] == "sparse-75"]
    # 75% predefined sparsity: ~4x fewer non-zero weights and MACs (biases and depthwise
    # convolutions stay dense), less in bytes (the masks' index overhead).
    assert (s75["params_x"] > 3.5).all() and (s75["params_x"] <= 4.0 + 1e-9).all()
    assert (s75["storage_x"] > 2.5).all()
    fan = t[t["variant"] == "fanout-2-9-10"].iloc[0]
    assert fan["params_x"] > 13 and fan["macs_x"] > 14


def test_splitee_costs_match_the_recorded_run(tmp_path: Path) -> None:
    folder = PAPERS / "bajpai2023_splitee"
    run = tmp_path / "run"
    simulator.run(folder / "splitee.yaml", out=run, replications=1, executor="serial",
                  set={"horizon.requests": 300}, save_requests=True, progress=False)
    costs, params = _figure_module(folder).costs(run)   # raises if the re-draw disagrees
    assert params == {"lambda": 0.1, "o": 0.3, "alpha": 0.8}
    last = costs.groupby("case").last()
    # i-splitee with SplitEE-S's cost is SplitEE-S; final-layer-only device-only pays λ·L.
    assert last.loc["i-splitee", "regret"] == pytest.approx(last.loc["splitee-s", "regret"])
    assert last.loc["device-only", "regret"] > last.loc["splitee", "regret"]
    assert isinstance(costs, pd.DataFrame) and len(costs) == 7 * 300
