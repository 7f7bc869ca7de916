"""Other tenants' jobs on a server: when they arrive and how big they are.

Why one module: background load has two shapes — Poisson jobs at a ``rate``,
optionally modulated by a repeating ``pattern`` of multipliers, or jobs whose
offered load follows a measured *utilisation trace* — and both are the same
non-homogeneous Poisson process drawn by thinning (Lewis & Shedler 1979):
candidates at a peak rate, each kept with probability level(t) / peak.  A
:class:`LoadCurve` gives level(t) and the peak; :func:`job_arrivals` is the
one sampler for all of them.

Utilisation trace files
-----------------------
Plain text ``time_s utilisation`` (two columns, spaces or a tab), or a CSV
whose header names a time column with its unit (``time_s``, ``t (min)``) and a
utilisation column (``utilisation``, ``utilization``, ``util``, ``load``,
``busy``; a fraction, or percent when its unit is ``%``).  Row i's
utilisation holds on ``[t_i, t_{i+1})``; times increase strictly and the first
is time 0; the span (the loop period) is ``t_last − t_first``, and the last
row's value is what holds after the span when the trace does not loop, as for
Pensieve bandwidth traces.  Utilisations are in ``[0, 1]``: the share of the
server's total speed that other tenants' work takes.

Units: s, FLOP, FLOP/s, 1/s.
"""

from __future__ import annotations

import bisect
import csv
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from simulator.traces import (
    _TIME_NAMES,
    _TIME_UNITS,
    TraceError,
    _check_increasing,
    _column_unit,
    _data_lines,
    _is_number,
    _number,
    _pick_column,
    _split_header,
    file_version,
)

_ARRIVAL_CHUNK = 256  # candidates drawn per call; fixed, so streams are reproducible

ALLOWED = ("utilisation trace: lines 'time_s utilisation', or a CSV whose header names a time "
           "column with its unit and a utilisation column, e.g. 'time_s,utilisation' or "
           "'t (min),util (%)'; times >= 0 and strictly increasing, utilisations in [0, 1] "
           "(0-100 with '%')")
"""What a utilisation trace file may hold (the tail of every error message)."""

_UTIL_NAMES = ("utilisation", "utilization", "util", "load", "busy", "u")
_UTIL_UNITS = {"": 1.0, "fraction": 1.0, "%": 0.01, "percent": 0.01}


@dataclass(frozen=True, eq=False)
class UtilisationTrace:
    """A piecewise-constant utilisation: ``levels[i]`` on ``[edges[i], edges[i+1])`` s.

    ``edges[0] == 0`` and ``edges[-1]`` is the span; ``tail`` holds after the
    span when the trace does not loop.  Arrays are read-only (shared).
    """

    path: str
    edges: np.ndarray
    levels: np.ndarray
    tail: float

    @property
    def span(self) -> float:
        """Length (s) of the trace; the loop period."""
        return float(self.edges[-1])

    @property
    def mean(self) -> float:
        """Time-average utilisation over the span."""
        return float(np.dot(self.levels, np.diff(self.edges)) / self.span)


def _read_rows(p: Path, columns_time: str | None, columns_util: str | None,
               time_unit: str | None) -> tuple[list[int], list[float], list[float]]:
    rows = iter(_data_lines(p))
    first = next(rows, None)
    if first is None:
        raise TraceError(p, None, "no data lines (the file is empty or only comments)",
                         ALLOWED)
    lines: list[int] = []
    times: list[float] = []
    utils: list[float] = []
    is_csv = (p.suffix.lower() == ".csv" or any(d in first[1] for d in (",", ";", "\t"))
              or not all(_is_number(tok) for tok in first[1].split()))
    if is_csv:
        header_line, header_text = first
        delimiter = next((d for d in (",", ";", "\t") if d in header_text), ",")
        header = [c.strip() for c in next(csv.reader([header_text], delimiter=delimiter))]
        ti = _pick_column(p, header_line, header, columns_time, _TIME_NAMES, _TIME_UNITS,
                          "time", ALLOWED)
        ui = _pick_column(p, header_line, header, columns_util, _UTIL_NAMES, _UTIL_UNITS,
                          "utilisation", ALLOWED)
        t_scale = _column_unit(p, header_line, header[ti], time_unit, _TIME_UNITS,
                               _TIME_NAMES, "time", "'time_s' or 'time (ms)'")
        unit = _split_header(header[ui], _UTIL_UNITS, _UTIL_NAMES)[1] or ""
        if unit not in _UTIL_UNITS:
            raise TraceError(p, header_line, f"unknown utilisation unit {unit!r} in column "
                             f"{header[ui]!r}", "allowed: none (a fraction) or '%'")
        u_scale = _UTIL_UNITS[unit]
        data = ((n, next(csv.reader([text], delimiter=delimiter))) for n, text in rows)
        width = len(header)
    else:
        if columns_time is not None or columns_util is not None:
            raise TraceError(p, first[0], "columns are named but the file has no header",
                             ALLOWED)
        t_scale, u_scale, ti, ui, width = _TIME_UNITS[time_unit or "s"], 1.0, 0, 1, 2
        data = ((n, text.split()) for n, text in [first, *rows])
    for number, cells in data:
        if len(cells) != width:
            raise TraceError(p, number, f"expected {width} columns, found {len(cells)}: "
                             f"{cells}", ALLOWED)
        t = _number(p, number, cells[ti].strip(), "time", ALLOWED) * t_scale
        u = _number(p, number, cells[ui].strip(), "utilisation", ALLOWED) * u_scale
        if u > 1.0:
            raise TraceError(p, number, f"utilisation {cells[ui].strip()!r} is above 1 (the "
                             "whole server)", ALLOWED)
        _check_increasing(p, number, t, times[-1] if times else None, ALLOWED)
        lines.append(number)
        times.append(t)
        utils.append(u)
    return lines, times, utils


def read_utilisation_trace(path: str | os.PathLike[str], time_column: str | None = None,
                           utilisation_column: str | None = None,
                           time_unit: str | None = None) -> UtilisationTrace:
    """Read a utilisation trace (see the module docstring)."""
    p = Path(path)
    if time_unit is not None and time_unit not in _TIME_UNITS:
        raise TraceError(p, None, f"unknown time unit {time_unit!r}",
                         f"allowed: {', '.join(_TIME_UNITS)}")
    lines, times, utils = _read_rows(p, time_column, utilisation_column, time_unit)
    if len(times) < 2:
        raise TraceError(p, lines[0] if lines else None, "a trace needs at least two samples: "
                         "a utilisation holds until the next timestamp, so one sample spans "
                         "no time", ALLOWED)
    if max(utils) <= 0:
        raise TraceError(p, None, "every utilisation is zero: no background load",
                         "remove server.background, or give a trace with a utilisation > 0")
    t = np.asarray(times)
    edges = t - t[0]
    levels = np.asarray(utils[:-1])
    for arr in (edges, levels):
        arr.setflags(write=False)
    return UtilisationTrace(path=str(p), edges=edges, levels=levels, tail=utils[-1])


def load_utilisation_trace(path: str | os.PathLike[str], time_column: str | None = None,
                           utilisation_column: str | None = None,
                           time_unit: str | None = None) -> UtilisationTrace:
    """:func:`read_utilisation_trace` with a per-process cache (keyed on mtime and size)."""
    return _cached(*file_version(path), time_column, utilisation_column, time_unit)


@functools.lru_cache(maxsize=64)
def _cached(path: str, mtime_ns: int, size: int, time_column: str | None,
            utilisation_column: str | None, time_unit: str | None) -> UtilisationTrace:
    return read_utilisation_trace(path, time_column, utilisation_column, time_unit)


# --------------------------------------------------------------------------- load curves


class LoadCurve(Protocol):
    """A level over time, as a multiplier of a base rate, bounded by ``peak``."""

    peak: float

    def level(self, t: float) -> float:
        """The level at simulation time ``t`` (s)."""


class PatternCurve:
    """``pattern[i]`` over equal slices of ``period`` s, repeating."""

    def __init__(self, pattern: list[float], period: float) -> None:
        self.pattern = pattern
        self.period = period
        self.slot = period / len(pattern)
        self.peak = max(pattern)

    def level(self, t: float) -> float:
        pattern = self.pattern
        return pattern[int((t % self.period) // self.slot) % len(pattern)]


class TraceCurve:
    """A utilisation trace on the simulation clock: trace time = (t + offset) / time_scale."""

    def __init__(self, trace: UtilisationTrace, loop: bool, time_scale: float,
                 offset: float) -> None:
        self.edges = trace.edges.tolist()
        self.levels = trace.levels.tolist()
        self.tail = trace.tail
        self.span = trace.span
        self.loop = loop
        self.time_scale = time_scale
        self.offset = offset
        self.peak = max(self.levels) if loop else max(max(self.levels), self.tail)

    def level(self, t: float) -> float:
        x = (t + self.offset) / self.time_scale
        if x >= self.span:
            if not self.loop:
                return self.tail
            x %= self.span
        return self.levels[bisect.bisect_right(self.edges, x) - 1]


def job_arrivals(rate: float, curve: LoadCurve | None, sample_multipliers,
                 rng: np.random.Generator) -> Iterator[tuple[float, float]]:
    """Arrival times (s) and work multipliers of background jobs, for ever.

    Poisson at ``rate`` (1/s); with a ``curve`` a non-homogeneous Poisson
    process of rate ``rate × curve.level(t)``, drawn by thinning: candidates
    at ``rate × peak``, each kept when ``u × peak < level`` for a uniform u.
    ``sample_multipliers(rng, n)`` draws n unit-mean work multipliers.  Draws
    come in fixed-size chunks (gaps, multipliers, then uniforms), so the
    stream is reproducible.
    """
    peak = curve.peak if curve is not None else 1.0
    now = 0.0
    while True:
        gaps = rng.exponential(1.0 / (rate * peak), _ARRIVAL_CHUNK).tolist()
        mults = sample_multipliers(rng, _ARRIVAL_CHUNK).tolist()
        keeps = rng.random(_ARRIVAL_CHUNK).tolist() if curve is not None else None
        for i, (gap, mult) in enumerate(zip(gaps, mults, strict=True)):
            now += gap
            if keeps is not None and keeps[i] * peak >= curve.level(now):
                continue
            yield now, mult
