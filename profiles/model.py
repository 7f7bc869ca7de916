"""The model profile: what the simulator knows about a network, with no torch.

Why a separate module: the simulator consumes exactly one object,
``ModelProfile``, whether it came from a profile file written by the
profiler (``profiles.library``) or from an inline model in a scenario.
Loading a profile must never import torch, so this module depends only on
the standard library.

Units: MACs and FLOPs are counts (1 MAC = 2 FLOP), sizes are bytes.
The file format is DESIGN.md §9 ("Profile file").
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ProfileError(ValueError):
    """A profile that does not follow the format; the message names the field."""


@dataclass(frozen=True)
class ParametricExit:
    """Calibrated-confidence exit model.

    A request's confidence at this exit is Beta-distributed with mean
    ``accuracy`` and concentration ``concentration`` (= alpha + beta); the
    sample is right with probability equal to its confidence (perfect
    calibration), so the exit's accuracy when every sample leaves there is
    ``accuracy`` and a higher threshold trades exit rate for accuracy.
    """

    accuracy: float
    concentration: float = 6.0


@dataclass(frozen=True)
class ExitHead:
    """An early-exit head attached after a block (BranchyNet style)."""

    macs: float
    model: ParametricExit | None = None  # None: the profile's exit trace gives the behaviour

    @property
    def flops(self) -> float:
        return 2.0 * self.macs


@dataclass(frozen=True)
class Block:
    """One candidate split unit: cutting after it sends ``output_bytes``."""

    name: str
    macs: float
    output_bytes: float
    nonzero_macs: float | None = None
    params: float = 0.0
    nonzero_params: float | None = None
    natural_bottleneck: bool = False
    exit: ExitHead | None = None

    @property
    def effective_macs(self) -> float:
        """MACs that a sparse kernel has to do (the non-zero ones when known)."""
        return self.macs if self.nonzero_macs is None else self.nonzero_macs


@dataclass(frozen=True)
class ExitTrace:
    """Per-sample exit behaviour measured on a real evaluation.

    ``confidence[i][j]`` and ``correct[i][j]`` belong to sample ``i`` at the
    ``j``-th exit in block order; the last column is the final layer.  A
    request draws one sample, so its exits are correlated as they are in
    reality.
    """

    exit_blocks: tuple[str, ...]
    confidence: tuple[tuple[float, ...], ...]
    correct: tuple[tuple[bool, ...], ...]
    source: str = ""


@dataclass(frozen=True)
class ModelProfile:
    """A layer-wise profile of a network split into blocks.

    ``final_accuracy`` (with ``final_concentration``) is the parametric model
    of the last layer, used when there is no exit trace.
    """

    name: str
    variant: str
    input_bytes: float
    blocks: tuple[Block, ...]
    final_accuracy: float = 1.0
    final_concentration: float = 6.0
    result_bytes: float | None = None
    input_shape: tuple[int, ...] = ()
    dtype: str = "float32"
    exit_trace: ExitTrace | None = None
    totals: Mapping[str, float] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        """Number of blocks L; valid splits are 0..L."""
        return len(self.blocks)

    @property
    def exit_blocks(self) -> tuple[int, ...]:
        """1-based indices of the blocks that carry an exit head."""
        return tuple(i + 1 for i, b in enumerate(self.blocks) if b.exit is not None)

    @property
    def downlink_bytes(self) -> float:
        """Bytes of the result sent back to the device (default: last block's output)."""
        if self.result_bytes is not None:
            return self.result_bytes
        return self.blocks[-1].output_bytes if self.blocks else 0.0


# --------------------------------------------------------------------------- JSON


def _require(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise ProfileError(f"{where}: missing field '{key}'")
    return mapping[key]


def _number(value: Any, where: str, *, minimum: float = 0.0, maximum: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"{where}: expected a number, got {value!r}")
    x = float(value)
    if not (minimum <= x <= maximum) or math.isnan(x):
        raise ProfileError(f"{where}: {x} is outside the allowed range [{minimum}, {maximum}]")
    return x


def _exit_from_json(raw: Mapping[str, Any], where: str) -> ExitHead:
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}: expected an object with 'macs'")
    model = raw.get("model")
    parametric = None
    if model is not None:
        kind = model.get("kind", "parametric") if isinstance(model, Mapping) else None
        if kind != "parametric":
            raise ProfileError(f"{where}.model: kind must be 'parametric' (traces live in "
                               f"'exit_trace'), got {kind!r}")
        parametric = ParametricExit(
            accuracy=_number(_require(model, "accuracy", f"{where}.model"),
                             f"{where}.model.accuracy", maximum=1.0),
            concentration=_number(model.get("concentration", 6.0),
                                  f"{where}.model.concentration", minimum=1e-6))
    return ExitHead(macs=_number(_require(raw, "macs", where), f"{where}.macs"), model=parametric)


def profile_from_dict(raw: Mapping[str, Any], source: str = "profile") -> ModelProfile:
    """Build and check a ``ModelProfile`` from its JSON form."""
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{source}: expected a JSON object at the top level")
    blocks_raw = _require(raw, "blocks", source)
    if not isinstance(blocks_raw, Sequence) or not blocks_raw:
        raise ProfileError(f"{source}: 'blocks' must be a non-empty list")
    blocks = []
    for i, b in enumerate(blocks_raw):
        where = f"{source}: blocks[{i}]"
        if not isinstance(b, Mapping):
            raise ProfileError(f"{where}: expected an object")
        blocks.append(Block(
            name=str(_require(b, "name", where)),
            macs=_number(_require(b, "macs", where), f"{where}.macs"),
            output_bytes=_number(_require(b, "output_bytes", where), f"{where}.output_bytes"),
            nonzero_macs=(None if b.get("nonzero_macs") is None
                          else _number(b["nonzero_macs"], f"{where}.nonzero_macs")),
            params=_number(b.get("params", 0.0), f"{where}.params"),
            nonzero_params=(None if b.get("nonzero_params") is None
                            else _number(b["nonzero_params"], f"{where}.nonzero_params")),
            natural_bottleneck=bool(b.get("natural_bottleneck", False)),
            exit=None if b.get("exit") is None else _exit_from_json(b["exit"], f"{where}.exit"),
        ))
    trace = None
    if raw.get("exit_trace") is not None:
        trace = _trace_from_json(raw["exit_trace"], f"{source}: exit_trace", blocks)
    final = raw.get("final", {}) or {}
    return ModelProfile(
        name=str(_require(raw, "name", source)),
        variant=str(raw.get("variant", "dense")),
        input_bytes=_number(_require(raw, "input_bytes", source), f"{source}: input_bytes"),
        blocks=tuple(blocks),
        final_accuracy=_number(final.get("accuracy", 1.0), f"{source}: final.accuracy",
                               maximum=1.0),
        final_concentration=_number(final.get("concentration", 6.0),
                                    f"{source}: final.concentration", minimum=1e-6),
        result_bytes=(None if raw.get("result_bytes") is None
                      else _number(raw["result_bytes"], f"{source}: result_bytes")),
        input_shape=tuple(int(d) for d in raw.get("input_shape", ())),
        dtype=str(raw.get("dtype", "float32")),
        exit_trace=trace,
        totals=dict(raw.get("totals", {})),
        provenance=dict(raw.get("provenance", {})),
    )


def _trace_from_json(raw: Any, where: str, blocks: list[Block]) -> ExitTrace:
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{where}: expected an object")
    names = tuple(str(n) for n in _require(raw, "exit_blocks", where))
    with_exit = tuple(b.name for b in blocks if b.exit is not None)
    if names != with_exit:
        raise ProfileError(f"{where}.exit_blocks: {list(names)} must list the blocks with an "
                           f"exit head in order: {list(with_exit)}")
    conf = _require(raw, "confidence", where)
    corr = _require(raw, "correct", where)
    width = len(names) + 1
    if not conf or len(conf) != len(corr):
        raise ProfileError(f"{where}: 'confidence' and 'correct' need the same, non-zero "
                           f"number of samples")
    for i, (c_row, k_row) in enumerate(zip(conf, corr, strict=True)):
        if len(c_row) != width or len(k_row) != width:
            raise ProfileError(f"{where}: sample {i} needs {width} columns (one per exit "
                               f"and the final layer)")
        for x in c_row:
            _number(x, f"{where}.confidence[{i}]", maximum=1.0)
    return ExitTrace(
        exit_blocks=names,
        confidence=tuple(tuple(float(x) for x in row) for row in conf),
        correct=tuple(tuple(bool(x) for x in row) for row in corr),
        source=str(raw.get("source", "")),
    )


def profile_to_dict(profile: ModelProfile) -> dict[str, Any]:
    """The JSON form of ``profile`` (inverse of ``profile_from_dict``)."""
    blocks = []
    for b in profile.blocks:
        entry: dict[str, Any] = {
            "name": b.name, "macs": b.macs, "nonzero_macs": b.nonzero_macs,
            "params": b.params, "nonzero_params": b.nonzero_params,
            "output_bytes": b.output_bytes, "natural_bottleneck": b.natural_bottleneck,
        }
        if b.exit is not None:
            entry["exit"] = {"macs": b.exit.macs}
            if b.exit.model is not None:
                entry["exit"]["model"] = {"kind": "parametric",
                                          "accuracy": b.exit.model.accuracy,
                                          "concentration": b.exit.model.concentration}
        blocks.append(entry)
    out: dict[str, Any] = {
        "name": profile.name, "variant": profile.variant,
        "input_shape": list(profile.input_shape), "dtype": profile.dtype,
        "input_bytes": profile.input_bytes, "totals": dict(profile.totals),
        "blocks": blocks,
        "final": {"accuracy": profile.final_accuracy,
                  "concentration": profile.final_concentration},
        "provenance": dict(profile.provenance),
    }
    if profile.result_bytes is not None:
        out["result_bytes"] = profile.result_bytes
    if profile.exit_trace is not None:
        t = profile.exit_trace
        out["exit_trace"] = {"exit_blocks": list(t.exit_blocks),
                             "confidence": [list(r) for r in t.confidence],
                             "correct": [[int(x) for x in r] for r in t.correct],
                             "source": t.source}
    return out


def load_profile_file(path: str | Path) -> ModelProfile:
    """Read a profile JSON file; errors name the file and the field."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ProfileError(f"{path}: no such profile file") from exc
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    return profile_from_dict(raw, source=str(path))
