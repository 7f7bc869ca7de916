"""The JSON Schema that ``splitsim schema`` exports accepts every shipped scenario.

Editors and CI pipelines validate YAML against it, so it must allow what the
loader allows: unit strings for quantities and the string shorthands.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from simulator.scenario import scenario_json_schema

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").rglob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenario_is_valid_under_the_exported_schema(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), scenario_json_schema())


def test_the_schema_rejects_what_the_loader_rejects() -> None:
    scenario = yaml.safe_load(SCENARIOS[0].read_text())
    scenario["server"]["compute"]["speed"] = "fast"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(scenario, scenario_json_schema())
