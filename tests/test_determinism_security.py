"""Issue 10: results do not depend on how a scenario is written or run; input never runs code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import simulator
from simulator.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "validation" / "mm1.yaml"
SMALL = {"replications": 3, "set": {"horizon.requests": 1500, "horizon.warmup": 100,
                                    "sweep": {"server.workers": [1, 2]}}}


def reverse_mappings(node: Any) -> Any:
    """The same scenario with every mapping's keys in the opposite order."""
    if isinstance(node, dict):
        return {k: reverse_mappings(node[k]) for k in reversed(list(node))}
    if isinstance(node, list):
        return [reverse_mappings(v) for v in node]
    return node


def summary_bytes(scenario: Path, out: Path, **options: Any) -> bytes:
    simulator.run(scenario, out=out, **{**SMALL, **options})
    return (out / "summary.parquet").read_bytes()


def test_the_order_of_keys_in_the_yaml_does_not_matter(tmp_path) -> None:
    raw = yaml.safe_load(BASE.read_text())
    shuffled = tmp_path / "reversed.yaml"
    shuffled.write_text(yaml.safe_dump(reverse_mappings(raw), sort_keys=False))
    assert next(iter(yaml.safe_load(shuffled.read_text()))) == "scheduler"
    assert summary_bytes(BASE, tmp_path / "a", executor="serial") == \
        summary_bytes(shuffled, tmp_path / "b", executor="serial")


def test_the_number_of_workers_does_not_matter(tmp_path) -> None:
    one = summary_bytes(BASE, tmp_path / "one", executor="local", workers=1)
    two = summary_bytes(BASE, tmp_path / "two", executor="local", workers=2)
    assert one == two


def test_yaml_cannot_construct_python_objects(tmp_path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ScenarioError, match="YAML"):
        load_scenario(evil)
    assert not marker.exists()


def test_relative_paths_are_resolved_from_the_scenario_file(tmp_path) -> None:
    # A trace named relative to the scenario is found wherever the process runs.
    scenario = ROOT / "scenarios" / "lte_driving.yaml"
    proc = subprocess.run([sys.executable, "-m", "simulator", "validate", str(scenario)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_a_plug_in_is_imported_only_when_a_scenario_names_it(tmp_path) -> None:
    code = ("import sys; from simulator.scenario import load_scenario; "
            f"load_scenario({str(BASE)!r}); print('fault_policy' in sys.modules)")
    env_path = str(ROOT / "tests" / "fault_plugins")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
