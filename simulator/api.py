"""The Python API: ``simulator.run(scenario_or_path, **overrides) -> RunResult``.

Why one function for the CLI and notebooks: ``splitsim run`` is a thin shell
around :func:`execute`, so a notebook gets exactly the files, numbers, resume
and stopping rules of the command line::

    import simulator
    res = simulator.run("scenarios/validation/mm1.yaml", replications=5,
                        executor="serial", set={"sweep.server.workers": [1, 2]})
    res.summary.groupby("server.workers")["latency_mean_s"].mean()
    res.requests            # per-request DataFrame (save_requests=True by default)

Keyword arguments (all optional; the CLI flag in brackets):

- ``out`` [--out]: run directory; default a temporary one, removed when the
  result is garbage-collected (pass ``out`` to keep the files).
- ``replications`` [--replications], ``seed`` [--seed].
- ``set`` [--set]: ``{"dotted.key": value}`` overrides, values as Python
  objects (``{"channel.rtt": "50 ms", "sweep.server.workers": [1, 2]}``);
  ``sweep.KEY``, ``zip.KEY`` and ``cases.NAME.KEY`` address the grid.
- ``executor`` [--executor] ``"serial" | "local" | "dask"``, ``workers``
  [--workers], ``address`` [--address] (a running Dask scheduler).
- ``save_requests`` [--save-requests]: default True here (False on the CLI).
- ``resume`` [--resume], ``force`` [--force].
- ``target_ci`` [--target-ci]: ``{"latency_mean_s": 0.05}`` or
  ``"latency_mean_s=5%"``; ``max_replications`` [--max-replications].
- ``progress``: show the rich progress bar (default False).

A scenario may also be given as a mapping (the YAML content as a dict);
relative file paths in it are then relative to the working directory.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.montecarlo import Executor, TaskFactory, TaskFailure, TasksFailedError, task_key
from simulator.precision import (
    DEFAULT_MAX_REPLICATIONS,
    PrecisionError,
    Target,
    achieved,
    next_replications,
    parse_targets,
)
from simulator.progress import Silent
from simulator.scenario import LoadedScenario, grid_columns, load_scenario
from simulator.schedulers import plugin_code_digests
from simulator.store import RunStore, base_manifest, scenario_hash


@dataclass(eq=False)
class RunResult:
    """A finished run: its tables as DataFrames and where its files are."""

    path: Path
    summary: pd.DataFrame
    devices: pd.DataFrame
    server: pd.DataFrame
    manifest: dict[str, Any]
    sweep_columns: list[str] = field(default_factory=list)

    @cached_property
    def requests(self) -> pd.DataFrame | None:
        """Per-request records (``requests.parquet``), read on first use; None if not saved."""
        path = self.path / "requests.parquet"
        return pd.read_parquet(path) if path.exists() else None

    @property
    def precision(self) -> dict[str, Any] | None:
        """Achieved precision per sweep point under ``target_ci`` (None without targets)."""
        return self.manifest.get("precision")


def run(scenario: str | Path | Mapping[str, Any], *, out: str | Path | None = None,
        replications: int | None = None, seed: int | None = None,
        set: Mapping[str, Any] | None = None, executor: str = "local",
        workers: int | None = None, address: str | None = None, save_requests: bool = True,
        resume: bool = False, force: bool = False,
        target_ci: Mapping[str, float] | Sequence[str] | str | None = None,
        max_replications: int | None = None, progress: bool = False) -> RunResult:
    """Run every sweep point × replication of ``scenario``; see the module docstring."""
    overrides: list[tuple[str, Any]] = list((set or {}).items())
    if replications is not None:
        overrides.append(("replications", replications))
    if seed is not None:
        overrides.append(("seed", seed))
    if isinstance(scenario, Mapping):
        loaded = load_scenario(Path("<scenario>"), overrides, raw=scenario)
    else:
        loaded = load_scenario(scenario, overrides)
    temporary = out is None
    out_dir = Path(tempfile.mkdtemp(prefix="splitsim-run-")) if temporary else Path(out)
    from simulator.progress import Bar

    try:
        result = execute(loaded, out_dir, overrides=[f"{k}={json.dumps(v, default=str)}"
                                                     for k, v in overrides],
                         executor=executor, workers=workers, address=address,
                         save_requests=save_requests, resume=resume, force=force,
                         target_ci=target_ci, max_replications=max_replications,
                         progress=Bar() if progress else Silent())
    except BaseException:
        if temporary:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    if temporary:
        weakref.finalize(result, shutil.rmtree, str(out_dir), True)
    return result


def execute(loaded: LoadedScenario, out: Path, *, overrides: Sequence[str] = (),
            executor: str = "local", workers: int | None = None, address: str | None = None,
            save_requests: bool = False, resume: bool = False, force: bool = False,
            target_ci: Mapping[str, float] | Sequence[str] | str | None = None,
            max_replications: int | None = None, progress: Silent | None = None
            ) -> RunResult:
    """The run loop shared by ``splitsim run`` and :func:`run`.

    Checks every option before anything is written, opens (or resumes) the
    run directory, runs the unfinished tasks — in batches of replications
    while a ``target_ci`` is not met —, storing each as it finishes, then
    assembles the tables in (point, replication) order and writes the manifest.
    """
    progress = progress or Silent()
    targets = parse_targets(target_ci)
    initial = loaded.base.replications
    cap = initial
    if targets:
        cap = DEFAULT_MAX_REPLICATIONS if max_replications is None else max_replications
        if initial > cap:
            raise PrecisionError(f"--max-replications {cap} is below the {initial} "
                                 f"replications to start with")
    elif max_replications is not None:
        raise PrecisionError("--max-replications only applies with --target-ci")
    started = time.perf_counter()
    with Executor(executor, workers, address) as pool, \
            RunStore.open(out, loaded.raw, resume=resume, force=force,
                          plugins=plugin_code_digests(loaded.policies)) as store:
        factory = TaskFactory(loaded, save_requests)
        reps = {p.index: initial for p in loaded.points}
        precision: dict[int, dict[str, Any]] = {}

        def unfinished() -> list[tuple[int, int]]:
            return [(p, r) for p, n in reps.items() for r in range(n)
                    if not store.is_finished(task_key(p, r), save_requests)]

        total = sum(reps.values())
        progress.start(loaded.base.name, total, total - len(unfinished()))
        ran = 0
        failures: list[TaskFailure] = []
        try:
            while True:
                batch = [factory.task(p, r) for p, r in unfinished()]
                for result in pool.map_unordered(batch, keep_going=True):
                    if isinstance(result, TaskFailure):
                        failures.append(result)
                        progress.advance(0)
                        continue
                    store.write_task(result)
                    ran += 1
                    progress.advance(result.simulated)
                if failures:
                    raise TasksFailedError(failures, len(batch), out)
                if not targets:
                    break
                precision = _assess(store, reps, targets)
                step = max(2, (initial + 1) // 2)
                grown = {p: next_replications(n, list(precision[p].values()), step=step,
                                              maximum=cap) for p, n in reps.items()}
                if grown == reps:
                    break
                reps = grown
                progress.set_total(sum(reps.values()))
        finally:
            progress.stop()
        wall = time.perf_counter() - started

        def manifest(facts: dict[str, Any]) -> dict[str, Any]:
            return _manifest(loaded, factory, pool, store, facts, overrides=overrides,
                             reps=reps, targets=targets, precision=precision, cap=cap,
                             ran=ran, wall=wall, simulated_now=progress.simulated)

        keys = [task_key(p, r) for p, n in reps.items() for r in range(n)]
        written = store.assemble(keys, save_requests, manifest)
    return RunResult(out, written["summary"], written["devices"], written["server"],
                     json.loads((out / "manifest.json").read_text()),
                     grid_columns(loaded.base))


def _assess(store: RunStore, reps: dict[int, int], targets: Sequence[Target]
            ) -> dict[int, dict[str, Any]]:
    """Achieved precision of every target at every point, from the stored results."""
    out = {}
    for p, n in reps.items():
        keys = [task_key(p, r) for r in range(n)]
        out[p] = {t.metric: achieved(store.summary_values(keys, t.metric), t) for t in targets}
    return out


def _manifest(loaded: LoadedScenario, factory: TaskFactory, pool: Executor, store: RunStore,
              facts: dict[str, Any], *, overrides: Sequence[str], reps: dict[int, int],
              targets: Sequence[Target], precision: dict[int, dict[str, Any]], cap: int,
              ran: int, wall: float, simulated_now: int) -> dict[str, Any]:
    base = loaded.base
    counts = sorted(set(reps.values()))
    manifest: dict[str, Any] = {
        **base_manifest(), "scenario": base.name, "seed": base.seed,
        "scenario_hash": scenario_hash(loaded.raw), "scenario_file": str(loaded.path),
        "overrides": list(overrides), **pool.describe(),
        **_engine_facts(loaded, factory, reps, facts["engines"]),
        "sweep_keys": grid_columns(base), "points": len(loaded.points),
        "replications": counts[0] if len(counts) == 1 else
        {str(p): n for p, n in reps.items()},
        "tasks": sum(reps.values()), "tasks_run": ran, "tasks_resumed": store.resumed,
        "requests_simulated": facts["requests_simulated"],
        "requests_simulated_now": simulated_now, "wall_time_s": wall,
        "requests_per_s": simulated_now / max(wall, 1e-9),
        "warmup": _warmup_facts(base.horizon.warmup, facts["warmup_cut"]),
        "profiles": _profiles(loaded, factory),
    }
    if facts["requests_rows"]:
        manifest["requests_rows"] = facts["requests_rows"]
    if targets:
        points = []
        for p, results in precision.items():
            row = {"point": p, **factory.columns[p], "replications": reps[p]}
            row.update({m: a.as_dict() for m, a in results.items()})
            points.append(row)
        manifest["precision"] = {
            "targets": {t.metric: t.relative for t in targets}, "confidence": 0.95,
            "max_replications": cap,
            "met": all(a.met is not False for r in precision.values() for a in r.values()),
            "points": points}
    if store.warnings:
        manifest["warnings"] = list(store.warnings)
    return manifest


def _engine_facts(loaded: LoadedScenario, factory: TaskFactory, reps: dict[int, int],
                  engines: dict[str, str]) -> dict[str, Any]:
    """Which engine ran: ``engine`` for the run (``fast``, ``simpy`` or ``mixed``) and, per
    sweep point, what it asked for and how many replications each engine ran.

    A point on the fast path may still have replications run by SimPy: those
    with simultaneous events whose order SimPy's event queue decides
    (``simulator.tandem.AmbiguousOrder``).
    """
    points = []
    for p, n in reps.items():
        ran = [engines[task_key(p, r)] for r in range(n)]
        points.append({"point": p, **factory.columns[p],
                       "requested": loaded.points[p].scenario.engine,
                       "fast": ran.count("fast"), "simpy": ran.count("simpy")})
    used = set(engines.values())
    overall = used.pop() if len(used) == 1 else "mixed"
    return {"engine": overall, "engines": points}


def _warmup_facts(rule: int | str, cuts: list[int]) -> dict[str, Any]:
    if rule != "mser-5":
        return {"rule": "fixed", "requests": int(rule)}
    ordered = sorted(cuts)
    return {"rule": "mser-5", "min": ordered[0], "median": ordered[len(ordered) // 2],
            "max": ordered[-1]}


def _profiles(loaded: LoadedScenario, factory: TaskFactory) -> list[dict[str, Any]]:
    """Which profile each sweep point used and where its numbers came from."""
    seen = {}
    for point in loaded.points:
        model = factory.model(point.scenario)
        seen[(model.name, model.variant)] = {"name": model.name, "variant": model.variant,
                                             "provenance": dict(model.provenance)}
    return list(seen.values())
