"""Unit strings in scenarios → SI floats inside the code.

Why: scenario authors think in "20 Mbps", "40 ms" and "50 GFLOPS"; the engine
wants one convention (s, bit/s, byte, W, J, FLOP, FLOP/s, 1/s) so that no
formula ever mixes milliseconds with seconds.  Every quantity kind has its own
table, so a string of the wrong kind ("5 W" where a rate is expected) is
rejected with a message that lists what is allowed.

A bare number is taken to be in the SI base unit of its kind already
(seconds, bit/s, bytes, ...), which keeps generated scenarios and ``--set``
overrides simple.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}


def _prefixed(base: dict[str, float], *, binary: bool = False) -> dict[str, float]:
    """Expand unit spellings with SI (and optionally binary) prefixes."""
    table: dict[str, float] = {}
    prefixes = dict(_DECIMAL)
    if binary:
        prefixes.update(_BINARY)
    for unit, factor in base.items():
        for prefix, scale in prefixes.items():
            table[prefix + unit] = scale * factor
    return table


# Data sizes in bytes ("B" = byte, "b"/"bit" = bit).
DATA_BYTES = _prefixed({"B": 1.0, "byte": 1.0, "bytes": 1.0, "b": 0.125, "bit": 0.125,
                        "bits": 0.125}, binary=True)
# Rates in bit/s.
RATE_BPS = _prefixed({"bps": 1.0, "bit/s": 1.0, "Bps": 8.0, "B/s": 8.0})
RATE_BPS.update({"kbit/s": 1e3, "Mbit/s": 1e6, "Gbit/s": 1e9})
# Time in seconds.
TIME_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0,
          "min": 60.0, "h": 3600.0}
POWER_W = {"uW": 1e-6, "mW": 1e-3, "W": 1.0, "kW": 1e3}
ENERGY_J = {"nJ": 1e-9, "uJ": 1e-6, "mJ": 1e-3, "J": 1.0, "kJ": 1e3, "pJ": 1e-12}
WORK_FLOP = _prefixed({"FLOP": 1.0, "FLOPs": 1.0, "flop": 1.0, "MAC": 2.0, "MACs": 2.0})
SPEED_FLOPS = _prefixed({"FLOPS": 1.0, "FLOP/s": 1.0, "flops": 1.0})
FREQUENCY_HZ = {"/s": 1.0, "/min": 1.0 / 60.0, "/h": 1.0 / 3600.0, "/ms": 1e3,
                "Hz": 1.0, "kHz": 1e3}
# Power per throughput for linear radio models P = a·rate + b, in W per (bit/s).
POWER_PER_RATE_W_PER_BPS = {f"{p}/{r}": POWER_W[p] / RATE_BPS[r]
                            for p in POWER_W for r in ("bps", "kbps", "Mbps", "Gbps")}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
_QUANTITY = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>\S*)\s*$")


class UnitError(ValueError):
    """A quantity string that cannot be read as the expected kind."""


def parse_quantity(value: object, table: dict[str, float], kind: str,
                   examples: str) -> float:
    """Return ``value`` in SI units of ``kind``.

    ``value`` is a number (already SI) or a string "<number> <unit>".
    Frequencies also accept the compact form "5/s".
    """
    if isinstance(value, bool):
        raise UnitError(f"expected {_a(kind)} such as {examples}, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected {_a(kind)} such as {examples}, got {value!r}")
    match = _QUANTITY.match(value)
    if match is None:
        raise UnitError(f"cannot read {value!r} as {_a(kind)}; write e.g. {examples}")
    number = float(match["num"])
    unit = match["unit"]
    if unit == "":
        return number
    if unit not in table:
        raise UnitError(f"unknown {kind} unit {unit!r} in {value!r}; allowed units: "
                        f"{_allowed(table)} (e.g. {examples})")
    return number * table[unit]


_COMMON_PREFIXES = ("", "k", "M", "G", "T", "Ki", "Mi", "Gi")


def _allowed(table: dict[str, float]) -> str:
    """The unit spellings worth showing in an error (not every prefix of every alias)."""
    if len(table) <= 16:
        return ", ".join(sorted(table, key=lambda u: (table[u], u)))
    bases = [u for u in table if u[:1] not in "kKMGTP" or u in ("MAC", "MACs")]
    shown = [p + b for b in bases[:3] for p in _COMMON_PREFIXES if p + b in table]
    if not shown:  # compound units such as W/Mbps
        shown = [u for u in table if u.split("/")[0] in ("W", "mW")][:8]
    return ", ".join(shown)


def _a(kind: str) -> str:
    """``kind`` with its indefinite article ("a duration", "an amount of work")."""
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind}"


def _finite_nonneg(kind: str):
    def check(x: float, written: object = None) -> float:
        # show the value as the user wrote it ('-30 ms'), not in SI units (-0.03)
        shown = repr(written) if isinstance(written, str) else x
        if math.isnan(x) or math.isinf(x):
            raise UnitError(f"{_a(kind)} must be a finite number, got {shown}")
        if x < 0:
            raise UnitError(f"{_a(kind)} cannot be negative, got {shown}")
        return x
    return check


def _validator(table: dict[str, float], kind: str, examples: str):
    check = _finite_nonneg(kind)

    def parse(value: object) -> float:
        return check(parse_quantity(value, table, kind, examples), value)
    return BeforeValidator(parse)


class _QuantityJsonSchema:
    """What ``splitsim schema`` says of a quantity: a number (SI) or a unit string.

    Without it the exported JSON Schema would say "number" and reject the
    unit strings every scenario uses.  The number branch keeps the field's
    own bounds (``gt=0`` and the like).
    """

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [handler(core_schema),
                          {"type": "string", "pattern": _QUANTITY_PATTERN}]}


_QUANTITY_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*\S*\s*$"


def _quantity(table: dict[str, float], kind: str, examples: str) -> object:
    """An annotated float type: parses ``kind`` unit strings, rejects bad values."""
    return Annotated[float, _validator(table, kind, examples), _QuantityJsonSchema()]


def parse_bytes(value: object) -> float:
    """Data size in bytes ("64 KiB", "12288 B", "2 Mbit")."""
    return parse_quantity(value, DATA_BYTES, "data size", "'64 KiB', '1.5 MB', '800 bit'")


def parse_rate(value: object) -> float:
    """Link rate in bit/s ("20 Mbps")."""
    return parse_quantity(value, RATE_BPS, "data rate", "'20 Mbps', '500 kbps', '1 Gbps'")


def parse_time(value: object) -> float:
    """Duration in seconds ("40 ms")."""
    return parse_quantity(value, TIME_S, "duration", "'40 ms', '2 s', '1 min'")


# Annotated float types for the scenario schema: each parses its unit strings
# and rejects negative, NaN and infinite values.
Bytes = _quantity(DATA_BYTES, "data size", "'64 KiB', '1.5 MB', '800 bit'")
Rate = _quantity(RATE_BPS, "data rate", "'20 Mbps', '500 kbps', '1 Gbps'")
Duration = _quantity(TIME_S, "duration", "'40 ms', '2 s', '1 min'")
Power = _quantity(POWER_W, "power", "'3 W', '300 mW'")
Energy = _quantity(ENERGY_J, "energy", "'2 J', '15 mJ'")
Work = _quantity(WORK_FLOP, "amount of work", "'2 GFLOP', '300 MMAC'")
Speed = _quantity(SPEED_FLOPS, "compute speed", "'20 GFLOPS', '10 TFLOPS'")
Frequency = _quantity(FREQUENCY_HZ, "frequency", "'5/s', '300/min', '30 Hz'")
PowerPerRate = _quantity(POWER_PER_RATE_W_PER_BPS, "power per data rate",
                         "'0.438 W/Mbps', '79.5 mW/Mbps'")
