"""Request timestamps from a file: read them, check them, replay them.

Why a trace of arrivals: a log of when requests really came (a camera's frame
times, a service's access log) carries the burstiness no textbook process
has.  This module turns such a file into an :class:`ArrivalTrace` — sorted
times on a clock that starts at the first timestamp — and replays it, looped
or not, from a start offset, for ``workload: {arrivals: trace}``.  A bad file
is rejected with a :class:`~simulator.traces.TraceError` naming the file, the
line and what is allowed, as for bandwidth traces.

Formats (lines that are empty or start with ``#`` are ignored)
----------------------------------------------------------------
plain text
    One timestamp per line, in seconds (or in ``time_unit`` when given).
CSV
    A header naming a time column with its unit (``time_s``, ``timestamp
    (ms)``, ``t[us]``; delimiter ``,``, ``;`` or tab), then one row per request;
    other columns are ignored.  The column is found by name (``time``, ``t``,
    ``timestamp``, ``ts``) or chosen with ``columns: {time: ...}``; the unit
    may be given with ``columns: {time_unit: ...}``.  A file whose name ends in
    ``.csv``, or whose first data line holds words or a delimiter, is CSV.

Timestamps must be finite, ``>= 0`` and non-decreasing (equal timestamps are
requests that arrive together).  The first timestamp is the trace's time 0,
so absolute clock times (e.g. Unix seconds) work as they are.

Units: s.
"""

from __future__ import annotations

import csv
import functools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.traces import (
    _TIME_NAMES,
    _TIME_UNITS,
    TraceError,
    _column_unit,
    _csv_cells,
    _data_lines,
    _is_number,
    _number,
    _pick_column,
    file_version,
)

ALLOWED = ("arrival trace: one timestamp per line in seconds (or in columns.time_unit), or "
           "a CSV whose header names a time column with its unit, e.g. 'time_s' or "
           "'timestamp (ms)'; timestamps >= 0 and non-decreasing")
"""What an arrival trace file may hold (the tail of every error message)."""


@dataclass(frozen=True, eq=False)
class ArrivalTrace:
    """Request times read from a file.

    ``times`` (s, read-only) are non-decreasing and start at 0: the file's
    first timestamp is subtracted from all of them.  ``span`` is the last one.
    """

    path: str
    times: np.ndarray

    @property
    def rows(self) -> int:
        """Requests in one pass of the trace."""
        return len(self.times)

    @property
    def span(self) -> float:
        """Time (s) from the first to the last request."""
        return float(self.times[-1])

    def default_period(self) -> float | None:
        """Loop period (s) that keeps the trace's own mean rate, or None if it has none.

        ``span × n / (n − 1)``: the span plus one mean gap, so one period holds
        ``n`` requests at the rate ``(n − 1) / span`` the trace shows.  A trace
        of one timestamp, or whose timestamps are all equal, has no rate.
        """
        n = self.rows
        if n < 2 or self.span <= 0:
            return None
        return self.span * n / (n - 1)


def _check_order(path: Path, line: int, t: float, previous: float | None) -> None:
    if previous is not None and t < previous:
        raise TraceError(path, line, f"timestamp goes backwards ({t:g} s after {previous:g} "
                         "s): the file is not sorted by time", ALLOWED)


def _is_csv(path: Path, first: str) -> bool:
    """CSV when the name says so, or the first data line has a delimiter or words."""
    if path.suffix.lower() == ".csv" or any(d in first for d in (",", ";", "\t")):
        return True
    return not all(_is_number(tok) for tok in first.split())


def read_arrival_trace(path: str | os.PathLike[str], column: str | None = None,
                       time_unit: str | None = None) -> ArrivalTrace:
    """Read request timestamps (plain text or CSV, see the module docstring)."""
    p = Path(path)
    if time_unit is not None and time_unit not in _TIME_UNITS:
        raise TraceError(p, None, f"unknown time unit {time_unit!r}",
                         f"allowed: {', '.join(_TIME_UNITS)}")
    rows = iter(_data_lines(p))
    first = next(rows, None)
    if first is None:
        raise TraceError(p, None, "no data lines (the file is empty or only comments)",
                         ALLOWED)
    times: list[float] = []
    if _is_csv(p, first[1]):
        _read_csv_times(p, first, rows, column, time_unit, times)
    else:
        if column is not None:
            raise TraceError(p, first[0], f"columns.time {column!r} is given but the file has "
                             "no header", ALLOWED)
        scale = _TIME_UNITS[time_unit or "s"]
        for number, line in [first, *rows]:
            parts = line.split()
            if len(parts) != 1:
                raise TraceError(p, number, f"expected one timestamp, found {len(parts)} "
                                 f"columns: {line!r}", ALLOWED)
            t = _number(p, number, parts[0], "timestamp", ALLOWED) * scale
            _check_order(p, number, t, times[-1] if times else None)
            times.append(t)
    arr = np.asarray(times, dtype=float)
    arr = arr - arr[0]
    arr.setflags(write=False)
    return ArrivalTrace(path=str(p), times=arr)


def _read_csv_times(p: Path, header_row: tuple[int, str], rows: Iterator[tuple[int, str]],
                    column: str | None, time_unit: str | None, times: list[float]) -> None:
    header_line, header_text = header_row
    delimiter = next((d for d in (",", ";", "\t") if d in header_text), ",")
    header = [cell.strip() for cell in next(csv.reader([header_text], delimiter=delimiter))]
    if all(_is_number(cell) for cell in header):
        raise TraceError(p, header_line, "the first row is numbers, not a header naming the "
                         "time column and its unit", ALLOWED)
    ti = _pick_column(p, header_line, header, column, _TIME_NAMES, _TIME_UNITS, "time",
                      ALLOWED)
    scale = _column_unit(p, header_line, header[ti], time_unit, _TIME_UNITS, _TIME_NAMES,
                         "time", "'time_s' or 'timestamp (ms)'")
    for number, text in rows:
        cells = _csv_cells(p, number, text, delimiter, len(header), ALLOWED)
        t = _number(p, number, cells[ti].strip(), "timestamp", ALLOWED) * scale
        _check_order(p, number, t, times[-1] if times else None)
        times.append(t)
    if not times:
        raise TraceError(p, None, "a header but no timestamps", ALLOWED)


def load_arrival_trace(path: str | os.PathLike[str], column: str | None = None,
                       time_unit: str | None = None) -> ArrivalTrace:
    """:func:`read_arrival_trace` with a per-process cache (keyed on mtime and size).

    Why: every replication of every device replays the same file.
    """
    return _cached(*file_version(path), column, time_unit)


@functools.lru_cache(maxsize=64)
def _cached(path: str, mtime_ns: int, size: int, column: str | None,
            time_unit: str | None) -> ArrivalTrace:
    return read_arrival_trace(path, column, time_unit)


def replay(times: np.ndarray, period: float | None, offset: float) -> Iterator[float]:
    """Arrival times (s) of a trace started at ``offset``, looped every ``period``.

    ``times`` are the trace's times on the simulation clock (already scaled);
    trace time ``τ`` arrives at ``τ − offset`` for every ``τ >= offset``.
    With ``period`` (not None) the trace repeats: copy ``k`` of timestamp
    ``t`` is at trace time ``k·period + t``.  Without it the iterator ends
    after the last timestamp.
    """
    if period is None:
        start = int(np.searchsorted(times, offset, side="left"))
        for t in times[start:].tolist():
            yield t - offset
        return
    cycle = math.floor(offset / period)
    start = int(np.searchsorted(times, offset - cycle * period, side="left"))
    values = times.tolist()
    while True:
        base = cycle * period
        for t in values[start:]:
            yield base + t - offset
        cycle += 1
        start = 0


def count_from(times: np.ndarray, offset: float) -> int:
    """Timestamps at or after ``offset`` (s): the requests a non-looping replay yields."""
    return len(times) - int(np.searchsorted(times, offset, side="left"))
