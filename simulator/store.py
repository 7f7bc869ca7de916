"""The run directory: resolved scenario, one file per finished task, tables and manifest.

Layout (README "What a run directory holds")::

    RUN_DIR/
      run.json                        identity: scenario hash, version, grid (written first)
      scenario.yaml                   the scenario as run (overrides applied)
      tasks/p0003-r0012.json          one per finished task: summary row, device and
                                      server rows, requests simulated, warm-up cut
      tasks/p0003-r0012.requests.parquet   its counted requests (with --save-requests)
      summary.parquet devices.parquet server.parquet [requests.parquet]
                                      assembled from tasks/ in (point, replication) order
      manifest.json                   written last: the run is complete

Why atomic: a run that is killed, or a disk that fills, must never leave a
half-written file that looks complete.  Every file is written to a temporary
name in the same directory and renamed into place; a task's JSON is renamed
after its requests file, so a task counts as finished only when all of it is
on disk.  The final tables are always assembled from the task files — for an
uninterrupted run exactly as for a resumed one — so a resumed run's
``summary.parquet`` is byte-identical to an uninterrupted run's.

Why a scenario hash: resuming into a directory that holds another scenario
would silently mix results.  The hash covers the resolved scenario except
``replications`` (each task's result does not depend on how many there are,
so a run can be extended) and ``description``.
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from simulator import __version__

RUN_STATE = "run.json"
TASKS = "tasks"
MANIFEST = "manifest.json"
TABLES = ("summary.parquet", "devices.parquet", "server.parquet", "requests.parquet")
_OURS = (RUN_STATE, "scenario.yaml", MANIFEST, *TABLES)
_NOT_IDENTITY = ("replications", "description")
#: Rows per parquet row group of the per-request files (bounds memory when streaming).
ROW_GROUP = 131_072
# mkstemp creates 0600 files; finished files get the usual permissions (0666 & ~umask).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class StoreError(OSError):
    """The run directory cannot be used (other scenario, in use, unwritable, disk full)."""


def _remedy(exc: OSError) -> str:
    """What the user can do about a failed write (the end of a StoreError message)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ("free some space or choose another --out; finished tasks are kept, so "
                "--resume continues the run")
    return "choose a directory you can write to"


def scenario_hash(raw: dict[str, Any]) -> str:
    """SHA-256 of the resolved scenario in canonical JSON, without ``replications``."""
    ident = {k: v for k, v in raw.items() if k not in _NOT_IDENTITY}
    canonical = json.dumps(ident, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


# ------------------------------------------------------------------ atomic files


def write_atomic(path: Path, writer: Callable[[Path], None], durable: bool = False) -> None:
    """Call ``writer(tmp)`` then rename ``tmp`` to ``path``; clean up on failure.

    ``durable`` also flushes the file and its directory to disk (survives a
    power cut, not only a killed process).
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
        if durable:
            _fsync(path.parent, directory=True)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: Path, text: str, durable: bool = False) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text), durable)


def write_table(path: Path, frame: pd.DataFrame) -> None:
    write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def _dumps(obj: Any) -> str:
    """JSON with exact floats (repr round-trips) and NaN/inf kept."""
    return json.dumps(obj, default=str, allow_nan=True)


# ------------------------------------------------------------------ the run directory


class RunStore:
    """An open run directory: which tasks are finished, writing and assembling them.

    Open it with :meth:`open`; it holds an exclusive lock on the directory
    until :meth:`close` (released by the OS if the process dies).
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tasks_dir = out / TASKS
        self.finished: dict[str, bool] = {}   # task key → its requests are stored
        self.resumed = 0
        self.warnings: list[str] = []
        self._lock: int | None = None
        self._rows: dict[str, dict[str, Any]] = {}

    # -- opening

    @classmethod
    def open(cls, out: Path, raw: dict[str, Any], *, resume: bool = False,
             force: bool = False, plugins: dict[str, str] | None = None) -> RunStore:
        """Create or reopen ``out`` for the scenario ``raw``.

        A directory holding another scenario is refused unless ``force``
        (which discards it); one holding this scenario is continued with
        ``resume`` and refused without it (``force`` starts over).
        ``plugins`` maps plug-in policy names to a digest of their code
        (``plugin_code_digests``): resuming with other code warns, like
        resuming with another splitsim version.
        """
        plugins = plugins or {}
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise StoreError(f"--out {out}: exists and is not a directory")
        try:
            out.mkdir(parents=True, exist_ok=True)
            probe = out / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"--out {out}: cannot write there ({exc.strerror or exc}); "
                             f"{_remedy(exc)}") from exc
        store = cls(out)
        store._acquire_lock()
        try:
            store._check_identity(raw, resume, force, plugins)
            store.tasks_dir.mkdir(exist_ok=True)
            store._sweep_temporaries()
            store._scan()
            digest = scenario_hash(raw)
            if not (out / RUN_STATE).exists():
                state = {"format": 1, "scenario_hash": digest, "splitsim_version": __version__,
                         "plugins": plugins,
                         "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
                write_text(out / RUN_STATE, json.dumps(state, indent=2), durable=True)
            write_text(out / "scenario.yaml", yaml.safe_dump(raw, sort_keys=False))
        except BaseException:
            store.close()
            raise
        return store

    def _acquire_lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        fd = os.open(self.out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(f"--out {self.out}: another splitsim run is using this "
                             f"directory; wait for it or choose another --out") from None
        self._lock = fd

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_identity(self, raw: dict[str, Any], resume: bool, force: bool,
                        plugins: dict[str, str]) -> None:
        out = self.out
        state_path = out / RUN_STATE
        if not state_path.exists():
            if (out / MANIFEST).exists() or (out / "summary.parquet").exists():
                if not force:
                    raise StoreError(f"--out {out}: already holds a run; choose another "
                                     f"directory or pass --force to overwrite it")
                self._discard()
            return
        try:
            state = json.loads(state_path.read_text())
            stored_hash = state["scenario_hash"]
        except (OSError, ValueError, KeyError, TypeError):
            if not force:
                raise StoreError(f"--out {out}: {RUN_STATE} is unreadable, so the run there "
                                 f"cannot be checked; pass --force to discard it") from None
            self._discard()
            return
        if stored_hash != scenario_hash(raw):
            if not force:
                changed = _changes(out / "scenario.yaml", raw)
                raise StoreError(f"--out {out}: holds a run of a different scenario "
                                 f"({changed}); choose another --out, or pass --force to "
                                 f"discard that run")
            self._discard()
            return
        if not resume:
            if not force:
                n = len(list((out / TASKS).glob("*.json"))) if (out / TASKS).is_dir() else 0
                raise StoreError(f"--out {out}: already holds a run of this scenario ({n} "
                                 f"task(s) finished); pass --resume to continue it, or "
                                 f"--force to start over")
            self._discard()
            return
        version = state.get("splitsim_version")
        if version != __version__:
            self.warnings.append(f"--out {out}: its finished tasks were simulated by "
                                 f"splitsim {version}, this is {__version__}")
        stored = state.get("plugins", {})
        for name, digest in plugins.items():
            if stored.get(name, digest) != digest:
                self.warnings.append(f"--out {out}: the code of plug-in policy '{name}' has "
                                     f"changed since its finished tasks were simulated; they "
                                     f"are kept (pass --force to start over)")

    def _discard(self) -> None:
        """Remove what a previous run wrote (nothing else in the directory)."""
        shutil.rmtree(self.tasks_dir, ignore_errors=True)
        for name in _OURS:
            (self.out / name).unlink(missing_ok=True)

    def _sweep_temporaries(self) -> None:
        """Temporary files of a killed run are never complete: remove them."""
        for folder in (self.out, self.tasks_dir):
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    def _scan(self) -> None:
        for path in sorted(self.tasks_dir.glob("*.json")):
            try:
                rec = json.loads(path.read_text())
                saved = bool(rec["requests"])
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)   # unreadable: simulate it again
                continue
            key = path.name.removesuffix(".json")
            if saved and not self._requests_path(key).exists():
                saved = False
            self.finished[key] = saved
        self.resumed = len(self.finished)

    # -- tasks

    def _task_path(self, key: str) -> Path:
        return self.tasks_dir / f"{key}.json"

    def _requests_path(self, key: str) -> Path:
        return self.tasks_dir / f"{key}.requests.parquet"

    def is_finished(self, key: str, need_requests: bool) -> bool:
        saved = self.finished.get(key)
        return saved is not None and (saved or not need_requests)

    def write_task(self, result: Any) -> None:
        """Store one ``TaskResult``: its requests (if any), then its JSON as the mark."""
        key = result.key
        try:
            if result.requests is not None:
                write_atomic(self._requests_path(key), lambda tmp: pq.write_table(
                    result.requests, tmp, row_group_size=ROW_GROUP), durable=True)
            rec = {"point": result.point, "replication": result.replication,
                   "summary": result.summary, "devices": result.devices,
                   "server": result.server, "simulated": result.simulated,
                   "warmup": result.warmup, "requests": result.requests is not None,
                   "engine": result.engine}
            write_text(self._task_path(key), _dumps(rec), durable=True)
        except OSError as exc:
            raise StoreError(f"--out {self.out}: writing task {key} failed "
                             f"({exc.strerror or exc}); {_remedy(exc)}") from exc
        self.finished[key] = result.requests is not None
        self._rows[key] = rec

    def read_task(self, key: str) -> dict[str, Any]:
        if key not in self._rows:
            self._rows[key] = json.loads(self._task_path(key).read_text())
        return self._rows[key]

    def summary_values(self, keys: Iterable[str], metric: str) -> list[float]:
        """``metric`` of the summary rows of ``keys`` (finished tasks)."""
        values = []
        for key in keys:
            v = self.read_task(key)["summary"].get(metric)
            values.append(math.nan if v is None else float(v))
        return values

    # -- assembling

    def assemble(self, keys: list[str], save_requests: bool,
                 manifest: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Write the tables from the task files of ``keys`` (in that order), then the manifest.

        ``manifest(facts)`` gets what the store counted (requests simulated,
        warm-up cuts, the engine that ran each task) and returns the manifest to
        write.  Returns the tables as DataFrames (``summary``, ``devices``,
        ``server``) plus ``requests_rows``.
        """
        rows, devices, server, simulated, cuts, engines = [], [], [], 0, [], {}
        for key in keys:
            rec = self.read_task(key)
            engines[key] = rec.get("engine", "simpy")  # tasks stored before the fast path
            rows.append(rec["summary"])
            devices.extend(rec["devices"])
            server.append(rec["server"])
            simulated += int(rec["simulated"])
            cuts.append(int(rec["warmup"]))
        self._rows.clear()
        tables = {"summary": pd.DataFrame(rows), "devices": pd.DataFrame(devices),
                  "server": pd.DataFrame(server)}
        out = self.out
        try:
            (out / MANIFEST).unlink(missing_ok=True)
            for name, frame in tables.items():
                write_table(out / f"{name}.parquet", frame)
            n_rows = 0
            if save_requests:
                files = [self._requests_path(k) for k in keys]
                n_rows = write_requests(out / "requests.parquet", files)
            else:
                (out / "requests.parquet").unlink(missing_ok=True)
            facts = {"requests_simulated": simulated, "warmup_cut": cuts,
                     "requests_rows": n_rows, "engines": engines}
            write_text(out / MANIFEST, json.dumps(manifest(facts), indent=2, default=str),
                       durable=True)
        except OSError as exc:
            raise StoreError(f"--out {out}: writing the results failed "
                             f"({exc.strerror or exc}); {_remedy(exc)}") from exc
        return {**tables, "requests_rows": n_rows}


def write_requests(path: Path, files: list[Path]) -> int:
    """Concatenate per-task request files into ``path``, one row group at a time.

    Only one row group is in memory at once, whatever the number of tasks or
    requests.  Columns keep one type throughout (a column that is all null in
    one task takes the type it has in the others).
    """
    schema = _unified_schema(files)
    rows = 0

    def stream(tmp: Path) -> None:
        nonlocal rows
        with pq.ParquetWriter(tmp, schema) as writer:
            for table in _row_groups(files):
                writer.write_table(table.cast(schema))
                rows += table.num_rows

    write_atomic(path, stream)
    return rows


def _unified_schema(files: list[Path]) -> pa.Schema:
    schemas = [pq.read_schema(f).remove_metadata() for f in files]
    if not schemas:
        return pa.schema([])
    return pa.unify_schemas(schemas, promote_options="permissive")


def _row_groups(files: list[Path]) -> Iterator[pa.Table]:
    for f in files:
        reader = pq.ParquetFile(f)
        try:
            for i in range(reader.num_row_groups):
                yield reader.read_row_group(i)
        finally:
            reader.close()


def _changes(saved: Path, raw: dict[str, Any], limit: int = 3) -> str:
    """What differs between the stored scenario and ``raw``, e.g. ``server.workers: 1 → 2``."""
    try:
        old = yaml.safe_load(saved.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "its scenario.yaml is missing or unreadable"
    a, b = _flatten(old), _flatten(raw)
    missing = "(unset)"
    diffs = [f"{k}: {a.get(k, missing)} → {b.get(k, missing)}"
             for k in dict.fromkeys([*a, *b])
             if k.split(".")[0] not in _NOT_IDENTITY and a.get(k, missing) != b.get(k, missing)]
    if not diffs:
        return "scenario hash differs"
    more = f", and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "changed " + "; ".join(diffs[:limit]) + more


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(node, list) and any(isinstance(v, dict) for v in node):
        out = {}
        for i, v in enumerate(node):
            out.update(_flatten(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: node}


def base_manifest() -> dict[str, Any]:
    """Version and platform facts every manifest carries."""
    import numpy
    import simpy

    return {"splitsim_version": __version__, "python": platform.python_version(),
            "numpy": numpy.__version__, "simpy": simpy.__version__,
            "pyarrow": pa.__version__, "platform": platform.platform()}
