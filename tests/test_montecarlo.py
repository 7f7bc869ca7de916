"""Monte Carlo at scale (issue 7): sweeps, executors, precision targets, MSER-5 warm-up.

The queue is the M/M/1 of DESIGN.md §8 with short horizons: these tests check
bookkeeping (which numbers land where, identical across executors), not
queueing theory (tests/test_theory.py does that).
"""

from __future__ import annotations

import logging
import math
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator.montecarlo import Executor, ExecutorError, point_columns
from simulator.precision import (
    Achieved,
    PrecisionError,
    Target,
    mean_half_width,
    mser_truncation,
    next_replications,
    parse_target,
)
from simulator.scenario import ScenarioError, grid_columns, load_scenario

MM1 = textwrap.dedent("""\
    name: mm1
    seed: 1
    replications: 3
    horizon: {requests: 400, warmup: 0}
    model: {input_bytes: 0, blocks: [{name: work, flops: 1 GFLOP, output_bytes: 0}]}
    devices: [{name: d, compute: {speed: 1 TFLOPS}, workload: {arrivals: poisson, rate: 5/s}}]
    channel: {uplink: {model: ideal}, downlink: {model: ideal}, rtt: 0 s}
    server: {workers: 1, compute: {speed: 8 GFLOPS, variability: exponential}}
    scheduler: {policy: server-only}
    """)

GRID = MM1 + textwrap.dedent("""\
    zip:
      devices.0.workload.rate: [2/s, 4/s]
      server.compute.speed: [4 GFLOPS, 8 GFLOPS]
    cases:
      one-worker:
      two-workers: {server.workers: 2}
    sweep:
      server.compute.variability: [exponential, deterministic]
    """)


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ------------------------------------------------------------------ sweeps


def test_grid_is_cases_by_zip_positions_by_sweep_product(tmp_path) -> None:
    loaded = load_scenario(write(tmp_path, GRID))
    assert grid_columns(loaded.base) == ["case", "devices.0.workload.rate",
                                         "server.compute.speed", "server.compute.variability"]
    got = [(p.values["case"], p.values["devices.0.workload.rate"],
            p.values["server.compute.speed"], p.values["server.compute.variability"])
           for p in loaded.points]
    assert got == [(case, rate, speed, var)
                   for case in ("one-worker", "two-workers")
                   for rate, speed in (("2/s", "4 GFLOPS"), ("4/s", "8 GFLOPS"))
                   for var in ("exponential", "deterministic")]
    workers = [p.scenario.server.workers for p in loaded.points]
    assert workers == [1] * 4 + [2] * 4
    # zipped keys move together: rate 2/s always with 4 GFLOPS
    assert {(p.scenario.devices[0].workload.rate, p.scenario.server.compute.speed)
            for p in loaded.points} == {(2.0, 4e9), (4.0, 8e9)}


def test_grid_entries_can_be_overridden_with_set(tmp_path) -> None:
    loaded = load_scenario(write(tmp_path, GRID), [
        "zip.server.compute.speed=[1 GFLOPS, 2 GFLOPS]", ("cases.three", {"server.workers": 3}),
        "sweep.server.compute.variability=[exponential]"])
    assert len(loaded.points) == 3 * 2 * 1
    assert loaded.points[-1].values["case"] == "three"
    assert loaded.points[-1].scenario.server.workers == 3
    assert loaded.points[-1].scenario.server.compute.speed == 2e9


@pytest.mark.parametrize(("extra", "message"), [
    ("zip: {server.workers: [1, 2], channel.rtt: [1 ms]}",
     "zip lists move together, so they need the same number of values"),
    ("zip: {server.workers: [1, 2]}\nsweep: {server.workers: [3]}",
     "'server.workers' is set by both sweep and zip"),
    ("cases: {a: {server.workers: 2}}\nsweep: {server.workers: [3]}",
     "'server.workers' is set by both sweep and cases"),
    ("sweep: {seed: [1, 2]}", "'seed' cannot vary between sweep points"),
    ("cases: {a: {replications: 5}}", "'replications' cannot vary between sweep points"),
    ("cases: {a: {server.workrs: 2}}", "server.workrs (at sweep point case=a): unknown key"),
])
def test_inconsistent_grids_are_refused_with_one_message(tmp_path, extra, message) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(write(tmp_path, MM1 + extra + "\n"))


def test_a_sweep_column_mixing_types_becomes_text(tmp_path) -> None:
    loaded = load_scenario(write(tmp_path, MM1 + "sweep: {channel.rtt: [0, 10 ms]}\n"))
    assert [c["channel.rtt"] for c in point_columns(loaded)] == ["0", "10 ms"]


def test_a_point_gives_the_same_numbers_inside_a_grid_and_alone(tmp_path) -> None:
    """Seeds derive from (scenario seed, replication) only: not from the point's position."""
    path = write(tmp_path, GRID)
    grid = simulator.run(path, executor="serial", save_requests=False).summary
    alone = simulator.run(path, executor="serial", save_requests=False, set={
        "cases": {}, "zip": {}, "sweep": {}, "server.workers": 2,
        "devices.0.workload.rate": "4/s", "server.compute.speed": "8 GFLOPS",
        "server.compute.variability": "deterministic"}).summary
    row = grid[(grid["case"] == "two-workers") & (grid["devices.0.workload.rate"] == "4/s")
               & (grid["server.compute.variability"] == "deterministic")]
    metrics = [c for c in alone.columns if c not in ("replication", "seed")]
    pd.testing.assert_frame_equal(row[metrics].reset_index(drop=True), alone[metrics],
                                  check_exact=True)


def test_every_point_sees_the_same_arrivals_common_random_numbers(tmp_path) -> None:
    res = simulator.run(write(tmp_path, GRID), executor="serial",
                        set={"zip": {}, "sweep": {"server.compute.speed": ["4 GFLOPS",
                                                                           "8 GFLOPS"]}})
    req = res.requests
    arrivals = {key: g.sort_values("request")["arrival_s"].to_numpy()
                for key, g in req.groupby(["case", "server.compute.speed", "replication"])}
    for (_case, _speed, rep), times in arrivals.items():
        np.testing.assert_array_equal(times, arrivals[("one-worker", "4 GFLOPS", rep)])
    assert not np.array_equal(arrivals[("one-worker", "4 GFLOPS", 0)],
                              arrivals[("one-worker", "4 GFLOPS", 1)])
    assert set(res.summary["case"]) == {"one-worker", "two-workers"}


# ------------------------------------------------------------------ executors


def test_serial_local_and_dask_give_bit_identical_summaries(tmp_path) -> None:
    """The Dask run uses a LocalCluster of 2 worker processes on loopback (via --address),
    and once more the LocalCluster that ``executor="dask"`` starts itself."""
    distributed = pytest.importorskip("distributed")
    path = write(tmp_path, MM1 + "sweep: {devices.0.workload.rate: [3/s, 6/s]}\n")
    runs = {"serial": {"executor": "serial"}, "local": {"executor": "local", "workers": 2}}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster:
        runs["dask-address"] = {"executor": "dask", "address": cluster.scheduler_address}
        for name, options in runs.items():
            simulator.run(path, out=tmp_path / name, **options)
    simulator.run(path, out=tmp_path / "dask-own", executor="dask", workers=2)
    reference = (tmp_path / "serial" / "summary.parquet").read_bytes()
    for name in ("local", "dask-address", "dask-own"):
        assert (tmp_path / name / "summary.parquet").read_bytes() == reference, name
        assert (tmp_path / name / "requests.parquet").read_bytes() == \
            (tmp_path / "serial" / "requests.parquet").read_bytes(), name
    summary = pd.read_parquet(tmp_path / "serial" / "summary.parquet")
    assert len(summary) == 6 and summary["latency_mean_s"].nunique() == 6


def test_address_without_dask_executor_is_refused() -> None:
    with pytest.raises(ExecutorError, match="--address needs --executor dask"):
        Executor("local", address="tcp://127.0.0.1:8786")
    with pytest.raises(ExecutorError, match="unknown executor 'ray'"):
        Executor("ray")


# ------------------------------------------------------------------ precision


def test_target_ci_adds_replications_until_every_point_is_precise(tmp_path) -> None:
    path = write(tmp_path, MM1 + "sweep: {server.compute.variability: [exponential, "
                                 "deterministic]}\n")
    res = simulator.run(path, replications=2, executor="serial", save_requests=False,
                        target_ci={"latency_mean_s": 0.05})
    report = res.precision
    assert report["met"] and report["targets"] == {"latency_mean_s": 0.05}
    for point in report["points"]:
        rows = res.summary[res.summary["server.compute.variability"]
                           == point["server.compute.variability"]]
        assert len(rows) == point["replications"] > 2
        mean, half, n = mean_half_width(rows["latency_mean_s"].to_numpy())
        assert half <= 0.05 * abs(mean)
        assert point["latency_mean_s"]["relative"] == pytest.approx(half / abs(mean))
        assert list(rows["replication"]) == list(range(n))
    # exponential service is noisier than deterministic: it needs more replications
    by_var = {p["server.compute.variability"]: p["replications"] for p in report["points"]}
    assert by_var["exponential"] > by_var["deterministic"]


def test_target_ci_stops_at_max_replications_and_says_it_was_not_met(tmp_path) -> None:
    res = simulator.run(write(tmp_path, MM1), replications=2, executor="serial",
                        save_requests=False, target_ci="latency_mean_s=0.0001%",
                        max_replications=5)
    assert len(res.summary) == 5
    assert res.precision["met"] is False
    assert res.precision["points"][0]["latency_mean_s"]["met"] is False


def test_target_ci_decisions_do_not_depend_on_the_executor(tmp_path) -> None:
    path = write(tmp_path, MM1)
    for name, executor in (("a", "serial"), ("b", "local")):
        simulator.run(path, out=tmp_path / name, replications=2, executor=executor,
                      workers=2, save_requests=False, target_ci={"latency_p95_s": 0.08})
    assert (tmp_path / "a" / "summary.parquet").read_bytes() == \
        (tmp_path / "b" / "summary.parquet").read_bytes()


@pytest.mark.parametrize(("text", "message"), [
    ("latency_mean_s", "expected METRIC=REL"),
    ("latency_men_s=0.1", "unknown metric 'latency_men_s'"),
    ("latency_mean_s=abc", "'abc' is not a number"),
    ("latency_mean_s=0", "must be > 0"),
])
def test_bad_targets_are_bad_input(text, message) -> None:
    with pytest.raises(PrecisionError, match=message):
        parse_target(text)


def test_targets_read_fractions_and_percentages() -> None:
    assert parse_target("accuracy=5%") == Target("accuracy", 0.05)
    assert parse_target(" latency_p99_s = 0.1 ") == Target("latency_p99_s", 0.1)


def test_next_batch_aims_at_the_square_law_within_limits() -> None:
    # half-width ∝ 1/√n: from 10% to a 5% target needs about 4× the replications (+10%)
    miss = Achieved(1.0, 0.10, 0.10, 0.05, False)
    assert next_replications(10, [miss], step=2, maximum=1000) == 40
    assert next_replications(10, [miss], step=2, maximum=25) == 25
    far = Achieved(1.0, 1.0, 1.0, 0.01, False)
    assert next_replications(10, [far], step=2, maximum=10**6) == 40   # at most 4× per batch
    close = Achieved(1.0, 0.051, 0.051, 0.05, False)
    assert next_replications(10, [close], step=3, maximum=1000) == 13  # at least one step
    met = Achieved(1.0, 0.01, 0.01, 0.05, True)
    assert next_replications(10, [met], step=2, maximum=1000) == 10
    undefined = Achieved(math.nan, math.nan, math.nan, 0.05, None)
    assert next_replications(10, [undefined], step=2, maximum=1000) == 10


# ------------------------------------------------------------------ MSER-5


def mser_by_definition(x: np.ndarray, batch: int = 5) -> int:
    """White (1997): argmin over d < k/2 of Σ_{i≥d}(b_i − b̄_d)² / (k − d)²."""
    k = len(x) // batch
    b = x[: k * batch].reshape(k, batch).mean(axis=1)
    stats = [((b[d:] - b[d:].mean()) ** 2).sum() / (k - d) ** 2 for d in range(k // 2)]
    return int(np.argmin(stats)) * batch


def test_mser_matches_its_definition_on_random_series() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(20, 2000))
        x = rng.exponential(1.0, n) + np.linspace(rng.uniform(0, 5), 0, n) ** 2
        assert mser_truncation(x) == mser_by_definition(x)
    assert mser_truncation(np.ones(15)) == 0  # fewer than 4 batches


def test_mser_cuts_an_initial_transient() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(1.0, 0.1, 5000)
    x[:300] += np.linspace(5.0, 0.5, 300)   # a decaying start-up bias
    assert 250 <= mser_truncation(x) <= 350
    assert mser_truncation(rng.normal(1.0, 0.1, 5000)) < 250  # stationary: little or nothing


def test_mser_warmup_drops_the_transient_of_each_replication(tmp_path) -> None:
    """An M/M/1 at ρ = 0.9 started empty: its first waits are too short (transient)."""
    path = write(tmp_path, MM1.replace("warmup: 0", "warmup: mser-5")
                 .replace("8 GFLOPS", "5.5 GFLOPS"))
    res = simulator.run(path, executor="serial", set={"horizon.requests": 3000})
    cut = 3000 - res.summary["requests"]
    assert (cut % 5 == 0).all() and (cut <= 1500).all()
    assert res.manifest["warmup"]["rule"] == "mser-5"
    assert res.manifest["warmup"]["max"] == int(cut.max())
    for rep, n in zip(res.summary["replication"], res.summary["requests"], strict=True):
        kept = res.requests[res.requests["replication"] == rep]
        assert len(kept) == n and kept["request"].min() == 3000 - n


def test_a_task_carries_its_trace_files_so_a_worker_needs_none_on_disk(tmp_path) -> None:
    # A Dask worker on another machine has none of the lead's files: the task must hold
    # every trace it reads.  The scenario (arrival, utilisation and channel traces) is
    # copied, its tasks built and pickled, the files deleted, and a fresh interpreter
    # in another directory runs the task: the same summary as the lead's own run.
    import json
    import os
    import pickle
    import shutil
    import subprocess
    import sys

    from simulator.montecarlo import TaskFactory, run_task

    root = Path(__file__).resolve().parents[1]
    here = tmp_path / "lead"
    shutil.copytree(root / "scenarios" / "traces", here / "traces")
    shutil.copy(root / "scenarios" / "motion_cameras.yaml", here / "s.yaml")
    uplink = ("channel.uplink={model: trace, file: traces/norway_bus_3.log, "
              "format: pensieve}")
    loaded = load_scenario(here / "s.yaml", ["horizon.requests=300", "horizon.warmup=0",
                                             "sweep={}", uplink])
    task = TaskFactory(loaded, save_requests=False).task(0, 1)
    assert sorted(Path(p).name for p in task.files) == [
        "motion_camera_arrivals.csv", "norway_bus_3.log", "tenant_utilisation.csv"]
    expected = run_task(task).summary
    (tmp_path / "task.pkl").write_bytes(pickle.dumps(task))
    shutil.rmtree(here)
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    code = ("import pickle, json, sys; from simulator.montecarlo import run_task; "
            "task = pickle.loads(open(sys.argv[1], 'rb').read()); "
            "print(json.dumps(run_task(task).summary))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "task.pkl")],
                          cwd=elsewhere, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(expected))
