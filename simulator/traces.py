"""Bandwidth traces: read them, check them, summarise them.

Why this module: a measured throughput log is the most honest channel a
scheduler can be tested on, but trace files come in several shapes and are
easy to misread (milliseconds taken for seconds, one sample off at the end).
Every reader here turns a file into one :class:`RateTrace` — a
piecewise-constant rate on ``[0, span)`` — with the semantics of DESIGN.md §9,
and rejects anything doubtful with a :class:`TraceError` naming the file, the
line and what is allowed.

Formats
-------
``pensieve``
    One sample per line, ``time_s rate_Mbps`` separated by spaces or a tab.
    Row i's rate holds on ``[t_i, t_{i+1})``; the span is ``t_last - t_first``
    (so the last row's rate lies outside the span: it is only used as the rate
    that holds after the end of a non-looping trace).  Times must increase
    strictly; the first time is mapped to 0.
``mahimahi``
    One non-negative integer millisecond per line, one line per 1500-byte
    (12 000-bit) delivery opportunity, repeated when several packets fit in
    the same millisecond; non-decreasing.  The span (the loop period) is the
    last timestamp.  Opportunity ``k`` ms is spread over the millisecond
    before it, ``[k-1, k)`` ms, so a millisecond with ``c`` lines runs at
    ``c × 12 Mbit/s``; a line at 0 ms is the same instant as the period end
    when the trace loops and counts in the last millisecond.  The mean is
    ``lines × 12000 bit / span``.
``csv``
    A header naming a time column and a rate column *with units*, e.g.
    ``time_s,rate_Mbps``, ``time (ms),bandwidth (kbps)`` or
    ``t[s];throughput[Mbit/s]`` (delimiter ``,``, ``;`` or tab), then one row
    per sample with the same semantics as Pensieve.  Columns are found by name
    (time: ``time``, ``t``, ``timestamp``, ``ts``; rate: ``rate``,
    ``bandwidth``, ``bw``, ``throughput``, ``tput``, ``capacity``, ``goodput``)
    or chosen explicitly; units may also be given explicitly.

Lines that are empty or start with ``#`` are ignored in every format.
A trace whose mean over its span is zero (all rates zero) is rejected.

Units: time in s, rates in bit/s, sizes in bits.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.units import RATE_BPS, TIME_S

MAHIMAHI_PACKET_BITS = 1500 * 8
"""Bits per Mahimahi delivery opportunity (one 1500-byte MTU packet)."""

FORMATS = ("auto", "pensieve", "mahimahi", "csv")
"""Accepted values for a ``format`` argument."""

STATS_KEYS = ("format", "rows", "duration_s", "mean_bps", "min_bps", "p5_bps", "p50_bps",
              "p95_bps", "max_bps")
"""Keys of :func:`trace_stats`, in order (DESIGN.md §9 contract)."""

MAHIMAHI_STATS_WINDOW_S = 1.0
"""Window (s) over which Mahimahi rates are averaged for min/percentiles/max.

At its native 1 ms resolution a Mahimahi rate is always a multiple of
12 Mbit/s (0 in a millisecond without a packet), so its percentiles would
describe packet granularity, not the link.
"""

_PENSIEVE_ALLOWED = ("Pensieve format: one sample per line, 'time_s rate_Mbps' separated by "
                     "spaces or a tab, times >= 0 and strictly increasing, rates >= 0")
_MAHIMAHI_ALLOWED = ("Mahimahi format: one integer millisecond >= 0 per line, non-decreasing, "
                     "one line per 1500-byte delivery opportunity")
_CSV_ALLOWED = ("CSV format: a header naming a time and a rate column with units, e.g. "
                "'time_s,rate_Mbps' or 'time (ms),bandwidth (kbps)', then one row per sample: "
                "times >= 0 and strictly increasing, rates >= 0")
_ALLOWED = {"pensieve": _PENSIEVE_ALLOWED, "mahimahi": _MAHIMAHI_ALLOWED, "csv": _CSV_ALLOWED}

_TIME_NAMES = ("time", "t", "timestamp", "ts")
_RATE_NAMES = ("rate", "bandwidth", "bw", "throughput", "tput", "capacity", "goodput")
_TIME_UNITS = dict(TIME_S)
_RATE_UNITS = dict(RATE_BPS)
_SHOWN_UNITS = {"time": "ns, us, ms, s, min, h",
                "rate": "bps, kbps, Mbps, Gbps, kbit/s, Mbit/s, B/s, kB/s, MB/s and other SI "
                        "prefixes"}


class TraceError(ValueError):
    """A trace file that cannot be used, with where and why.

    ``str(err)`` reads ``"<file>, line <n>: <problem> (<what is allowed>)"``;
    ``line`` is ``None`` when the problem concerns the whole file.
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, problem: str,
                 allowed: str = "") -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.allowed = allowed
        where = self.path if line is None else f"{self.path}, line {line}"
        super().__init__(f"{where}: {problem}" + (f" ({allowed})" if allowed else ""))

    def __reduce__(self) -> tuple[type[TraceError], tuple[str, int | None, str, str]]:
        # Exceptions are rebuilt from ``args`` when pickled (process pools).
        return (TraceError, (self.path, self.line, self.problem, self.allowed))


@dataclass(frozen=True, eq=False)
class RateTrace:
    """A piecewise-constant rate read from a file.

    Segment ``i`` runs at ``rates[i]`` bit/s on ``[edges[i], edges[i+1])`` s;
    ``edges[0] == 0`` and ``edges[-1]`` is the span.  ``cum[i]`` is the number
    of bits deliverable on ``[0, edges[i])``, which turns every transfer into
    two binary searches.  ``tail_rate`` (bit/s) is what holds after the span
    when the trace does not loop.  The arrays are read-only so one parsed file
    can be shared by every replication.
    """

    path: str
    format: str
    rows: int
    edges: np.ndarray
    rates: np.ndarray
    cum: np.ndarray
    tail_rate: float

    @property
    def span(self) -> float:
        """Length (s) of the trace; the loop period."""
        return float(self.edges[-1])

    @property
    def total_bits(self) -> float:
        """Bits deliverable over one span."""
        return float(self.cum[-1])

    @property
    def mean_bps(self) -> float:
        """Mean rate (bit/s) over the span: bits deliverable / span."""
        return self.total_bits / self.span


def _make_trace(path: str, fmt: str, rows: int, edges: np.ndarray, rates: np.ndarray,
                tail_rate: float) -> RateTrace:
    """Freeze arrays, add cumulative bits and reject traces that deliver nothing."""
    edges = np.asarray(edges, dtype=float)
    rates = np.asarray(rates, dtype=float)
    cum = np.concatenate(([0.0], np.cumsum(rates * np.diff(edges))))
    if not cum[-1] > 0:
        raise TraceError(path, None, "every rate in the trace is zero, so nothing could ever "
                         "be sent", "at least one sample before the last must have a rate > 0")
    for arr in (edges, rates, cum):
        arr.setflags(write=False)
    return RateTrace(path=path, format=fmt, rows=rows, edges=edges, rates=rates, cum=cum,
                     tail_rate=float(tail_rate))


# --------------------------------------------------------------------------- reading


def _data_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, stripped text)`` of lines that carry data."""
    for number, raw in enumerate(_read_text(path).splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def _read_text(path: Path) -> str:
    """The file's text: shipped with the task (``shipped_files``), else from the disk."""
    shipped = _SHIPPED.get(str(path))
    if shipped is not None:
        return shipped
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(path, None, "file not found", "give a path to an existing trace "
                         "file; relative paths are resolved against the scenario's "
                         "directory") from None
    except IsADirectoryError:
        raise TraceError(path, None, "is a directory, not a trace file") from None
    except UnicodeDecodeError:
        raise TraceError(path, None, "not a text file", "traces are plain text: Pensieve, "
                         "Mahimahi or CSV") from None


def _csv_cells(path: Path, line: int, text: str, delimiter: str, width: int,
               allowed: str) -> list[str]:
    """The cells of one CSV data row, which must have as many as the header (``width``)."""
    cells = next(csv.reader([text], delimiter=delimiter))
    if len(cells) != width:
        raise TraceError(path, line, f"expected {width} columns like the header, "
                         f"found {len(cells)}: {text!r}", allowed)
    return cells


def _number(path: Path, line: int, token: str, what: str, allowed: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise TraceError(path, line, f"{what} {token!r} is not a number", allowed) from None
    if not math.isfinite(value):
        raise TraceError(path, line, f"{what} {token!r} is not a finite number", allowed)
    if value < 0:
        raise TraceError(path, line, f"{what} {token!r} is negative", allowed)
    return value


def _empty(path: Path, allowed: str) -> TraceError:
    return TraceError(path, None, "no data lines (the file is empty or only comments)",
                      allowed)


def _samples_to_trace(path: Path, fmt: str, lines: list[int], times: list[float],
                      rates_bps: list[float], allowed: str) -> RateTrace:
    """Common tail of the Pensieve and CSV readers: sample rows → segments."""
    if not times:
        raise _empty(path, allowed)
    if len(times) < 2:
        raise TraceError(path, lines[0], "a trace needs at least two samples: a rate holds "
                         "until the next timestamp, so one sample spans no time", allowed)
    t = np.asarray(times)
    return _make_trace(str(path), fmt, len(times), t - t[0], np.asarray(rates_bps[:-1]),
                       rates_bps[-1])


def _check_increasing(path: Path, line: int, t: float, previous: float | None,
                      allowed: str) -> None:
    if previous is not None and t <= previous:
        problem = ("time repeats the previous one" if t == previous else "time goes backwards")
        raise TraceError(path, line, f"{problem} ({t:g} s after {previous:g} s): the file is "
                         "not sorted by time", allowed)


def read_pensieve(path: str | os.PathLike[str]) -> RateTrace:
    """Read a Pensieve trace: lines ``time_s rate_Mbps`` (see the module docstring)."""
    p = Path(path)
    lines: list[int] = []
    times: list[float] = []
    rates: list[float] = []
    for number, line in _data_lines(p):
        parts = line.split()
        if len(parts) != 2:
            raise TraceError(p, number, f"expected 2 columns, found {len(parts)}: {line!r}",
                             _PENSIEVE_ALLOWED)
        t = _number(p, number, parts[0], "time", _PENSIEVE_ALLOWED)
        r = _number(p, number, parts[1], "rate", _PENSIEVE_ALLOWED)
        _check_increasing(p, number, t, times[-1] if times else None, _PENSIEVE_ALLOWED)
        lines.append(number)
        times.append(t)
        rates.append(r * 1e6)
    return _samples_to_trace(p, "pensieve", lines, times, rates, _PENSIEVE_ALLOWED)


def read_mahimahi(path: str | os.PathLike[str]) -> RateTrace:
    """Read a Mahimahi trace: one integer millisecond per delivery opportunity.

    Consecutive milliseconds with the same number of opportunities are merged
    into one segment, so a smooth trace stays small in memory.
    """
    p = Path(path)
    stamps: list[int] = []
    previous = -1
    for number, line in _data_lines(p):
        parts = line.split()
        if len(parts) != 1:
            raise TraceError(p, number, f"expected one integer millisecond, found "
                             f"{len(parts)} columns: {line!r}", _MAHIMAHI_ALLOWED)
        token = parts[0]
        if not (token.isascii() and token.isdigit()):
            if token.startswith("-") and token[1:].isdigit():
                problem = f"timestamp {token!r} is negative"
            else:
                problem = f"timestamp {token!r} is not an integer number of milliseconds"
            raise TraceError(p, number, problem, _MAHIMAHI_ALLOWED)
        ms = int(token)
        if ms < previous:
            raise TraceError(p, number, f"timestamp goes backwards ({ms} ms after {previous} "
                             "ms): the file is not sorted", _MAHIMAHI_ALLOWED)
        previous = ms
        stamps.append(ms)
    if not stamps:
        raise _empty(p, _MAHIMAHI_ALLOWED)
    period_ms = stamps[-1]
    if period_ms <= 0:
        raise TraceError(p, None, "the last timestamp is 0 ms, so the trace spans no time",
                         _MAHIMAHI_ALLOWED)
    # Opportunity k ms is delivered during [k-1, k) ms; k = 0 is k = period (mod period).
    bins = (np.asarray(stamps, dtype=np.int64) - 1) % period_ms
    counts = np.bincount(bins, minlength=period_ms)
    change = np.flatnonzero(np.diff(counts)) + 1
    starts = np.concatenate(([0], change))
    edges_ms = np.concatenate((starts, [period_ms]))
    rates = counts[starts] * (MAHIMAHI_PACKET_BITS / 1e-3)
    mean = len(stamps) * MAHIMAHI_PACKET_BITS / (period_ms * 1e-3)
    return _make_trace(str(p), "mahimahi", len(stamps), edges_ms * 1e-3, rates, mean)


@dataclass(frozen=True)
class CsvColumns:
    """Which CSV columns hold time and rate, and in which units.

    Each field is optional: a column name is matched exactly against the
    header (default: found by the names in the module docstring); a unit
    overrides the one written in the header (default: read from it, e.g.
    ``time_ms`` → ms, ``rate (Mbit/s)`` → Mbit/s).
    """

    time: str | None = None
    rate: str | None = None
    time_unit: str | None = None
    rate_unit: str | None = None


_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*(?:\((?P<u1>[^)]*)\)|\[(?P<u2>[^\]]*)\])\s*$")


def _split_header(cell: str, units: dict[str, float],
                  names: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """``'rate_Mbps'`` → ``('rate', 'Mbps')``; ``'time (ms)'`` → ``('time', 'ms')``.

    After ``_`` or a space, the tail is a unit if it is a known one, or if the
    head is a known column name (so ``rate_furlongs`` reports a bad unit).
    """
    cell = cell.strip()
    match = _HEADER_UNIT.match(cell)
    if match:
        return match["name"].strip(), (match["u1"] or match["u2"] or "").strip() or None
    for sep in ("_", " "):
        if sep in cell:
            name, unit = cell.rsplit(sep, 1)
            if unit in units or name.strip().lower() in names:
                return name.strip(), unit
    return cell, None


def _pick_column(path: Path, line: int, header: list[str], wanted: str | None,
                 names: tuple[str, ...], units: dict[str, float], kind: str,
                 allowed: str = _CSV_ALLOWED) -> int:
    if wanted is not None:
        if wanted in header:
            return header.index(wanted)
        raise TraceError(path, line, f"no column named {wanted!r} for the {kind}; the header "
                         f"has {header}", allowed)
    found = [i for i, cell in enumerate(header)
             if _split_header(cell, units, names)[0].lower() in names]
    if len(found) != 1:
        problem = (f"cannot find the {kind} column" if not found
                   else f"several columns could be the {kind}: {[header[i] for i in found]}")
        raise TraceError(path, line, f"{problem} in header {header}; name it one of {names} "
                         "with a unit, or choose it with 'columns'", allowed)
    return found[0]


def _column_unit(path: Path, line: int, cell: str, override: str | None,
                 units: dict[str, float], names: tuple[str, ...], kind: str,
                 examples: str) -> float:
    unit = override if override is not None else _split_header(cell, units, names)[1]
    if unit is None:
        raise TraceError(path, line, f"the {kind} column {cell!r} does not say its unit",
                         f"write it in the header, e.g. {examples}, or give "
                         f"'columns: {{{kind}_unit: ...}}'")
    if unit not in units:
        shown = _SHOWN_UNITS[kind]
        raise TraceError(path, line, f"unknown {kind} unit {unit!r} in column {cell!r}",
                         f"allowed: {shown}")
    return units[unit]


def read_csv(path: str | os.PathLike[str], columns: CsvColumns | None = None) -> RateTrace:
    """Read a CSV trace with a header naming time and rate columns with units."""
    p = Path(path)
    columns = columns or CsvColumns()
    rows = iter(_data_lines(p))
    try:
        header_line, header_text = next(rows)
    except StopIteration:
        raise _empty(p, _CSV_ALLOWED) from None
    delimiter = next((d for d in (",", ";", "\t") if d in header_text), None)
    if delimiter is None:
        raise TraceError(p, header_line, f"no column delimiter (',', ';' or tab) in the "
                         f"header {header_text!r}", _CSV_ALLOWED)
    header = [cell.strip() for cell in next(csv.reader([header_text], delimiter=delimiter))]
    if all(_is_number(cell) for cell in header):
        raise TraceError(p, header_line, "the first row is numbers, not a header naming the "
                         "columns and their units", _CSV_ALLOWED)
    ti = _pick_column(p, header_line, header, columns.time, _TIME_NAMES, _TIME_UNITS, "time")
    ri = _pick_column(p, header_line, header, columns.rate, _RATE_NAMES, _RATE_UNITS, "rate")
    t_scale = _column_unit(p, header_line, header[ti], columns.time_unit, _TIME_UNITS,
                           _TIME_NAMES, "time", "'time_s' or 'time (ms)'")
    r_scale = _column_unit(p, header_line, header[ri], columns.rate_unit, _RATE_UNITS,
                           _RATE_NAMES, "rate", "'rate_Mbps' or 'bandwidth (kbit/s)'")
    lines: list[int] = []
    times: list[float] = []
    rates: list[float] = []
    for number, text in rows:
        cells = _csv_cells(p, number, text, delimiter, len(header), _CSV_ALLOWED)
        t = _number(p, number, cells[ti].strip(), "time", _CSV_ALLOWED) * t_scale
        r = _number(p, number, cells[ri].strip(), "rate", _CSV_ALLOWED) * r_scale
        _check_increasing(p, number, t, times[-1] if times else None, _CSV_ALLOWED)
        lines.append(number)
        times.append(t)
        rates.append(r)
    return _samples_to_trace(p, "csv", lines, times, rates, _CSV_ALLOWED)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def detect_format(path: str | os.PathLike[str]) -> str:
    """Guess ``pensieve``, ``mahimahi`` or ``csv`` from the name and first data line.

    ``.csv`` files are CSV; otherwise a first line of one number is Mahimahi,
    two whitespace-separated numbers Pensieve, and anything with words (a
    header) or commas/semicolons CSV.
    """
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return "csv"
    first = next(iter(_data_lines(p)), None)
    if first is None:
        raise _empty(p, "one of: " + "; ".join(_ALLOWED.values()))
    number, line = first
    tokens = [tok for tok in re.split(r"[\s,;]+", line) if tok]
    if "," in line or ";" in line:
        return "csv"
    if all(_is_number(tok) for tok in tokens):
        if len(tokens) == 1:
            return "mahimahi"
        if len(tokens) == 2:
            return "pensieve"
    elif len(tokens) >= 2:
        return "csv"
    raise TraceError(p, number, f"cannot tell the trace format from {line!r}",
                     "one of: " + "; ".join(_ALLOWED.values()))


def read_trace(path: str | os.PathLike[str], fmt: str = "auto",
               columns: CsvColumns | None = None) -> RateTrace:
    """Read a trace file in the given format (``auto`` detects it).

    ``columns`` applies to CSV only.  Raises :class:`TraceError` for a bad file
    and ``ValueError`` for an unknown format name.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown trace format {fmt!r}; allowed: {', '.join(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "pensieve":
        return read_pensieve(path)
    if fmt == "mahimahi":
        return read_mahimahi(path)
    return read_csv(path, columns)


def load_trace(path: str | os.PathLike[str], fmt: str = "auto",
               columns: CsvColumns | None = None) -> RateTrace:
    """:func:`read_trace` with a per-process cache.

    Why: every replication builds its own link from the same file; parsing it
    once per process keeps replications cheap.  The cache key includes the
    file's modification time and size, so an edited file is read again.
    """
    return _cached_trace(*file_version(path), fmt, columns)


#: Trace files shipped with a task (resolved path → text), see ``shipped_files``.
_SHIPPED: dict[str, str] = {}


def read_trace_files(paths: Iterable[str]) -> dict[str, str]:
    """The text of each trace file in ``paths``, keyed by its resolved path (on the lead).

    Why: a task must carry everything it reads, so a Dask worker on another
    machine (or a lead whose files changed since) simulates the files the
    scenario was validated with.  Trace files are small text files.
    """
    out = {}
    for path in paths:
        p = Path(path).resolve()
        out[str(p)] = _read_text(p)
    return out


@contextlib.contextmanager
def shipped_files(files: Mapping[str, str]) -> Iterator[None]:
    """Within the block, the trace readers take these files' text instead of the disk's."""
    before = dict(_SHIPPED)
    _SHIPPED.update(files)
    try:
        yield
    finally:
        _SHIPPED.clear()
        _SHIPPED.update(before)


def file_version(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """(resolved path, modification time in ns, size in bytes): a trace cache's key.

    Why: the per-process caches of parsed trace files must read a file again
    once it was edited; a missing file is reported here, once for all loaders.
    A shipped file (``shipped_files``) is keyed by its content instead:
    (path, -1, a 64-bit digest of its text).
    """
    p = Path(path).resolve()
    shipped = _SHIPPED.get(str(p))
    if shipped is not None:
        digest = hashlib.blake2b(shipped.encode(), digest_size=8).digest()
        return str(p), -1, int.from_bytes(digest, "big")
    try:
        st = p.stat()
    except FileNotFoundError:
        raise TraceError(path, None, "file not found", "give a path to an existing file; "
                         "relative paths are resolved against the scenario's "
                         "directory") from None
    return str(p), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=64)
def _cached_trace(path: str, mtime_ns: int, size: int, fmt: str,
                  columns: CsvColumns | None) -> RateTrace:
    return read_trace(path, fmt, columns)


# --------------------------------------------------------------------------- statistics


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Smallest value ``v`` with (weight of values <= v) / total >= q (inverse CDF)."""
    order = np.argsort(values, kind="stable")
    cw = np.cumsum(weights[order])
    idx = int(np.searchsorted(cw, q * cw[-1], side="left"))
    return float(values[order][min(idx, len(values) - 1)])


def rate_trace_stats(trace: RateTrace) -> dict[str, object]:
    """Statistics of a parsed trace; see :func:`trace_stats`."""
    if trace.format == "mahimahi":
        # Average over windows (last one partial); C(t) is linear between edges.
        window = MAHIMAHI_STATS_WINDOW_S
        starts = np.arange(0.0, trace.span, window)
        if len(starts) > 1 and trace.span - starts[-1] < window / 2:
            starts = starts[:-1]  # fold a short last window into the previous one
        bounds = np.append(starts, trace.span)
        bits = np.diff(np.interp(bounds, trace.edges, trace.cum))
        durations = np.diff(bounds)
        rates = bits / durations
    else:
        durations = np.diff(trace.edges)
        rates = trace.rates
    keep = durations > 0
    rates, durations = rates[keep], durations[keep]
    return {
        "format": trace.format,
        "rows": trace.rows,
        "duration_s": trace.span,
        "mean_bps": trace.mean_bps,
        "min_bps": float(rates.min()),
        "p5_bps": _weighted_quantile(rates, durations, 0.05),
        "p50_bps": _weighted_quantile(rates, durations, 0.50),
        "p95_bps": _weighted_quantile(rates, durations, 0.95),
        "max_bps": float(rates.max()),
    }


def trace_stats(path: str | os.PathLike[str], fmt: str = "auto") -> dict[str, object]:
    """Summary statistics of a trace file (DESIGN.md §9, ``splitsim trace --json``).

    Returns exactly the keys of :data:`STATS_KEYS`: ``format`` (as read, never
    ``auto``), ``rows`` (data lines), ``duration_s`` (span), ``mean_bps`` (bits
    deliverable over the span / span) and ``min/p5/p50/p95/max_bps``.

    The percentiles are *time-weighted*: the q-quantile is the smallest rate
    ``r`` such that the link runs at ``<= r`` for at least a fraction ``q`` of
    the span — what a transfer started at a uniformly random time would see.
    A row-weighted percentile would overweight bursts of closely spaced
    samples.  Min and max are over segments of positive length inside the
    span (a Pensieve/CSV trace's last row lies outside it).  For Mahimahi the
    rate is first averaged over :data:`MAHIMAHI_STATS_WINDOW_S` windows (a last
    window shorter than half of that is merged into the one before).
    """
    return rate_trace_stats(read_trace(path, fmt))


def _human_rate(bps: float) -> str:
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if abs(bps) >= scale:
            return f"{bps / scale:.3g} {unit}"
    return f"{bps:.3g} bit/s"


def format_trace_summary(stats: dict[str, object], name: str | None = None) -> str:
    """A few lines a person can read, from :func:`trace_stats`'s dict."""

    def rate(key: str) -> str:
        return _human_rate(float(stats[key]))  # type: ignore[arg-type]

    title = f"{name}: " if name else ""
    duration = float(stats["duration_s"])  # type: ignore[arg-type]
    lines = [
        f"{title}{stats['format']} trace, {stats['rows']} rows, {duration:.6g} s",
        f"  mean    {rate('mean_bps')}",
        "  time-weighted rate:",
    ]
    for key, label in (("min_bps", "min"), ("p5_bps", "p5"), ("p50_bps", "median"),
                       ("p95_bps", "p95"), ("max_bps", "max")):
        lines.append(f"    {label:<7} {rate(key)}")
    return "\n".join(lines)
