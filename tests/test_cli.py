"""The ``splitsim`` command: contract of DESIGN.md §9 (files, columns, exit codes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
MM1 = ROOT / "scenarios" / "validation" / "mm1.yaml"
SUMMARY_COLUMNS = [
    "replication", "seed", "requests", "latency_mean_s", "latency_p50_s", "latency_p95_s",
    "latency_p99_s", "device_wait_mean_s", "device_compute_mean_s", "uplink_mean_s",
    "server_wait_mean_s", "server_service_mean_s", "downlink_mean_s", "device_energy_mean_j",
    "accuracy", "exit_rate", "offload_rate", "bytes_up_mean", "split_mean",
    "deadline_miss_rate", "throughput_per_s",
]
SMALL = ["--replications", "3", "--set", "horizon.requests=2000", "--set", "horizon.warmup=100"]


def splitsim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_run_writes_the_run_directory_with_the_contract_columns(tmp_path) -> None:
    out = tmp_path / "run"
    proc = splitsim("run", MM1, "--out", out, *SMALL, "--set",
                    "sweep={server.workers: [1, 2]}", "--save-requests", "--executor", "serial")
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary.columns) == ["server.workers", *SUMMARY_COLUMNS]
    assert summary[["server.workers", "replication"]].values.tolist() == [
        [1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 2]]
    assert (summary["requests"] == 1900).all()  # warm-up left out
    requests = pd.read_parquet(out / "requests.parquet")
    assert len(requests) == 6 * 1900
    assert {"request", "device", "arrival_s", "split", "exit", "latency_s", "energy_j",
            "bytes_up", "correct"} <= set(requests.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["tasks"] == 6 and manifest["wall_time_s"] > 0
    assert len(manifest["scenario_hash"]) == 64 and manifest["splitsim_version"]
    saved = (out / "scenario.yaml").read_text()
    assert "replications: 3" in saved and "requests: 2000" in saved


def test_serial_and_process_pool_runs_are_bit_identical(tmp_path) -> None:
    args = [*SMALL, "--set", "sweep={devices.0.workload.rate: [3/s, 6/s]}"]
    assert splitsim("run", MM1, "--out", tmp_path / "a", *args, "--executor",
                    "serial").returncode == 0
    assert splitsim("run", MM1, "--out", tmp_path / "b", *args, "--executor", "local",
                    "--workers", "2").returncode == 0
    a = pd.read_parquet(tmp_path / "a" / "summary.parquet")
    b = pd.read_parquet(tmp_path / "b" / "summary.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path) -> None:
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        proc = splitsim("run", MM1, "--out", tmp_path / name, *SMALL, "--seed", str(seed),
                        "--executor", "serial", "--quiet")
        assert proc.returncode == 0, proc.stderr
    a, b, c = (pd.read_parquet(tmp_path / n / "summary.parquet") for n in "abc")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not a["latency_mean_s"].equals(c["latency_mean_s"])


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "server.workrs=2"], "server.workrs: unknown key 'workrs' (did you mean "
                                   "'workers'?)"),
    (["--set", "server.compute.speed=5 W"], "unknown compute speed unit 'W'"),
    (["--set", "scheduler={policy: fixed-split, split: 9}"], "scheduler.split: 9 is out of "
                                                             "range"),
    (["--set", "devices.0.workload.rate=-5/s"], "cannot be negative"),
    (["--set", "nonsense"], "expected dotted.key=value"),
])
def test_bad_input_exits_2_with_one_message_and_writes_nothing(tmp_path, args,
                                                               message) -> None:
    out = tmp_path / "run"
    proc = splitsim("run", MM1, "--out", out, *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_yaml_syntax_error_exits_2_naming_the_line(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhorizon: {requests: 10\n")
    proc = splitsim("validate", bad)
    assert proc.returncode == 2
    assert f"{bad}: line 3" in proc.stderr and "YAML syntax error" in proc.stderr


def test_debug_shows_the_traceback(tmp_path) -> None:
    proc = splitsim("--debug", "validate", MM1, "--set", "server.workrs=2")
    assert proc.returncode == 2 and "Traceback" in proc.stderr


def test_existing_run_directory_is_refused_without_force(tmp_path) -> None:
    out = tmp_path / "run"
    assert splitsim("run", MM1, "--out", out, *SMALL, "--quiet").returncode == 0
    again = splitsim("run", MM1, "--out", out, *SMALL)
    assert again.returncode == 2 and "--force" in again.stderr
    assert splitsim("run", MM1, "--out", out, *SMALL, "--force", "--quiet").returncode == 0


def test_unwritable_out_is_bad_input(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = splitsim("run", MM1, "--out", blocker / "run", *SMALL)
    assert proc.returncode == 2 and "--out" in proc.stderr


def test_utilisation_above_one_warns(tmp_path) -> None:
    proc = splitsim("validate", MM1, "--set", "devices.0.workload.rate=9/s")
    assert proc.returncode == 0
    assert "warning: server utilisation is 1.12" in proc.stderr


def test_schema_validate_and_list() -> None:
    schema = json.loads(splitsim("schema").stdout)
    assert schema["title"] == "Scenario"
    assert "valid — 1 sweep point(s), 10 task(s)" in splitsim("validate", MM1).stdout
    listed = splitsim("list", "schedulers").stdout
    assert all(name in listed for name in ("device-only", "server-only", "fixed-split",
                                           "neurosurgeon"))
    assert "resnet18-cifar10" in splitsim("list", "profiles").stdout
    assert "markov" in splitsim("list", "channels").stdout


def test_messages_are_not_wrapped_at_the_terminal_width(tmp_path) -> None:
    """A path longer than 80 columns stays on one line, so scripts can grep it (a CI
    checkout's path once split "10 task(s)" across two lines)."""
    deep = tmp_path / ("a_directory_name_long_enough_to_pass_eighty_columns_" * 2)
    deep.mkdir()
    scenario = deep / "mm1.yaml"
    scenario.write_text(MM1.read_text())
    valid = splitsim("validate", scenario).stdout
    assert valid == f"{scenario}: valid — 1 sweep point(s), 10 task(s)\n"
    missing = splitsim("validate", deep / "nope.yaml")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_console_table_shows_mean_and_ci(tmp_path) -> None:
    proc = splitsim("run", MM1, "--out", tmp_path / "r", *SMALL, "--executor", "serial")
    assert proc.returncode == 0
    assert "latency (ms)" in proc.stdout and "±" in proc.stdout
