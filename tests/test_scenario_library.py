"""Every shipped scenario validates without warnings and runs end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.engine import Replication
from simulator.scenario import load_scenario, resolve_model

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
ALL = sorted(p for p in SCENARIOS.rglob("*.yaml"))


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(SCENARIOS)) for p in ALL])
def test_scenario_validates_without_warnings_and_runs(path: Path) -> None:
    loaded = load_scenario(path)
    assert loaded.warnings == ()
    # A short smoke run of every sweep point: no crash, every request accounted for.
    small = load_scenario(path, ["horizon.requests=150", "horizon.warmup=10"])
    for point in small.points:
        sc = point.scenario
        result = Replication(sc, resolve_model(sc, path), 0).run()
        assert sorted(result.records["request"].tolist()) == list(range(150))
