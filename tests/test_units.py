"""Unit strings become SI floats; strings of the wrong kind are refused."""

from __future__ import annotations

import math

import pytest

from simulator.units import (
    DATA_BYTES,
    FREQUENCY_HZ,
    POWER_PER_RATE_W_PER_BPS,
    POWER_W,
    RATE_BPS,
    SPEED_FLOPS,
    TIME_S,
    WORK_FLOP,
    UnitError,
    parse_quantity,
)


@pytest.mark.parametrize(("text", "table", "expected"), [
    ("20 Mbps", RATE_BPS, 20e6),
    ("500 kbps", RATE_BPS, 5e5),
    ("1 Gbps", RATE_BPS, 1e9),
    ("2 MB/s", RATE_BPS, 16e6),
    ("64 KiB", DATA_BYTES, 65536.0),
    ("1.5 MB", DATA_BYTES, 1.5e6),
    ("800 bit", DATA_BYTES, 100.0),
    ("2 Mbit", DATA_BYTES, 250_000.0),
    ("40 ms", TIME_S, 0.04),
    ("250us", TIME_S, 250e-6),
    ("1 min", TIME_S, 60.0),
    ("2 h", TIME_S, 7200.0),
    ("300 mW", POWER_W, 0.3),
    ("2 GFLOP", WORK_FLOP, 2e9),
    ("300 MMAC", WORK_FLOP, 6e8),
    ("10 TFLOPS", SPEED_FLOPS, 1e13),
    ("5/s", FREQUENCY_HZ, 5.0),
    ("300/min", FREQUENCY_HZ, 5.0),
    ("30 Hz", FREQUENCY_HZ, 30.0),
    ("1e3", TIME_S, 1000.0),
    (0.25, TIME_S, 0.25),
])
def test_quantities_are_converted_to_si(text, table, expected) -> None:
    assert parse_quantity(text, table, "x", "e.g.") == pytest.approx(expected, rel=1e-12)


def test_lte_power_slope_in_watts_per_bit_per_second() -> None:
    # Huang et al. (MobiSys 2012): 438.39 mW/Mbps = 4.3839e-7 W per bit/s.
    value = parse_quantity("438.39 mW/Mbps", POWER_PER_RATE_W_PER_BPS, "x", "")
    assert value == pytest.approx(4.3839e-7, rel=1e-12)


@pytest.mark.parametrize(("text", "table"), [
    ("5 W", RATE_BPS), ("20 Mbps", TIME_S), ("3 s", DATA_BYTES), ("fast", SPEED_FLOPS),
    ("10 MHz", FREQUENCY_HZ),
])
def test_wrong_kind_or_garbage_is_refused_with_the_allowed_units(text, table) -> None:
    with pytest.raises(UnitError) as err:
        parse_quantity(text, table, "thing", "'an example'")
    assert text in str(err.value) or "cannot read" in str(err.value)
    assert "an example" in str(err.value)


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(UnitError):
        parse_quantity(True, TIME_S, "duration", "'1 s'")


def test_infinity_parses_so_that_validation_can_reject_it() -> None:
    assert math.isinf(parse_quantity("inf s", TIME_S, "duration", ""))
