"""Every bad input gets one clear answer (issue 10, item 1; DESIGN.md §9 "CLI").

The catalogue is ``tests/bad_inputs/cases.yaml``: one ``splitsim`` command
line per case, run from that folder, with the exit code it must give and the
substrings its one-line message must hold (the file, the field path or line,
the value, what is allowed).  Each case runs in-process through typer's
``CliRunner`` (fast); the cases marked ``subprocess: true`` also run as real
processes, which proves the exit code and the absence of a traceback end to
end — and the plug-in cases that fail inside worker processes run only there.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from simulator.cli import app

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "tests" / "bad_inputs"
CASES: list[dict[str, Any]] = yaml.safe_load((HERE / "cases.yaml").read_text())
PARTS = ("file", "where", "value", "allowed")
IN_PROCESS = [c for c in CASES if c.get("in_process", True)]
SUBPROCESS = [c for c in CASES if c.get("subprocess")]


def _fill(value: Any, tmp: Path) -> Any:
    """Replace ``{tmp}`` in strings, lists and mappings."""
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, list):
        return [_fill(v, tmp) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, tmp) for k, v in value.items()}
    return value


def _prepare(case: dict[str, Any], tmp: Path) -> dict[str, Any]:
    for name in case.get("setup", []):
        (tmp / name).write_text("")
    return _fill(case, tmp)


def _substrings(expect: dict[str, Any]) -> list[str]:
    found = []
    for part in PARTS:
        value = expect[part]
        found += [] if value is None else [value] if isinstance(value, str) else value
    return found


def check_answer(case: dict[str, Any], code: int, stderr: str) -> None:
    """The contract: the exit code, one line on stderr, every expected substring."""
    allowed = case.get("exit", 2)
    assert code in (allowed if isinstance(allowed, list) else [allowed]), stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert lines[0].startswith("error"), lines[0]
    missing = [s for s in _substrings(case["expect"]) if s not in lines[0]]
    assert not missing, f"{missing} not in: {lines[0]}"


def check_run_dir(case: dict[str, Any]) -> None:
    """A failed run leaves nothing half-written and nothing that looks finished."""
    out = Path(case["out"])
    if not out.exists():
        return
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.endswith(".tmp")], files
    assert not (out / "manifest.json").exists()
    if not case.get("tables_may_remain"):
        assert not (out / "summary.parquet").exists()
    for path in files:  # whatever is left is whole
        if path.suffix == ".parquet":
            pq.read_metadata(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())


# ------------------------------------------------------------------ the catalogue itself


def test_the_catalogue_has_at_least_forty_distinct_cases() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_every_case_names_the_file_the_place_the_value_and_what_is_allowed(case) -> None:
    expect = case["expect"]
    assert set(PARTS) <= set(expect), f"missing {set(PARTS) - set(expect)}"
    nulls = [p for p in PARTS if expect[p] is None]
    assert not nulls or expect.get("note"), f"{nulls} left out without a note"
    assert len(nulls) <= 2


def test_every_file_in_the_folder_belongs_to_a_case() -> None:
    used = {Path(a).name for c in CASES for a in c["args"]}
    used |= {Path(s).name for c in CASES for s in _substrings(c["expect"])}
    scenarios = {f.name for f in HERE.glob("*.yaml")} - {"cases.yaml"}
    texts = [(HERE / s).read_text() for s in scenarios]
    referenced = {f.name for f in HERE.iterdir()  # by file name, or a plug-in by module
                  if any(f.name in t or f"{f.stem}:" in t for t in texts)}
    orphans = {f.name for f in HERE.iterdir() if f.is_file()} - used - referenced - {
        "cases.yaml"}
    assert not orphans


# ------------------------------------------------------------------ in-process


@pytest.fixture
def in_bad_inputs(monkeypatch):
    """Run from tests/bad_inputs with its plug-in modules importable; forget them after."""
    monkeypatch.chdir(HERE)
    monkeypatch.syspath_prepend(str(HERE))
    yield
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(HERE)):
            del sys.modules[name]


def simulate_disk_full(monkeypatch, needle: str) -> None:
    """The disk fills while the run writes a file whose name (or folder) holds ``needle``.

    The real atomic writer runs: the bytes go to its temporary file, then the
    write fails with ENOSPC as it would on a full disk.
    """
    import simulator.store as store

    real = store.write_atomic

    def full(path: Path, writer, *args, **kwargs):
        path = Path(path)
        if needle not in f"{path.parent.name}/{path.name}":
            return real(path, writer, *args, **kwargs)

        def fill_up(tmp: Path) -> None:
            writer(tmp)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
        return real(path, fill_up, *args, **kwargs)

    monkeypatch.setattr(store, "write_atomic", full)


@pytest.mark.parametrize("case", IN_PROCESS, ids=lambda c: c["id"])
def test_bad_input_gets_one_clear_message(case, tmp_path, in_bad_inputs, monkeypatch) -> None:
    case = _prepare(case, tmp_path)
    if "disk_full" in case:
        simulate_disk_full(monkeypatch, case["disk_full"])
    result = CliRunner().invoke(app, case["args"])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit), repr(result.exception)
    check_answer(case, result.exit_code, result.stderr)
    if "out" in case:
        check_run_dir(case)


def test_debug_shows_the_traceback(in_bad_inputs) -> None:
    result = CliRunner().invoke(app, ["--debug", "validate", "zero_workers.yaml"])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "ScenarioError" in result.stderr


# ------------------------------------------------------------------ real processes


@pytest.fixture(scope="module")
def subprocess_answers(tmp_path_factory) -> dict[str, tuple[dict, subprocess.CompletedProcess]]:
    """Run every ``subprocess: true`` case as ``python -m simulator``, all at once."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)])}

    def launch(case: dict[str, Any]) -> tuple[dict, subprocess.CompletedProcess]:
        case = _prepare(case, tmp_path_factory.mktemp(case["id"]))
        proc = subprocess.run([sys.executable, "-m", "simulator", *case["args"]], cwd=HERE,
                              env=env, capture_output=True, text=True, timeout=300)
        return case, proc

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        return {c["id"]: r for c, r in zip(SUBPROCESS, pool.map(launch, SUBPROCESS),
                                           strict=True)}


@pytest.mark.parametrize("case_id", [c["id"] for c in SUBPROCESS])
def test_bad_input_in_a_real_process(case_id, subprocess_answers) -> None:
    case, proc = subprocess_answers[case_id]
    check_answer(case, proc.returncode, proc.stderr)
    if "out" in case:
        check_run_dir(case)


# ------------------------------------------------------------------ a full disk, for real


def test_after_a_full_disk_resume_finishes_the_run(tmp_path, in_bad_inputs,
                                                   monkeypatch) -> None:
    """The remedy the disk-full message gives works: finished tasks were kept."""
    out = tmp_path / "run"
    args = ["run", "valid.yaml", "--out", str(out), "--executor", "serial", "--quiet"]
    with monkeypatch.context() as patched:
        simulate_disk_full(patched, "summary.parquet")
        assert CliRunner().invoke(app, args).exit_code in (1, 2)
    assert len(list((out / "tasks").glob("*.json"))) == 2  # both tasks were kept
    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.stderr
    assert (out / "manifest.json").exists()
    assert len(pq.read_table(out / "summary.parquet")) == 2


@pytest.fixture
def tiny_disk(tmp_path):
    """A 48 KiB tmpfs, where the OS allows mounting one (root with CAP_SYS_ADMIN)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_gives_one_message_and_no_partial_files(tiny_disk,
                                                                   in_bad_inputs) -> None:
    out = tiny_disk / "run"
    result = CliRunner().invoke(app, [
        "run", "valid.yaml", "--out", str(out), "--executor", "serial", "--quiet",
        "--save-requests", "--replications", "30", "--set", "horizon.requests=2000"])
    check_answer({"exit": [1, 2], "expect": {"file": str(out), "where": "--out",
                                             "value": "No space left on device",
                                             "allowed": "free some space"}},
                 result.exit_code, result.stderr)
    check_run_dir({"out": str(out)})
