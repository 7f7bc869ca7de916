"""The run directory (issue 7): atomic task files, resume after SIGKILL, scenario identity,
per-request records streamed in row groups."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import simulator
from simulator import store as store_module
from simulator.store import RunStore, StoreError, write_atomic, write_requests

ROOT = Path(__file__).resolve().parents[1]
MM1 = textwrap.dedent("""\
    name: mm1
    seed: 1
    replications: 8
    horizon: {requests: 1500, warmup: 100}
    model: {input_bytes: 0, blocks: [{name: work, flops: 1 GFLOP, output_bytes: 0}]}
    devices: [{name: d, compute: {speed: 1 TFLOPS}, workload: {arrivals: poisson, rate: 5/s}}]
    channel: {uplink: {model: ideal}, downlink: {model: ideal}, rtt: 0 s}
    server: {workers: 1, compute: {speed: 8 GFLOPS, variability: exponential}}
    scheduler: {policy: server-only}
    sweep: {server.compute.variability: [exponential, deterministic]}
    """)


def write(tmp_path: Path, text: str = MM1, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def splitsim(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def finished(out: Path) -> int:
    return len(list((out / "tasks").glob("*.json"))) if (out / "tasks").is_dir() else 0


def run_and_kill(args: list[object], out: Path, when) -> None:
    """Start ``splitsim run``, SIGKILL its whole process group once ``when(out)`` holds."""
    proc = subprocess.Popen([sys.executable, "-m", "simulator", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and not when(out) and time.monotonic() < deadline:
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_run_killed_at_any_moment_resumes_to_the_identical_result(tmp_path) -> None:
    """SIGKILL before any task, mid-run, after the last task and while assembling; resume."""
    scenario = write(tmp_path)
    common = ["--executor", "local", "--workers", "2", "--save-requests", "--quiet"]
    simulator.run(scenario, out=tmp_path / "whole", executor="serial")  # same code path
    out = tmp_path / "killed"
    args = ["run", scenario, "--out", out, *common, "--resume"]
    run_and_kill(args, out, lambda o: (o / "run.json").exists())
    run_and_kill(args, out, lambda o: finished(o) >= 6)
    assert 0 < finished(out) < 16 and not (out / "manifest.json").exists()
    run_and_kill(args, out, lambda o: finished(o) == 16)
    run_and_kill(args, out, lambda o: (o / "summary.parquet").exists())  # while assembling
    final = splitsim(*args)
    assert final.returncode == 0, final.stderr
    assert not list(out.rglob("*.tmp"))
    for name in ("summary.parquet", "requests.parquet", "devices.parquet", "server.parquet"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tasks"] == 16 and manifest["tasks_resumed"] + manifest["tasks_run"] == 16


def test_resume_skips_finished_tasks_and_extends_replications(tmp_path) -> None:
    scenario = write(tmp_path)
    first = simulator.run(scenario, out=tmp_path / "r", replications=2, executor="serial")
    assert first.manifest["tasks_run"] == 4
    more = simulator.run(scenario, out=tmp_path / "r", replications=3, executor="serial",
                         resume=True)
    assert more.manifest["tasks_run"] == 2 and more.manifest["tasks_resumed"] == 4
    simulator.run(scenario, out=tmp_path / "fresh", replications=3, executor="serial")
    assert (tmp_path / "r" / "summary.parquet").read_bytes() == \
        (tmp_path / "fresh" / "summary.parquet").read_bytes()
    assert (tmp_path / "r" / "requests.parquet").read_bytes() == \
        (tmp_path / "fresh" / "requests.parquet").read_bytes()


def test_resume_warns_when_a_plugin_policys_code_changed(tmp_path, monkeypatch) -> None:
    policy = tmp_path / "resume_plugin_policy.py"
    code = ("from simulator.schedulers import Decision, Scheduler\n"
            "class Offload(Scheduler):\n"
            "    def decide(self, obs):\n"
            "        return Decision(split=0)\n")
    policy.write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    scenario = write(tmp_path, MM1.replace("policy: server-only",
                                           "policy: resume_plugin_policy:Offload"))
    run = simulator.run(scenario, out=tmp_path / "r", replications=1, executor="serial")
    state = json.loads((tmp_path / "r" / "run.json").read_text())
    assert list(state["plugins"]) == ["resume_plugin_policy:Offload"]
    again = simulator.run(scenario, out=tmp_path / "r", replications=2, executor="serial",
                          resume=True)
    assert not any("plug-in" in w for w in again.manifest.get("warnings", []))
    policy.write_text(code.replace("split=0", "split=1"))
    changed = simulator.run(scenario, out=tmp_path / "r", replications=3, executor="serial",
                            resume=True)
    assert any("the code of plug-in policy 'resume_plugin_policy:Offload' has changed" in w
               for w in changed.manifest["warnings"])
    assert run.manifest.get("warnings", []) == []


def test_resume_reruns_tasks_whose_requests_were_not_saved(tmp_path) -> None:
    scenario = write(tmp_path)
    simulator.run(scenario, out=tmp_path / "r", replications=2, executor="serial",
                  save_requests=False)
    again = simulator.run(scenario, out=tmp_path / "r", replications=2, executor="serial",
                          resume=True)
    assert again.manifest["tasks_run"] == 4 and len(again.requests) == 4 * 1400


def test_unreadable_or_partial_task_files_are_simulated_again(tmp_path) -> None:
    scenario = write(tmp_path)
    simulator.run(scenario, out=tmp_path / "r", replications=2, executor="serial")
    tasks = tmp_path / "r" / "tasks"
    (tasks / "p0001-r0001.json").write_text('{"point": 1, "summ')   # torn (no fsync)
    (tasks / ".p0000-r0000.json.x1y2.tmp").write_text("{")          # killed mid-write
    again = simulator.run(scenario, out=tmp_path / "r", replications=2, executor="serial",
                          resume=True)
    assert again.manifest["tasks_run"] == 1
    assert not list(tasks.glob("*.tmp"))


def test_changed_scenario_is_refused_with_what_changed_unless_force(tmp_path) -> None:
    scenario = write(tmp_path)
    out = tmp_path / "r"
    simulator.run(scenario, out=out, replications=2, executor="serial")
    changed = splitsim("run", scenario, "--out", out, "--resume", "--set", "server.workers=2")
    assert changed.returncode == 2 and "Traceback" not in changed.stderr
    assert "holds a run of a different scenario (changed server.workers: 1 → 2)" \
        in changed.stderr
    assert "--force" in changed.stderr
    forced = simulator.run(scenario, out=out, replications=2, executor="serial",
                           set={"server.workers": 2}, force=True)
    assert forced.manifest["tasks_run"] == 4 and (forced.summary["requests"] == 1400).all()


def test_same_scenario_without_resume_asks_for_resume_or_force(tmp_path) -> None:
    scenario = write(tmp_path)
    simulator.run(scenario, out=tmp_path / "r", replications=2, executor="serial")
    with pytest.raises(StoreError, match="pass --resume to continue it, or --force"):
        simulator.run(scenario, out=tmp_path / "r", replications=2, executor="serial")


def test_a_run_directory_in_use_is_refused(tmp_path) -> None:
    raw = {"name": "x"}
    with RunStore.open(tmp_path / "r", raw), \
            pytest.raises(StoreError, match="another splitsim run is using"):
        RunStore.open(tmp_path / "r", raw, resume=True)
    RunStore.open(tmp_path / "r", raw, resume=True).close()   # free again


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")

    def fails(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(target, fails, durable=True)
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_requests_stream_in_row_groups_one_at_a_time(tmp_path, monkeypatch) -> None:
    """The final requests.parquet is copied group by group: the Arrow memory in use while
    writing stays near one row group, far below the whole table."""
    rng = np.random.default_rng(0)
    files = []
    for i in range(12):
        n = 20_000
        table = pa.table({"replication": np.full(n, i), "request": np.arange(n),
                          **{f"x{j}": rng.random(n) for j in range(8)}})
        path = tmp_path / f"t{i}.parquet"
        pq.write_table(table, path, row_group_size=5_000)
        files.append(path)
    total_bytes = 12 * 20_000 * 10 * 8
    seen = []
    groups = store_module._row_groups

    def watched(paths):
        for group in groups(paths):
            seen.append(pa.total_allocated_bytes())
            yield group

    monkeypatch.setattr(store_module, "_row_groups", watched)
    baseline = pa.total_allocated_bytes()
    assert write_requests(tmp_path / "all.parquet", files) == 240_000
    assert len(seen) == 48
    assert max(seen) - baseline < total_bytes / 8
    meta = pq.ParquetFile(tmp_path / "all.parquet").metadata
    assert meta.num_row_groups == 48 and meta.num_rows == 240_000
    back = pq.read_table(tmp_path / "all.parquet", columns=["replication", "request"])
    assert back["replication"].to_pylist()[::20_000] == list(range(12))


def test_task_requests_are_written_in_bounded_row_groups(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "ROW_GROUP", 500)
    res = simulator.run(write(tmp_path), out=tmp_path / "r", replications=1,
                        executor="serial")
    meta = pq.ParquetFile(tmp_path / "r" / "requests.parquet").metadata
    assert meta.num_rows == 2 * 1400 and meta.num_row_groups == 2 * 3   # 500 + 500 + 400
    assert len(res.requests) == 2800
