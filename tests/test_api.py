"""The Python API ``simulator.run`` (issue 7): same code path and files as ``splitsim run``."""

from __future__ import annotations

import gc
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml

import simulator
from simulator.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
MM1 = ROOT / "scenarios" / "validation" / "mm1.yaml"
SMALL = {"horizon.requests": 600, "horizon.warmup": 100}


def test_run_returns_summary_and_requests_dataframes() -> None:
    res = simulator.run(MM1, replications=2, executor="serial",
                        set={**SMALL, "server.workers": 2})
    assert isinstance(res, simulator.RunResult)
    assert list(res.summary["replication"]) == [0, 1]
    assert (res.summary["requests"] == 500).all()
    assert isinstance(res.requests, pd.DataFrame) and len(res.requests) == 1000
    assert res.manifest["executor"] == "serial"
    assert "server.workers=2" in res.manifest["overrides"]
    saved = yaml.safe_load((res.path / "scenario.yaml").read_text())
    assert saved["server"]["workers"] == 2 and saved["replications"] == 2


def test_api_and_cli_write_byte_identical_summaries(tmp_path) -> None:
    simulator.run(MM1, out=tmp_path / "api", replications=3, executor="local", workers=2,
                  set={**SMALL, "sweep.server.workers": [1, 2]}, save_requests=False)
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "run", MM1, "--out", tmp_path / "cli",
         "--replications", "3", "--set", "horizon.requests=600", "--set",
         "horizon.warmup=100", "--set", "sweep={server.workers: [1, 2]}", "--executor",
         "serial", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "api" / "summary.parquet").read_bytes() == \
        (tmp_path / "cli" / "summary.parquet").read_bytes()


def test_a_scenario_can_be_a_mapping() -> None:
    raw = yaml.safe_load(MM1.read_text())
    res = simulator.run(raw, replications=2, executor="serial", set=SMALL,
                        save_requests=False)
    assert len(res.summary) == 2 and res.requests is None
    from_file = simulator.run(MM1, replications=2, executor="serial", set=SMALL,
                              save_requests=False)
    pd.testing.assert_frame_equal(res.summary, from_file.summary, check_exact=True)


def test_a_temporary_run_directory_goes_away_with_its_result() -> None:
    res = simulator.run(MM1, replications=1, executor="serial", set=SMALL)
    path = res.path
    assert (path / "manifest.json").exists()
    del res
    gc.collect()
    assert not path.exists()


def test_bad_overrides_raise_the_clis_bad_input_errors(tmp_path) -> None:
    with pytest.raises(ScenarioError, match="unknown key 'workrs'"):
        simulator.run(MM1, set={"server.workrs": 2})
    with pytest.raises(TypeError):
        simulator.run(MM1, replication=2)  # a typo is not silently ignored
    assert not list(tmp_path.iterdir())


def test_progress_bar_on_a_terminal_and_none_when_piped(tmp_path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(MM1.read_text())
    args = [sys.executable, "-m", "simulator", "run", scenario, "--replications", "3",
            "--set", "horizon.requests=600", "--set", "horizon.warmup=100", "--executor",
            "serial"]
    leader, follower = pty.openpty()
    proc = subprocess.run([*args, "--out", tmp_path / "tty"], cwd=ROOT, stdout=follower,
                          stderr=subprocess.PIPE, timeout=120, env={**os.environ,
                                                                     "COLUMNS": "160"})
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.returncode == 0, proc.stderr
    text = shown.decode(errors="replace")
    assert "3/3" in text and "tasks" in text and "req/s" in text and "left" in text
    piped = subprocess.run([*args, "--out", tmp_path / "pipe"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert "req/s" in piped.stdout and "3/3" not in piped.stdout   # final line, no bar


def test_readme_example_of_the_docstring_runs(tmp_path) -> None:
    text = textwrap.dedent(simulator.api.__doc__.split("::")[1].split("\n\n")[1])
    code = text.replace("scenarios/validation/mm1.yaml", str(MM1)).replace(
        "replications=5", f"replications=2, out={str(tmp_path / 'doc')!r}").replace(
        "set={", 'set={"horizon.requests": 2000, ')
    namespace: dict = {}
    exec(code, namespace)
    assert len(namespace["res"].summary) == 2 * 2   # two sweep points
