"""A failing task fails alone: the others are stored and --resume finishes the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
MM1 = ROOT / "scenarios" / "validation" / "mm1.yaml"
ARGS = ["--replications", "2", "--set", "horizon.requests=400", "--set", "horizon.warmup=0",
        "--set", "scheduler={policy: 'fault_policy:FaultyFixedSplit', fail_split: 1}",
        "--set", "sweep={scheduler.split: [0, 1]}", "--executor", "local", "--workers", "2",
        "--quiet"]


def splitsim(out: Path, fault: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "fault_plugins"),
           "SPLITSIM_TEST_FAULT": fault}
    return subprocess.run([sys.executable, "-m", "simulator", "run", str(MM1), "--out",
                           str(out), *ARGS, *extra], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def finished_tasks(out: Path) -> set[str]:
    return {p.stem for p in (out / "tasks").glob("*.json")}


@pytest.mark.parametrize(("fault", "code", "says"), [
    ("raise", 2, "policy 'fault_policy:FaultyFixedSplit' raised ZeroDivisionError"),
    ("kill", 1, "its worker process died"),
])
def test_one_failing_point_fails_alone_and_resume_finishes(tmp_path, fault, code,
                                                           says) -> None:
    out = tmp_path / "run"
    failed = splitsim(out, fault)
    assert failed.returncode == code, failed.stderr
    assert "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert says in failed.stderr and "2 of 4 task(s) failed" in failed.stderr
    assert "--resume" in failed.stderr
    # The healthy sweep point finished and is kept; nothing pretends to be complete.
    assert finished_tasks(out) == {"p0000-r0000", "p0000-r0001"}
    assert not (out / "summary.parquet").exists() and not (out / "manifest.json").exists()
    # The bug is fixed: --resume runs only what is missing and gives the full run.
    resumed = splitsim(out, "", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    clean = tmp_path / "clean"
    assert splitsim(clean, "").returncode == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"),
                                  pd.read_parquet(clean / "summary.parquet"), check_exact=True)
