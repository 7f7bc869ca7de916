"""Trace readers and statistics (DESIGN.md §9 "trace stats" contract).

Expected numbers are computed by hand from the files in tests/data, or
independently with numpy from the raw text of the real Norway traces.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from simulator.traces import (
    STATS_KEYS,
    CsvColumns,
    TraceError,
    detect_format,
    format_trace_summary,
    read_csv,
    read_trace,
    trace_stats,
)

DATA = Path(__file__).parent / "data"
NORWAY = Path(__file__).parent.parent / "scenarios" / "traces"
NORWAY_FILES = sorted(NORWAY.glob("norway_*.log"))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- Pensieve


def test_pensieve_stats_are_exactly_the_contract_keys() -> None:
    assert set(trace_stats(DATA / "step.pensieve")) == set(STATS_KEYS)
    assert len(STATS_KEYS) == 9


def test_pensieve_mean_is_bits_over_span_by_hand() -> None:
    # 1 Mbit/s × 2 s + 4 Mbit/s × 3 s + 2 Mbit/s × 1 s = 16 Mbit over 6 s.
    stats = trace_stats(DATA / "step.pensieve")
    assert stats["format"] == "pensieve"
    assert stats["rows"] == 4
    assert stats["duration_s"] == pytest.approx(6.0)
    assert stats["mean_bps"] == pytest.approx(16e6 / 6)


def test_pensieve_percentiles_are_time_weighted() -> None:
    # Time at each rate: 1 Mbit/s 2 s, 2 Mbit/s 1 s, 4 Mbit/s 3 s → CDF 1/3, 1/2, 1.
    # The last row's 9 Mbit/s lies outside the span and is not a rate of the trace.
    stats = trace_stats(DATA / "step.pensieve")
    assert stats["min_bps"] == 1e6
    assert stats["p5_bps"] == 1e6
    assert stats["p50_bps"] == 2e6
    assert stats["p95_bps"] == 4e6
    assert stats["max_bps"] == 4e6


def test_pensieve_first_timestamp_becomes_time_zero(tmp_path: Path) -> None:
    trace = read_trace(write(tmp_path, "late.log", "10 1\n12 4\n15 2\n16 9\n"))
    assert trace.span == pytest.approx(6.0)
    assert trace.mean_bps == pytest.approx(16e6 / 6)


def test_stats_are_json_serialisable() -> None:
    stats = trace_stats(DATA / "step.pensieve")
    assert json.loads(json.dumps(stats)) == stats


# ---------------------------------------------------------------- Mahimahi


def test_mahimahi_one_line_per_millisecond_is_12_mbps(tmp_path: Path) -> None:
    # data/README: "A file with the lines 1, 2, 3, …, 1000 is 12 Mbit/s".
    path = write(tmp_path, "flat.trace", "".join(f"{ms}\n" for ms in range(1, 1001)))
    stats = trace_stats(path)
    assert stats["format"] == "mahimahi"
    assert stats["rows"] == 1000
    assert stats["duration_s"] == pytest.approx(1.0)
    assert stats["mean_bps"] == pytest.approx(12e6)
    for key in ("min_bps", "p5_bps", "p50_bps", "p95_bps", "max_bps"):
        assert stats[key] == pytest.approx(12e6)


def test_mahimahi_built_from_a_rate_schedule(tmp_path: Path) -> None:
    # 2 s at 2 packets/ms (24 Mbit/s) then 1 s at 1 packet/ms (12 Mbit/s):
    # mean = (4000 + 1000) lines × 12000 bit / 3 s = 20 Mbit/s.
    stamps = [ms for ms in range(1, 2001) for _ in range(2)] + list(range(2001, 3001))
    path = write(tmp_path, "sched.trace", "\n".join(map(str, stamps)) + "\n")
    stats = trace_stats(path, fmt="mahimahi")
    assert stats["rows"] == 5000
    assert stats["duration_s"] == pytest.approx(3.0)
    assert stats["mean_bps"] == pytest.approx(5000 * 12000 / 3.0)  # 20 Mbit/s
    # 1 s windows: 24, 24, 12 Mbit/s.
    assert stats["min_bps"] == pytest.approx(12e6)
    assert stats["p5_bps"] == pytest.approx(12e6)
    assert stats["p50_bps"] == pytest.approx(24e6)
    assert stats["max_bps"] == pytest.approx(24e6)


def test_mahimahi_line_at_zero_counts_in_the_mean(tmp_path: Path) -> None:
    path = write(tmp_path, "zero.trace", "0\n" + "".join(f"{ms}\n" for ms in range(1, 1001)))
    assert trace_stats(path)["mean_bps"] == pytest.approx(1001 * 12000 / 1.0)


def test_mahimahi_repeated_timestamps_are_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "burst.trace", "5\n5\n5\n10\n")
    assert trace_stats(path)["mean_bps"] == pytest.approx(4 * 12000 / 0.010)


# ---------------------------------------------------------------- CSV


def test_csv_units_from_the_header() -> None:
    # step.csv is step.pensieve in ms and kbit/s.
    csv_trace = read_trace(DATA / "step.csv")
    ref = read_trace(DATA / "step.pensieve")
    assert csv_trace.format == "csv"
    np.testing.assert_allclose(csv_trace.edges, ref.edges)
    np.testing.assert_allclose(csv_trace.rates, ref.rates)
    assert csv_trace.tail_rate == pytest.approx(9e6)


def test_csv_columns_chosen_by_name() -> None:
    trace = read_csv(DATA / "extra_columns.csv", CsvColumns(rate="ul (Mbit/s)"))
    ref = read_trace(DATA / "step.pensieve")
    np.testing.assert_allclose(trace.rates, ref.rates)
    np.testing.assert_allclose(trace.edges, ref.edges)


def test_csv_unit_override(tmp_path: Path) -> None:
    path = write(tmp_path, "bare.csv", "time,rate\n0,1\n2,4\n5,2\n6,9\n")
    with pytest.raises(TraceError, match="does not say its unit"):
        read_csv(path)
    trace = read_csv(path, CsvColumns(time_unit="s", rate_unit="Mbps"))
    assert trace.mean_bps == pytest.approx(16e6 / 6)


def test_csv_ambiguous_rate_column_is_an_error() -> None:
    with pytest.raises(TraceError, match="cannot find the rate column"):
        read_csv(DATA / "extra_columns.csv")


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(("name", "text", "fmt"), [
    ("a.log", "0.0\t4.03\n0.55\t4.79\n", "pensieve"),
    ("b.txt", "0 1\n1 2\n", "pensieve"),
    ("c.trace", "1\n2\n2\n", "mahimahi"),
    ("d.csv", "time_s,rate_Mbps\n0,1\n1,2\n", "csv"),
    ("e.dat", "# comment\ntime_s;rate_Mbps\n0;1\n1;2\n", "csv"),
])
def test_format_is_detected(tmp_path: Path, name: str, text: str, fmt: str) -> None:
    assert detect_format(write(tmp_path, name, text)) == fmt


# ---------------------------------------------------------------- bad traces


@pytest.mark.parametrize(("text", "fmt", "line", "problem", "allowed"), [
    ("", "auto", None, "no data lines", "Pensieve"),
    ("# nothing\n\n", "pensieve", None, "no data lines", "time_s rate_Mbps"),
    ("0 1\n2 3\n1 2\n", "auto", 3, "not sorted", "strictly increasing"),
    ("0 1\n1 1\n1 2\n", "pensieve", 3, "repeats", "strictly increasing"),
    ("0 1\n1 -2\n", "auto", 2, "negative", "rates >= 0"),
    ("0 1\n1 fast\n", "pensieve", 2, "not a number", "time_s rate_Mbps"),
    ("0 1\n1 nan\n", "pensieve", 2, "not a finite number", "time_s rate_Mbps"),
    ("0 1 2\n", "pensieve", 1, "expected 2 columns", "time_s rate_Mbps"),
    ("0 1\n", "pensieve", 1, "at least two samples", "time_s rate_Mbps"),
    ("0.0\t4.03\n0.55\t4.79\n", "mahimahi", 1, "expected one integer", "integer millisecond"),
    ("1\n2.5\n", "mahimahi", 2, "not an integer", "integer millisecond"),
    ("1\n-2\n", "mahimahi", 2, "negative", "integer millisecond"),
    ("5\n3\n", "mahimahi", 2, "not sorted", "non-decreasing"),
    ("0\n0\n", "mahimahi", None, "spans no time", "integer millisecond"),
    ("0,1\n1,2\n", "csv", 1, "not a header", "time_s,rate_Mbps"),
    ("time_s,rate_furlongs\n0,1\n", "csv", 1, "unknown rate unit", "allowed"),
    ("time_s,rate_Mbps\n0,1\n1\n", "csv", 3, "expected 2 columns", "time_s,rate_Mbps"),
    ("hello\n", "auto", 1, "cannot tell the trace format", "Mahimahi"),
])
def test_bad_trace_names_file_line_and_what_is_allowed(
        tmp_path: Path, text: str, fmt: str, line: int | None, problem: str,
        allowed: str) -> None:
    path = write(tmp_path, "bad_trace.txt", text)
    with pytest.raises(TraceError) as caught:
        trace_stats(path, fmt=fmt)
    err = caught.value
    message = str(err)
    assert str(path) in message
    assert err.line == line
    if line is not None:
        assert f"line {line}" in message
    assert problem in message
    assert allowed in message
    assert isinstance(err, ValueError)


def test_all_zero_trace_is_rejected() -> None:
    with pytest.raises(TraceError, match="every rate in the trace is zero"):
        read_trace(DATA / "zeros.pensieve")


def test_missing_file_is_a_trace_error(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="file not found"):
        trace_stats(tmp_path / "nope.log")


def test_unknown_format_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown trace format"):
        read_trace(DATA / "step.pensieve", fmt="pcap")


def test_trace_error_survives_pickling_for_process_pools() -> None:
    err = TraceError("x.log", 3, "bad", "allowed")
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)
    assert again.line == 3


# ---------------------------------------------------------------- real traces


def test_norway_traces_are_shipped_with_their_licence() -> None:
    assert len(NORWAY_FILES) >= 2
    assert "MIT License" in (NORWAY / "LICENSE-pensieve.txt").read_text()


@pytest.mark.parametrize("path", NORWAY_FILES, ids=lambda p: p.name)
def test_norway_trace_stats_are_sane(path: Path) -> None:
    # data/README: "Typical span 200–320 s, mean 1–2.5 Mbit/s".
    stats = trace_stats(path)
    assert stats["format"] == "pensieve"
    assert 200 <= stats["duration_s"] <= 320
    assert 1e6 <= stats["mean_bps"] <= 2.5e6
    assert 0 <= stats["min_bps"] <= stats["p5_bps"] <= stats["p50_bps"]
    assert stats["p50_bps"] <= stats["p95_bps"] <= stats["max_bps"]
    assert stats["min_bps"] <= stats["mean_bps"] <= stats["max_bps"]
    # Independent check of the §9 definition from the raw text.
    raw = np.loadtxt(path)
    t, mbps = raw[:, 0], raw[:, 1]
    assert stats["rows"] == len(t)
    assert stats["mean_bps"] == pytest.approx(np.sum(mbps[:-1] * np.diff(t)) * 1e6
                                              / (t[-1] - t[0]))


def test_summary_for_people_mentions_the_numbers() -> None:
    text = format_trace_summary(trace_stats(DATA / "step.pensieve"), name="step.pensieve")
    assert "step.pensieve" in text
    assert "pensieve" in text
    assert "4 rows" in text
    assert "6 s" in text
    assert "2.67 Mbit/s" in text  # mean 16/6
    assert "median" in text
