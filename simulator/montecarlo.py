"""Monte Carlo: every sweep point × replication is one task with its own seeds.

Why tasks carry (point, replication) only: a task's random streams derive
from (scenario seed, replication) alone (``simulator.seeds``), so results do
not depend on which worker ran it or in which order, and the same
replication sees the same arrivals and channel at every sweep point (common
random numbers).  Results are put back in (point, replication) order, which
makes serial and process-pool runs bit-identical.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from profiles.model import ModelProfile
from simulator.engine import Replication
from simulator.scenario import LoadedScenario, Scenario, SweepPoint, resolve_model
from simulator.summary import counted, summarise

EXECUTORS = ("serial", "local")


@dataclass(frozen=True)
class TaskResult:
    """What one (sweep point, replication) task returns to the parent process."""

    point: int
    replication: int
    summary: dict[str, Any]
    devices: list[dict[str, Any]]
    server: dict[str, Any]
    requests: pd.DataFrame | None
    simulated: int


@dataclass(frozen=True)
class RunOutput:
    """All tasks of a run, in (point, replication) order."""

    summary: pd.DataFrame
    devices: pd.DataFrame
    server: pd.DataFrame
    requests: pd.DataFrame | None


def run_task(point: SweepPoint, replication: int, scenario_path: str,
             save_requests: bool) -> TaskResult:
    """Simulate one replication of one sweep point."""
    scenario = point.scenario
    model = _model(scenario, scenario_path)
    result = Replication(scenario, model, replication).run()
    keys = {k: _plain(v) for k, v in point.values.items()}
    warmup = scenario.horizon.warmup
    row = {**keys, "replication": replication, "seed": scenario.seed,
           **summarise(result, warmup, _deadlines(scenario), model.depth)}
    tag = {**keys, "replication": replication}
    requests = None
    if save_requests:
        rec = counted(result, warmup)
        requests = pd.DataFrame({**{k: [v] * len(rec["request"]) for k, v in keys.items()},
                                 "replication": replication, **rec})
    return TaskResult(point.index, replication, row,
                      [{**tag, **d} for d in result.devices], {**tag, **result.server},
                      requests, len(result.records["request"]))


_MODELS: dict[tuple[str, str], ModelProfile] = {}


def _model(scenario: Scenario, scenario_path: str) -> ModelProfile:
    """Profiles are immutable: load each once per process."""
    key = (scenario.model.model_dump_json(), scenario_path)
    if key not in _MODELS:
        _MODELS[key] = resolve_model(scenario, Path(scenario_path))
    return _MODELS[key]


def _deadlines(scenario: Scenario) -> np.ndarray:
    """Relative deadline per device instance (NaN = none)."""
    out = []
    for spec in scenario.devices:
        d = spec.workload.deadline
        out += [np.nan if d is None else d] * spec.count
    return np.asarray(out, dtype=float)


def _plain(value: Any) -> Any:
    """Sweep values as parquet-friendly scalars (lists/dicts become their YAML text)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def tasks(loaded: LoadedScenario) -> list[tuple[SweepPoint, int]]:
    """Every (sweep point, replication) pair, in output order."""
    return [(p, r) for p in loaded.points for r in range(p.scenario.replications)]


def iterate_results(loaded: LoadedScenario, *, executor: str = "local",
                    workers: int | None = None, save_requests: bool = False
                    ) -> Iterator[TaskResult]:
    """Run every task, yielding results as they finish (any order)."""
    todo = tasks(loaded)
    path = str(loaded.path)
    if executor == "serial" or len(todo) == 1:
        for point, rep in todo:
            yield run_task(point, rep, path, save_requests)
        return
    if executor != "local":
        raise ValueError(f"unknown executor '{executor}'; allowed: {', '.join(EXECUTORS)}")
    n_workers = min(workers or os.cpu_count() or 1, len(todo))
    with ProcessPoolExecutor(max_workers=n_workers) as pool:
        futures = [pool.submit(run_task, p, r, path, save_requests) for p, r in todo]
        for future in as_completed(futures):
            yield future.result()


def run_all(loaded: LoadedScenario, *, executor: str = "local", workers: int | None = None,
            save_requests: bool = False,
            on_result: Callable[[TaskResult], None] | None = None) -> RunOutput:
    """Run every task and assemble the tables in (point, replication) order."""
    results = []
    for res in iterate_results(loaded, executor=executor, workers=workers,
                               save_requests=save_requests):
        results.append(res)
        if on_result is not None:
            on_result(res)
    results.sort(key=lambda r: (r.point, r.replication))
    summary = pd.DataFrame([r.summary for r in results])
    devices = pd.DataFrame([d for r in results for d in r.devices])
    server = pd.DataFrame([r.server for r in results])
    requests = (pd.concat([r.requests for r in results], ignore_index=True)
                if save_requests else None)
    return RunOutput(summary, devices, server, requests)
