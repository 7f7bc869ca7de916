"""Shared helpers for the engine and CLI tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from simulator.engine import Replication, ReplicationResult
from simulator.scenario import load_scenario, resolve_model


@pytest.fixture
def scenario_file(tmp_path):
    """Write a scenario (YAML text) to a temporary file and return its path."""
    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path
    return write


def replicate(path: Path, *overrides: str, replication: int = 0,
              point: int = 0) -> ReplicationResult:
    """One engine replication of sweep point ``point`` of the scenario at ``path``."""
    loaded = load_scenario(path, list(overrides))
    sc = loaded.points[point].scenario
    return Replication(sc, resolve_model(sc, path), replication).run()
