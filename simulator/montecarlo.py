"""Monte Carlo: every sweep point × replication is one task with its own seeds.

Why tasks carry (point, replication) only: a task's random streams derive
from (scenario seed, replication) alone (``simulator.seeds``), so results do
not depend on which worker ran it or in which order, and the same
replication sees the same arrivals and channel at every sweep point (common
random numbers).  Results are put back in (point, replication) order, which
makes serial, process-pool and Dask runs bit-identical.

A task carries everything it needs (the validated scenario of its point and
the resolved model profile), so a Dask worker on another machine needs the
same splitsim installed, not the scenario's files.  Executors yield results
as they finish and keep only a bounded number of tasks in flight, so memory
does not grow with the number of tasks.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from profiles.model import ModelProfile
from simulator.fastpath import choose_engine, run_replication
from simulator.precision import mser_truncation
from simulator.scenario import LoadedScenario, Scenario, resolve_model
from simulator.summary import counted, summarise
from simulator.traces import read_trace_files, shipped_files

EXECUTORS = ("serial", "local", "dask")
_IN_FLIGHT_PER_WORKER = 2


class ExecutorError(ValueError):
    """An executor that cannot be used as asked (bad input: missing Dask, no scheduler)."""


@dataclass(frozen=True)
class Task:
    """One replication of one sweep point, self-contained (picklable, no file access).

    ``files`` holds the text of every trace file the scenario names (channel,
    arrival and utilisation traces), so a worker on another machine needs
    none of them on its disk.
    """

    point: int
    replication: int
    values: dict[str, Any]      # the point's sweep columns, parquet-friendly
    scenario: Scenario
    model: ModelProfile
    save_requests: bool
    engine: str = "simpy"       # "fast" or "simpy": from simulator.fastpath.choose_engine
    files: dict[str, str] = field(default_factory=dict)  # resolved path → text

    @property
    def key(self) -> str:
        return task_key(self.point, self.replication)


def task_key(point: int, replication: int) -> str:
    """File stem of a task in the run directory, e.g. ``p0003-r0012``."""
    return f"p{point:04d}-r{replication:04d}"


@dataclass(frozen=True)
class TaskResult:
    """What one task returns to the parent process."""

    point: int
    replication: int
    summary: dict[str, Any]
    devices: list[dict[str, Any]]
    server: dict[str, Any]
    requests: pa.Table | None
    simulated: int
    warmup: int                 # leading requests left out (fixed count or MSER-5)
    engine: str = "simpy"       # the engine that ran it ("fast" or "simpy")

    @property
    def key(self) -> str:
        return task_key(self.point, self.replication)


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised, or whose worker process died; the others go on.

    ``bad_input`` marks failures caused by the user's input (a plug-in that
    raises or returns an invalid decision); ``crashed`` a worker that died
    (killed, out of memory) — an environment failure.
    """

    point: int
    replication: int
    message: str
    bad_input: bool
    crashed: bool = False

    @property
    def key(self) -> str:
        return task_key(self.point, self.replication)


def _failure(task: Task, exc: BaseException) -> TaskFailure:
    from profiles.model import ProfileError
    from simulator.engine import SchedulerError
    from simulator.scenario import ScenarioError
    from simulator.schedulers import PluginError

    bad = isinstance(exc, SchedulerError | PluginError | ProfileError | ScenarioError)
    text = str(exc) if bad else f"{type(exc).__name__}: {exc}"
    return TaskFailure(task.point, task.replication, text, bad_input=bad)


def _crash(task: Task) -> TaskFailure:
    return TaskFailure(task.point, task.replication, "its worker process died (killed by a "
                       "signal or out of memory)", bad_input=False, crashed=True)


class TasksFailedError(RuntimeError):
    """Some tasks failed; the finished ones are stored and ``--resume`` continues.

    ``bad_input`` is true when every failure came from the user's input (a
    plug-in), which the CLI reports with exit code 2; a dead worker is an
    environment failure (exit code 1).
    """

    def __init__(self, failures: Sequence[TaskFailure], attempted: int, out: Path) -> None:
        self.failures = sorted(failures, key=lambda f: (f.point, f.replication))
        self.bad_input = all(f.bad_input for f in self.failures)
        first = self.failures[0]
        others = len(self.failures) - 1
        more = f" (and {others} more task(s) failed the same way or otherwise)" if others else ""
        super().__init__(
            f"{len(self.failures)} of {attempted} task(s) failed; task {first.key} (sweep point "
            f"{first.point}, replication {first.replication}): {first.message}{more}. The "
            f"{attempted - len(self.failures)} finished task(s) are kept in {out / 'tasks'}; "
            f"fix the cause and finish the run with --resume")


@dataclass(frozen=True)
class RunOutput:
    """All tasks of a run, in (point, replication) order (in memory: small runs, tests)."""

    summary: pd.DataFrame
    devices: pd.DataFrame
    server: pd.DataFrame
    requests: pd.DataFrame | None


# ------------------------------------------------------------------ one task


def run_task(task: Task) -> TaskResult:
    """Simulate one replication of one sweep point, on the engine its point chose."""
    scenario = task.scenario
    with shipped_files(task.files):
        result, engine = run_replication(scenario, task.model, task.replication, task.engine)
    warmup = warmup_cut(result.records, scenario.horizon.warmup)
    keys = task.values
    row = {**keys, "replication": task.replication, "seed": scenario.seed,
           **summarise(result, warmup, _deadlines(scenario), task.model.depth)}
    tag = {**keys, "replication": task.replication}
    requests = None
    if task.save_requests:
        rec = counted(result, warmup)
        n = len(rec["request"])
        columns = {k: pa.array([v] * n) for k, v in keys.items()}
        columns["replication"] = pa.array(np.full(n, task.replication, dtype=np.int64))
        columns.update({k: pa.array(v) for k, v in rec.items()})
        requests = pa.table(columns)
    return TaskResult(task.point, task.replication, row,
                      [{**tag, **_py(d)} for d in result.devices], {**tag, **_py(result.server)},
                      requests, len(result.records["request"]), warmup, engine)


def warmup_cut(records: dict[str, np.ndarray], warmup: int | str) -> int:
    """Arrival number from which requests count: the fixed warm-up, or MSER-5's cut."""
    if warmup != "mser-5":
        return int(warmup)
    order = np.argsort(records["request"], kind="stable")
    drop = mser_truncation(records["latency_s"][order])
    ids = records["request"][order]
    return int(ids[drop]) if drop < len(ids) else int(ids[-1]) + 1


def _py(mapping: dict[str, Any]) -> dict[str, Any]:
    """Numpy scalars as Python scalars (exact JSON round trip)."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in mapping.items()}


def _deadlines(scenario: Scenario) -> np.ndarray:
    """Relative deadline per device instance (NaN = none)."""
    out = []
    for spec in scenario.devices:
        d = spec.workload.deadline
        out += [np.nan if d is None else d] * spec.count
    return np.asarray(out, dtype=float)


# ------------------------------------------------------------------ the task list


def point_columns(loaded: LoadedScenario) -> list[dict[str, Any]]:
    """Each point's sweep values as parquet-friendly scalars, one type per column.

    Lists and mappings become their text; a column whose values mix types
    (``[1, auto]``) becomes text throughout, so every task writes the same schema.
    """
    rows = [{k: _plain(v) for k, v in p.values.items()} for p in loaded.points]
    for key in rows[0] if rows else ():
        kinds = {type(r[key]) for r in rows if r[key] is not None}
        if len(kinds) > 1 and kinds != {int, float}:
            for r in rows:
                r[key] = None if r[key] is None else str(r[key])
        elif kinds == {int, float}:
            for r in rows:
                r[key] = None if r[key] is None else float(r[key])
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


class TaskFactory:
    """Builds the tasks of a loaded scenario (models resolved once per point)."""

    def __init__(self, loaded: LoadedScenario, save_requests: bool) -> None:
        self.loaded = loaded
        self.save_requests = save_requests
        self.columns = point_columns(loaded)
        self._models: dict[str, ModelProfile] = {}
        self._engines: dict[int, str] = {}
        self._files: dict[int, dict[str, str]] = {}

    def model(self, scenario: Scenario) -> ModelProfile:
        key = scenario.model.model_dump_json()
        if key not in self._models:
            self._models[key] = resolve_model(scenario, self.loaded.path)
        return self._models[key]

    def engine(self, point: int) -> str:
        """The engine of a sweep point: ``fast`` where it applies (``engine: auto``)."""
        if point not in self._engines:
            sc = self.loaded.points[point].scenario
            self._engines[point] = choose_engine(sc, self.model(sc))
        return self._engines[point]

    def files(self, point: int) -> dict[str, str]:
        """The trace files a sweep point reads, read once on the lead (see ``Task``)."""
        if point not in self._files:
            sc = self.loaded.points[point].scenario
            world = {k: v for k, v in sc.model_dump().items()  # the profile is resolved
                     if k not in ("model", "sweep", "zip", "cases")}  # here; the grid is done
            self._files[point] = read_trace_files(_file_fields(world))
        return self._files[point]

    def task(self, point: int, replication: int) -> Task:
        sc = self.loaded.points[point].scenario
        return Task(point, replication, self.columns[point], sc, self.model(sc),
                    self.save_requests, self.engine(point), self.files(point))


def _file_fields(node: Any) -> Iterator[str]:
    """Every ``file: PATH`` value in a dumped scenario (trace files; already absolute)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "file" and isinstance(value, str):
                yield value
            else:
                yield from _file_fields(value)
    elif isinstance(node, list):
        for item in node:
            yield from _file_fields(item)


def tasks(loaded: LoadedScenario) -> list[tuple[int, int]]:
    """Every (point index, replication) pair of the scenario as written, in output order."""
    return [(p.index, r) for p in loaded.points for r in range(p.scenario.replications)]


# ------------------------------------------------------------------ executors


class Executor:
    """Runs tasks serially, in a local process pool, or on a Dask cluster.

    Use as a context manager; ``map_unordered`` may be called several times
    (one call per batch of replications) on the same pool or cluster.
    """

    def __init__(self, kind: str = "local", workers: int | None = None,
                 address: str | None = None) -> None:
        if kind not in EXECUTORS:
            raise ExecutorError(f"unknown executor '{kind}'; allowed: {', '.join(EXECUTORS)}")
        if address is not None and kind != "dask":
            raise ExecutorError(f"--address needs --executor dask (got --executor {kind})")
        self.kind = kind
        self.workers = workers
        self.address = address
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None
        self._cluster: Any = None
        if kind == "dask":
            check_dask()

    # -- lifecycle

    def __enter__(self) -> Executor:
        if self.kind == "dask":
            self._connect()   # an unreachable scheduler is reported before anything is written
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def describe(self) -> dict[str, Any]:
        """For the manifest: which executor, how many workers, where."""
        info: dict[str, Any] = {"executor": self.kind, "workers": self.workers}
        if self.kind == "local":
            info["workers"] = self.workers or os.cpu_count() or 1
        if self.kind == "dask":
            info["address"] = self.address or "LocalCluster"
            if self._client is not None:
                info["workers"] = len(self._client.nthreads())
        return info

    # -- running

    def map_unordered(self, todo: Iterable[Task], keep_going: bool = False
                      ) -> Iterator[TaskResult | TaskFailure]:
        """Run ``todo``, yielding each result as it finishes (any order).

        With ``keep_going`` a task that raises, or whose worker dies, is
        yielded as a ``TaskFailure`` and the other tasks go on; without it the
        first error propagates.
        """
        todo = list(todo)
        if not todo:
            return iter(())
        if self.kind == "serial" or (self.kind == "local" and len(todo) == 1
                                     and self._pool is None):
            return self._serial(todo, keep_going)
        if self.kind == "local":
            return self._local(todo, keep_going)
        return self._dask(todo, keep_going)

    @staticmethod
    def _serial(todo: list[Task], keep_going: bool) -> Iterator[TaskResult | TaskFailure]:
        for task in todo:
            try:
                result = run_task(task)
            except Exception as exc:
                if not keep_going:
                    raise
                yield _failure(task, exc)
            else:
                yield result

    def _local(self, todo: list[Task], keep_going: bool
               ) -> Iterator[TaskResult | TaskFailure]:
        """A process pool; a pool broken by a dying worker is replaced.

        When a worker dies every task in flight fails with it, so those tasks
        are rerun one at a time in a pool of their own: the one that kills its
        worker again is reported, the others finish.
        """
        n_workers = self.workers or os.cpu_count() or 1
        pending = deque(todo)
        window = _IN_FLIGHT_PER_WORKER * n_workers
        while pending:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=n_workers)
            running: dict[Future, Task] = {}
            suspects: list[Task] = []
            while pending and len(running) < window:
                task = pending.popleft()
                running[self._pool.submit(run_task, task)] = task
            while running and not suspects:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    task = running.pop(future)
                    exc = future.exception()
                    if exc is None:
                        yield future.result()
                    elif not keep_going:
                        raise exc
                    elif isinstance(exc, BrokenProcessPool):
                        suspects = [task, *running.values()]
                        running.clear()
                        break
                    else:
                        yield _failure(task, exc)
                while not suspects and pending and len(running) < window:
                    task = pending.popleft()
                    running[self._pool.submit(run_task, task)] = task
            if suspects:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
                for task in suspects:
                    yield from self._isolated(task)

    @staticmethod
    def _isolated(task: Task) -> Iterator[TaskResult | TaskFailure]:
        """Run one task in a process of its own, to tell a crash from a bystander."""
        with ProcessPoolExecutor(max_workers=1) as solo:
            future = solo.submit(run_task, task)
            try:
                yield future.result()
            except BrokenProcessPool:
                yield _crash(task)
            except Exception as exc:
                yield _failure(task, exc)

    def _dask(self, todo: list[Task], keep_going: bool = False
              ) -> Iterator[TaskResult | TaskFailure]:
        from distributed import as_completed

        client = self._connect()
        window = _IN_FLIGHT_PER_WORKER * max(1, sum(client.nthreads().values()))
        pending = iter(todo)
        first = [client.submit(run_task, t, pure=False) for t in itertools.islice(pending, window)]
        queue = as_completed(first)
        tasks_of = dict(zip(first, itertools.islice(todo, window), strict=True))
        for future in queue:
            task = tasks_of.pop(future)
            try:
                result = future.result()
            except Exception as exc:
                if not keep_going:
                    raise
                crashed = type(exc).__name__ == "KilledWorker"
                result = _crash(task) if crashed else _failure(task, exc)
            future.release()
            for nxt in pending:
                submitted = client.submit(run_task, nxt, pure=False)
                tasks_of[submitted] = nxt
                queue.add(submitted)
                break
            yield result

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        from distributed import Client, LocalCluster

        if self.address is not None:
            try:
                self._client = Client(self.address, timeout="10s")
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(f"--address {self.address}: cannot reach a Dask scheduler "
                                    f"there ({exc})") from exc
        else:
            self._cluster = LocalCluster(n_workers=self.workers or os.cpu_count() or 1,
                                         threads_per_worker=1, processes=True,
                                         host="127.0.0.1", dashboard_address=None,
                                         silence_logs=logging.CRITICAL)
            self._client = Client(self._cluster)
        return self._client


def check_dask() -> None:
    """Raise ``ExecutorError`` with the install command if Dask is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ExecutorError("--executor dask needs dask.distributed: "
                            "pip install 'splitsim[dask]'") from exc


# ------------------------------------------------------------------ in memory


def iterate_results(loaded: LoadedScenario, *, executor: str = "local",
                    workers: int | None = None, save_requests: bool = False,
                    address: str | None = None) -> Iterator[TaskResult]:
    """Run every task of ``loaded``, yielding results as they finish (any order)."""
    factory = TaskFactory(loaded, save_requests)
    todo = [factory.task(p, r) for p, r in tasks(loaded)]
    with Executor(executor, workers, address) as pool:
        yield from pool.map_unordered(todo)


def run_all(loaded: LoadedScenario, *, executor: str = "local", workers: int | None = None,
            save_requests: bool = False, address: str | None = None,
            on_result: Callable[[TaskResult], None] | None = None) -> RunOutput:
    """Run every task in memory and assemble the tables in (point, replication) order.

    For tests and small studies; ``simulator.run`` (and ``splitsim run``) store
    each task as it finishes, resume, and stream the per-request records.
    """
    results = []
    for res in iterate_results(loaded, executor=executor, workers=workers,
                               save_requests=save_requests, address=address):
        results.append(res)
        if on_result is not None:
            on_result(res)
    results.sort(key=lambda r: (r.point, r.replication))
    summary = pd.DataFrame([r.summary for r in results])
    devices = pd.DataFrame([d for r in results for d in r.devices])
    server = pd.DataFrame([r.server for r in results])
    requests = (pa.concat_tables([r.requests for r in results], promote_options="permissive")
                .to_pandas() if save_requests else None)
    return RunOutput(summary, devices, server, requests)
