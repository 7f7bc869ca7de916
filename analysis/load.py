"""Read a run directory into tidy pandas objects.

Why: every figure, table and statistic starts from the same four files that
``splitsim run`` writes (DESIGN §7, §9).  Reading them in one place means the
plots and the report agree on what a "sweep key" is, how sweep values are
ordered, and which columns are metrics.  Column names carry their unit as a
suffix (``_s`` seconds, ``_j`` joules, ``_per_s`` 1/s, ``_bps`` bit/s); rates
and fractions (``accuracy``, ``exit_rate``, ...) are dimensionless in [0, 1].

This module never imports the simulator: a run directory is plain data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

#: Metric columns of ``summary.parquet`` (DESIGN §9), in contract order.
SUMMARY_METRICS: tuple[str, ...] = (
    "requests",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p95_s",
    "latency_p99_s",
    "device_wait_mean_s",
    "device_compute_mean_s",
    "uplink_mean_s",
    "server_wait_mean_s",
    "server_service_mean_s",
    "downlink_mean_s",
    "device_energy_mean_j",
    "accuracy",
    "exit_rate",
    "offload_rate",
    "bytes_up_mean",
    "split_mean",
    "deadline_miss_rate",
    "throughput_per_s",
)

#: Per-stage mean times whose sum is the mean latency (DESIGN §9 latency contract).
STAGE_METRICS: tuple[str, ...] = (
    "device_wait_mean_s",
    "device_compute_mean_s",
    "uplink_mean_s",
    "server_wait_mean_s",
    "server_service_mean_s",
    "downlink_mean_s",
)

#: Columns of ``summary.parquet`` that identify a row but are neither sweep keys nor metrics.
ID_COLUMNS: tuple[str, ...] = ("replication", "seed")

#: Grid column naming the ``cases:`` entry of a point (the only grid key without a dot).
CASE_COLUMN = "case"

#: Per-request columns of ``requests.parquet`` (DESIGN §9) that are not sweep keys.
REQUEST_COLUMNS: tuple[str, ...] = (
    "replication",
    "request",
    "device",
    "arrival_s",
    "split",
    "exit",
    "latency_s",
    "device_wait_s",
    "device_compute_s",
    "uplink_s",
    "server_wait_s",
    "server_service_s",
    "downlink_s",
    "energy_j",
    "bytes_up",
    "correct",
    "uplink_rate_bps",
    "deadline_s",
    "deadline_met",
    "seed",
)


class RunDirError(ValueError):
    """A run directory is missing a required file or holds unreadable data."""


def infer_sweep_keys(df: pd.DataFrame) -> list[str]:
    """Sweep-key columns of a summary/requests frame: the dotted names.

    Why: a caller holding only a DataFrame (not a :class:`Run`) still needs to
    know which columns define a sweep point, e.g. to pair replications.  Sweep
    keys are dotted scenario paths (``scheduler.policy``) while metric and id
    columns never contain a dot, so a metric the engine adds later is never
    mistaken for a sweep key.
    """
    known = set(SUMMARY_METRICS) | set(ID_COLUMNS) | set(REQUEST_COLUMNS)
    return [c for c in df.columns
            if ("." in str(c) or c == CASE_COLUMN) and c not in known]


def grid_keys(scenario: dict[str, Any], manifest: dict[str, Any] | None = None,
              columns: list[str] | None = None) -> list[str]:
    """The columns that identify a sweep point, in the order ``splitsim run`` writes them.

    Why: a grid is more than the cartesian ``sweep``; ``zip`` keys move
    together and named ``cases`` add a ``case`` column, and all of them must
    be held fixed when replications are paired or points are told apart.  The
    manifest's ``sweep_keys`` (written by the run) is the authority; a run
    directory without it falls back to the scenario: ``case`` (when
    ``cases:`` is used), the ``zip`` keys, then the ``sweep`` keys, which is
    the run's own order.  With ``columns`` only keys present there are kept.

    Raises :class:`RunDirError` if the manifest's ``sweep_keys`` is not a list
    of strings or the scenario's ``sweep``/``zip``/``cases`` is not a mapping.
    """
    listed = (manifest or {}).get("sweep_keys")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
            raise RunDirError("manifest.json: `sweep_keys` must be a list of column names")
        keys = list(listed)
    else:
        for block in ("sweep", "zip", "cases"):
            if not isinstance(scenario.get(block) or {}, dict):
                raise RunDirError(f"scenario.yaml: `{block}` must be a mapping")
        keys = ([CASE_COLUMN] if scenario.get("cases") else []) \
            + list(scenario.get("zip") or {}) + list(scenario.get("sweep") or {})
    keys = list(dict.fromkeys(keys))
    if columns is not None:
        keys = [k for k in keys if k in columns]
    return keys


_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")
_PREFIX = {"n": 1e-9, "u": 1e-6, "µ": 1e-6, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6,
           "G": 1e9, "T": 1e12}


def numeric_axis(values: pd.Series) -> tuple[pd.Series, str] | None:
    """Read a sweep column as numbers, with the unit it was written in.

    Why: a swept parameter such as ``channel.uplink.rate: [5 Mbps, 20 Mbps]``
    arrives as strings; a line plot needs it as numbers on a linear axis.
    Returns ``(numbers, unit)`` where ``unit`` is the common unit ("" for bare
    numbers), converting SI prefixes when the values mix e.g. kbps and Mbps
    (the largest value's spelling wins), or ``None`` if the column is
    categorical (policy names, variants, booleans).
    """
    if values.dtype == bool or isinstance(values.dtype, pd.BooleanDtype):
        return None
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float), ""
    parsed: list[tuple[float, str]] = []
    for v in values:
        if isinstance(v, bool):
            return None
        if isinstance(v, int | float | np.integer | np.floating):
            parsed.append((float(v), ""))
            continue
        m = _QUANTITY.match(str(v))
        if m is None:
            return None
        parsed.append((float(m.group(1)), m.group(2)))
    units = {u for _, u in parsed}
    if len(units) <= 1:
        unit = units.pop() if units else ""
        return pd.Series([x for x, _ in parsed], index=values.index, dtype=float), unit
    # Mixed spellings: they must share a base unit after stripping one SI prefix.
    def split(u: str) -> tuple[float, str]:
        if len(u) > 1 and u[0] in _PREFIX:
            return _PREFIX[u[0]], u[1:]
        return 1.0, u

    bases = {split(u)[1] for u in units}
    if len(bases) != 1:
        return None
    biggest = max(parsed, key=lambda p: abs(p[0]) * split(p[1])[0])
    target_unit = biggest[1]
    target_scale = split(target_unit)[0]
    numbers = [x * split(u)[0] / target_scale for x, u in parsed]
    return pd.Series(numbers, index=values.index, dtype=float), target_unit


def _hashable(value: Any) -> Any:
    """Turn list/dict sweep values into stable strings so they can be grouped."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _sort_key(values: list[Any]) -> list[Any]:
    """Order for sweep values: numerically when possible, else as first seen."""
    numeric = numeric_axis(pd.Series(values, dtype=object))
    if numeric is None:
        return values
    nums = numeric[0].tolist()
    return [v for _, v in sorted(zip(nums, values, strict=True), key=lambda t: t[0])]


def _tidy(df: pd.DataFrame, sweep_keys: list[str], order: dict[str, list[Any]]) -> pd.DataFrame:
    """Make sweep columns hashable and ordered categoricals, then sort rows.

    The category order is the order the scenario lists the values in (so the
    legend follows the user's sweep), with numeric sweeps sorted ascending.
    """
    df = df.copy()
    for key in sweep_keys:
        col = df[key].map(_hashable)
        present = list(dict.fromkeys(col.dropna().tolist()))
        wanted = [_hashable(v) for v in order.get(key, [])]
        if numeric_axis(pd.Series(present, dtype=object)) is not None:
            cats = _sort_key(present)
        else:
            cats = [v for v in wanted if v in present] + [v for v in present if v not in wanted]
        df[key] = pd.Categorical(col, categories=cats, ordered=True)
    sort_by = [*sweep_keys, *[c for c in ("replication", "request") if c in df.columns]]
    if sort_by:
        df = df.sort_values(sort_by, kind="stable").reset_index(drop=True)
    return df


@dataclass
class Run:
    """One run directory, read lazily.

    Attributes:
        path: the run directory.
        scenario: the resolved scenario (``scenario.yaml``) as a dict.
        scenario_text: the YAML text exactly as written, for the report.
        manifest: ``manifest.json`` as a dict (empty if absent).
        sweep_keys: the grid columns of the summary — every sweep and zip key
            and ``case`` when the scenario has ``cases:`` — in the order the
            run lists them (manifest ``sweep_keys``, see :func:`grid_keys`);
            empty for a run without a grid.
    """

    path: Path
    scenario: dict[str, Any]
    scenario_text: str
    manifest: dict[str, Any]
    sweep_keys: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Scenario name, or the directory name if the scenario has none."""
        return str(self.scenario.get("name") or self.path.name)

    @cached_property
    def summary(self) -> pd.DataFrame:
        """``summary.parquet``: one row per sweep point × replication."""
        df = pd.read_parquet(self.path / "summary.parquet")
        return _tidy(df, self.sweep_keys, self._sweep_values())

    @cached_property
    def requests(self) -> pd.DataFrame | None:
        """``requests.parquet`` (one row per request), or ``None`` if not saved."""
        path = self.path / "requests.parquet"
        if not path.exists():
            return None
        df = pd.read_parquet(path)
        keys = [k for k in self.sweep_keys if k in df.columns]
        return _tidy(df, keys, self._sweep_values())

    @property
    def replications(self) -> int:
        """Number of distinct replications in the summary."""
        if "replication" not in self.summary.columns:
            return 1
        return int(self.summary["replication"].nunique())

    @property
    def sweep_points(self) -> int:
        """Number of distinct sweep points (1 for a run without a sweep)."""
        if not self.sweep_keys:
            return 1
        return int(self.summary.groupby(self.sweep_keys, observed=True).ngroups)

    def _sweep_values(self) -> dict[str, list[Any]]:
        """Each grid key's values in the order the scenario lists them."""
        order: dict[str, list[Any]] = {}
        for block in ("zip", "sweep"):
            table = self.scenario.get(block) or {}
            if isinstance(table, dict):
                order.update({k: list(v) if isinstance(v, list) else [v]
                              for k, v in table.items()})
        cases = self.scenario.get("cases") or {}
        if isinstance(cases, dict) and cases:
            order[CASE_COLUMN] = list(cases)
        return order


def load(run_dir: str | Path) -> Run:
    """Open a run directory written by ``splitsim run``.

    Raises :class:`RunDirError` (a ``ValueError``) if ``summary.parquet`` or
    ``scenario.yaml`` is missing, so the CLI can report bad input with exit 2.
    The parquet files are read on first access of ``.summary`` / ``.requests``.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a run directory")
    if not (path / "summary.parquet").exists():
        raise RunDirError(f"{path} has no summary.parquet; is it a finished `splitsim run` output?")
    scenario_path = path / "scenario.yaml"
    if not scenario_path.exists():
        raise RunDirError(f"{path} has no scenario.yaml")
    text = scenario_path.read_text(encoding="utf-8")
    try:
        scenario = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RunDirError(f"{scenario_path} is not valid YAML: {exc}") from exc
    if not isinstance(scenario, dict):
        raise RunDirError(f"{scenario_path} does not hold a mapping")
    manifest: dict[str, Any] = {}
    manifest_path = path / "manifest.json"
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunDirError(f"{manifest_path} is not valid JSON: {exc}") from exc
    columns = _parquet_columns(path / "summary.parquet")
    sweep = scenario.get("sweep") or {}
    if not isinstance(sweep, dict):
        raise RunDirError(f"{scenario_path}: `sweep` must map dotted keys to lists of values")
    keys = grid_keys(scenario, manifest, columns)
    return Run(path=path, scenario=scenario, scenario_text=text, manifest=manifest,
               sweep_keys=keys)


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)
