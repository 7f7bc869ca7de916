"""The documentation (docs/, mkdocs.yml) builds, is fresh, and says what the code does.

- the site builds with ``mkdocs build --strict`` (broken links, anchors and
  snippet paths are errors);
- docs/scenario-format.md is exactly what scripts/gen_schema_docs.py makes
  from today's JSON Schema, and names every field of it;
- every command in a fenced ``bash`` block marked ``<!-- runnable -->`` exists:
  ``splitsim COMMAND --help`` exits 0, ``make TARGET`` is a Makefile target;
- docs/validation.md names only tests that exist, and every test of the
  theory, engine, channel and profile-count files.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simulator.cli import app
from simulator.scenario import scenario_json_schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TESTS = ROOT / "tests"

# Test files whose every test the validation page must list (the checks against
# theory, hand computation and published numbers).
VALIDATION_FILES = ("test_theory.py", "test_engine.py", "test_channel.py",
                    "test_profiles_zoo.py", "test_profiles_sparsity.py",
                    "test_profiles_energy.py", "test_worker_classes.py", "test_radio.py",
                    "test_topology.py")


def _generator():
    spec = importlib.util.spec_from_file_location("gen_schema_docs",
                                                  ROOT / "scripts" / "gen_schema_docs.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def runnable_commands(page: Path) -> list[str]:
    """Commands of the fenced bash blocks preceded by ``<!-- runnable -->``."""
    text = page.read_text()
    blocks = re.findall(r"<!-- runnable -->\s*\n```bash\n(.*?)\n```", text, flags=re.S)
    commands = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip()
            for part in re.split(r"&&|;", line):
                if part.strip():
                    commands.append(part.strip())
    return commands


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, flags=re.M))


# ---------------------------------------------------------------- the build


def test_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    pytest.importorskip("mkdocstrings")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**_env(), "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    for page in ("index.html", "tutorial/index.html", "scenario-format/index.html",
                 "profiling/index.html", "schedulers/index.html", "models/index.html",
                 "validation/index.html"):
        assert (tmp_path / "site" / page).is_file(), page


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_every_included_snippet_exists() -> None:
    # mkdocs checks these too (check_paths); this keeps the check when mkdocs is absent.
    for page in DOCS.glob("*.md"):
        for path in re.findall(r'--8<-- "([^"]+)"', page.read_text()):
            assert (ROOT / path).is_file(), f"{page.name} includes missing {path}"


# ---------------------------------------------------------------- the schema page


def test_scenario_format_page_is_generated_from_todays_schema() -> None:
    page = DOCS / "scenario-format.md"
    assert page.read_text() == _generator().render(), (
        "docs/scenario-format.md is stale: run python scripts/gen_schema_docs.py")


def test_scenario_format_page_names_every_field_of_the_schema() -> None:
    text = (DOCS / "scenario-format.md").read_text()
    schema = scenario_json_schema()
    nodes = {"Scenario": schema, **schema["$defs"]}
    for name, node in nodes.items():
        if name != "Scenario":
            assert f"## {name}\n" in text, name
        for field in node.get("properties", {}):
            if field == "params" and name == "SchedulerSpec":
                continue  # internal: filled in by the validator
            assert f"| `{field}` |" in text, f"{name}.{field}"


def test_every_field_has_a_description_and_units_are_shown() -> None:
    text = (DOCS / "scenario-format.md").read_text()
    rows = [r for r in text.splitlines() if r.startswith("| `")]
    assert rows
    empty = [r for r in rows if r.rstrip().endswith("|  |")]
    assert not empty, empty
    assert "| `rtt` | number or unit string | s |" in text
    assert "| `speed` | number (> 0) or unit string | FLOP/s |" in text
    assert "| `rate` | number (> 0) or unit string | bit/s |" in text


def test_schema_command_prints_the_schema_the_page_is_made_from() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(json.dumps(scenario_json_schema()))


# ---------------------------------------------------------------- commands


def test_tutorial_has_runnable_commands() -> None:
    commands = runnable_commands(DOCS / "tutorial.md")
    assert {"make demo", "splitsim run scenarios/reference.yaml --out runs/ref",
            "splitsim plot runs/ref", "splitsim report runs/ref"} <= set(commands)


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_every_runnable_command_exists(page: str) -> None:
    targets = makefile_targets()
    runner = CliRunner()
    for command in runnable_commands(DOCS / page):
        words = shlex.split(command)
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words.pop(0)  # environment assignments such as PYTHONPATH=...
        assert words, command
        if words[0] == "make":
            assert set(words[1:]) <= targets, f"{page}: {command}: no such Makefile target"
        elif words[0] in ("splitsim", ".venv/bin/splitsim"):
            sub = words[1]
            result = runner.invoke(app, [sub, "--help"])
            assert result.exit_code == 0, f"{page}: splitsim {sub} --help: {result.output}"
        else:
            pytest.fail(f"{page}: runnable command is neither splitsim nor make: {command}")


# ---------------------------------------------------------------- the validation page


def _tests_defined(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [n.name for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def test_validation_page_names_only_tests_that_exist() -> None:
    named = set(re.findall(r"`(test_\w+)`", (DOCS / "validation.md").read_text()))
    defined = {t for f in TESTS.glob("test_*.py") for t in _tests_defined(f)}
    assert named, "the page names no test"
    assert not named - defined, f"named on docs/validation.md but not in tests/: " \
                                f"{sorted(named - defined)}"


@pytest.mark.parametrize("filename", VALIDATION_FILES)
def test_validation_page_lists_every_check_of(filename: str) -> None:
    path = TESTS / filename
    if not path.exists():
        pytest.skip(f"{filename} not present")
    text = (DOCS / "validation.md").read_text()
    missing = [t for t in _tests_defined(path) if f"`{t}`" not in text]
    assert not missing, f"docs/validation.md does not list {filename}: {missing}"
