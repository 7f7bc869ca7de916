"""Scenario files: schema, loading, ``--set`` overrides, sweeps and clear errors.

Why pydantic: the whole scenario is validated up front, before anything
runs or is written, and every error can name the file, the field path, the
value and what is allowed.  Unit strings become SI floats here (see
``simulator.units``), so the engine never sees a unit.

The format is DESIGN.md §8; ``splitsim schema`` prints it as JSON Schema.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import math
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from profiles.model import Block, ExitHead, ModelProfile, ParametricExit, ProfileError
from simulator.arrival_trace import ArrivalTrace, count_from, load_arrival_trace, replay
from simulator.background import (
    LoadCurve,
    PatternCurve,
    TraceCurve,
    UtilisationTrace,
    load_utilisation_trace,
)
from simulator.channel import LinkSpec, resolve_scenario_path
from simulator.radio import RRC_PRESETS, RrcParams
from simulator.units import (
    _QUANTITY_PATTERN,
    Bytes,
    Duration,
    Frequency,
    Power,
    PowerPerRate,
    Rate,
    Speed,
    Work,
    parse_time,
)
from simulator.variability import Variability, VariabilitySpec, shorthand_schema


class ScenarioError(ValueError):
    """Bad input in a scenario: one message naming the file, field and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ------------------------------------------------------------------ model


class InlineExit(_Strict):
    """An exit head in an inline model: its cost and a calibrated accuracy."""

    flops: Work = Field(description="FLOP of the exit head (e.g. '1 MFLOP').")
    accuracy: float = Field(ge=0.0, le=1.0, description="Accuracy if every sample left here.")
    concentration: float = Field(default=6.0, gt=0.0, description=(
        "Beta concentration of the confidence (higher: confidences closer to the accuracy)."))


class InlineBlock(_Strict):
    """One block of an inline model: a candidate split point."""

    name: str
    flops: Work = Field(description="FLOP of the block (e.g. '2e8', '1 GFLOP').")
    output_bytes: Bytes = Field(description="Bytes crossing a cut after this block.")
    natural_bottleneck: bool | None = Field(
        default=None, description="Default: output smaller than the model input.")
    exit: InlineExit | None = None


class InlineModel(_Strict):
    """A what-if network written directly in the scenario (no profile, no torch)."""

    input_bytes: Bytes
    blocks: list[InlineBlock] = Field(min_length=1)
    accuracy: float = Field(default=1.0, ge=0.0, le=1.0,
                            description="Accuracy of the final layer.")
    result_bytes: Bytes | None = Field(default=None, description=(
        "Bytes of the result sent back; default the last block's output bytes."))

    def to_profile(self) -> ModelProfile:
        blocks = tuple(
            Block(name=b.name, macs=b.flops / 2.0, output_bytes=b.output_bytes,
                  natural_bottleneck=(b.output_bytes < self.input_bytes
                                      if b.natural_bottleneck is None else b.natural_bottleneck),
                  exit=None if b.exit is None else ExitHead(
                      macs=b.exit.flops / 2.0,
                      model=ParametricExit(b.exit.accuracy, b.exit.concentration)))
            for b in self.blocks)
        return ModelProfile(name="inline", variant="inline", input_bytes=self.input_bytes,
                            blocks=blocks, final_accuracy=self.accuracy,
                            result_bytes=self.result_bytes,
                            provenance={"source": "inline model in the scenario"})


class ProfileRef(_Strict):
    """A shipped profile (``profile: resnet18-cifar10``) or a profile file (``file:``)."""

    profile: str | None = Field(default=None, description="Name in the profile library.")
    variant: str = Field(default="dense", description="e.g. dense, sparse-50, sparse-75.")
    file: str | None = Field(default=None, description="Path to a profile JSON file.")

    @model_validator(mode="after")
    def _one_source(self) -> ProfileRef:
        if (self.profile is None) == (self.file is None):
            raise ValueError("give exactly one of 'profile' (a library name) or 'file'")
        return self


def _model_kind(value: object) -> str:
    """Inline models have blocks; anything else names a profile."""
    if isinstance(value, Mapping):
        return "inline" if ("blocks" in value or "input_bytes" in value) else "profile"
    return "inline" if isinstance(value, InlineModel) else "profile"


ModelSpec = Annotated[Annotated[InlineModel, Tag("inline")] | Annotated[ProfileRef, Tag("profile")],
                      Discriminator(_model_kind)]


# ------------------------------------------------------------------ devices


class Compute(_Strict):
    speed: Speed = Field(gt=0, description="Sustained speed (FLOP/s), e.g. '20 GFLOPS'.")
    variability: VariabilitySpec = Field(default=Variability(), description=(
        "deterministic, exponential, or {dist: gamma|lognormal, cv: 0.5}; mean = work/speed."))


class LinearRadio(_Strict):
    """Transmit power ``a·rate + b`` (Huang et al., MobiSys 2012, for LTE)."""

    model: Literal["linear"]
    a: PowerPerRate = Field(description="W per bit/s, e.g. '0.438 W/Mbps'.")
    b: Power = Field(description="Base power, e.g. '1.288 W'.")


class Rrc(_Strict):
    """The radio's RRC state machine (``simulator.radio``): promotion, tail, idle.

    Write a preset name (``rrc: lte``), or the fields, or ``{preset: lte,
    tail: 5 s}`` to start from a preset and override some of its values.
    """

    preset: Literal["lte", "wifi"] | None = Field(default=None, description=(
        "Start from published values: lte or wifi (Huang et al., MobiSys 2012, Tables 3-4); "
        "fields written beside it override the preset's."))
    promotion: Duration | None = Field(default=None, description=(
        "Promotion delay from idle to active (s), e.g. '260 ms'; a transfer that finds the "
        "radio idle starts after it. Required without a preset."))
    promotion_power: Power | None = Field(default=None, description=(
        "Radio power during the promotion (W). Required without a preset."))
    tail: Duration | None = Field(default=None, description=(
        "Inactivity tail (s), e.g. '11.6 s': the radio stays connected this long after "
        "its last transfer; a transfer in the tail needs no promotion. Required without a "
        "preset."))
    tail_power: Power | None = Field(default=None, description=(
        "Radio power in the tail, and while waiting for a turn on a shared uplink (W). "
        "Required without a preset."))
    idle_power: Power | None = Field(default=None, description=(
        "Radio power in RRC_IDLE (W), on top of power.idle; default 0 W (the radio's idle "
        "draw is then part of power.idle)."))
    receive: Power | LinearRadio | None = Field(default=None, description=(
        "Radio power while receiving the result: a constant or {model: linear, a, b} over "
        "the downlink rate; default tail_power."))

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("preset"), str) \
                and data["preset"] in RRC_PRESETS:
            return {**RRC_PRESETS[data["preset"]], **data}
        return data

    @model_validator(mode="after")
    def _complete(self) -> Rrc:
        missing = [f for f in ("promotion", "promotion_power", "tail", "tail_power")
                   if getattr(self, f) is None]
        if missing:
            raise ValueError(f"rrc needs {', '.join(missing)}, or a preset "
                             f"({', '.join(RRC_PRESETS)}) to take them from")
        return self

    def params(self) -> RrcParams:
        """The state machine's parameters in SI units."""
        recv = self.receive
        if isinstance(recv, LinearRadio):
            a, b = recv.a, recv.b
        else:
            a, b = 0.0, float(self.tail_power if recv is None else recv)
        return RrcParams(promotion_s=self.promotion, promotion_w=self.promotion_power,
                         tail_s=self.tail, tail_w=self.tail_power,
                         idle_w=self.idle_power or 0.0, receive_a_w_per_bps=a, receive_b_w=b)


def _rrc_kind(value: object) -> str:
    """A string names a preset; anything else is the block itself."""
    return "preset" if isinstance(value, str) else "block"


RrcSpec = Annotated[Annotated[Literal["lte", "wifi"], Tag("preset")] | Annotated[Rrc, Tag("block")],
                    Discriminator(_rrc_kind)]


class DevicePower(_Strict):
    compute: Power = Field(default=0.0, description="Power while computing (W).")
    idle: Power = Field(default=0.0, description="Power while idle or waiting (W).")
    radio: Power | LinearRadio = Field(default=0.0, description=(
        "Transmit power: a constant ('1.2 W') or {model: linear, a, b}."))
    rrc: RrcSpec | None = Field(default=None, description=(
        "Optional RRC state machine of the radio (promotion delay and energy, tail, idle "
        "draw): a preset (lte, wifi) or its parameters. Without it the radio costs only "
        "its transmit energy."))

    @property
    def rrc_spec(self) -> Rrc | None:
        """The RRC block with a preset name resolved, or None."""
        return Rrc(preset=self.rrc) if isinstance(self.rrc, str) else self.rrc


class TraceColumns(_Strict):
    """Which column of a CSV trace holds the time, and its unit (default: from the header)."""

    time: str | None = Field(default=None, description=(
        "Name of the time column (default: the one named time, t, timestamp or ts)."))
    time_unit: str | None = Field(default=None, description=(
        "Unit of the timestamps, e.g. 's', 'ms' (default: read from the header, e.g. "
        "'time_ms'; seconds for a plain one-column file)."))


_TRACE_FIELDS = ("file", "columns", "loop", "period", "time_scale", "offset")


def _parse_offset(value: object) -> object:
    """``random``, or a duration >= 0 in seconds (``'30 s'``, ``2.5``)."""
    if value == "random":
        return value
    allowed = "allowed: 'random', or a duration >= 0 such as '30 s'"
    try:
        seconds = parse_time(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; {allowed}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"offset {value!r} is not a duration >= 0; {allowed}")
    return seconds


TraceOffset = Annotated[float | Literal["random"], BeforeValidator(_parse_offset),
                        WithJsonSchema({"anyOf": [
                            {"const": "random"},
                            {"anyOf": [{"type": "number", "minimum": 0},
                                       {"type": "string", "pattern": _QUANTITY_PATTERN}]}]})]
"""Where a replayed trace starts (s), or ``random`` (uniform in one period)."""


class Workload(_Strict):
    """How requests arrive at a device (``devices[].workload``).

    ``trace`` replays timestamps from ``file`` (see ``simulator.arrival_trace``):
    trace time τ (the file's first timestamp is τ = 0) arrives at simulation
    time ``τ·time_scale − offset`` for every τ·time_scale ≥ offset.  With
    ``loop`` the trace repeats every ``period·time_scale`` (default period:
    span·n/(n − 1), the span plus one mean gap, which keeps the trace's mean
    rate (n − 1)/span); without it the device stops sending after the last
    timestamp.  ``offset: random`` draws the start uniformly in one period from
    the device's arrival stream, once per replication.
    """

    arrivals: Literal["poisson", "periodic", "mmpp", "trace"] = "poisson"
    rate: Frequency | None = Field(default=None, gt=0, description=(
        "Requests per second, e.g. '5/s', '30 Hz' (poisson and periodic)."))
    rates: list[Frequency] | None = Field(
        default=None, min_length=2, description=(
            "mmpp: the Poisson rate in each state of the modulating chain, e.g. "
            "[1/s, 20/s] for bursts."))
    mean_sojourn: Duration | list[Duration] | None = Field(default=None, description=(
        "mmpp: mean time in a state (one value, or one per state); the chain then jumps "
        "to one of the other states, uniformly."))
    file: str | None = Field(default=None, description=(
        "trace: file of request timestamps, one per line (s) or a CSV with a time column "
        "and its unit; relative to the scenario file's directory."))
    columns: TraceColumns | None = Field(default=None, description=(
        "trace: {time: column name, time_unit: ms}, for a CSV or a plain file not in "
        "seconds."))
    loop: bool = Field(default=True, description=(
        "trace: repeat the trace every `period` (false: no requests after the last "
        "timestamp)."))
    period: Duration | None = Field(default=None, gt=0, description=(
        "trace with loop: length of one repetition in trace time (s), at least the span; "
        "default span·n/(n − 1), which keeps the trace's mean rate."))
    time_scale: float = Field(default=1.0, gt=0, allow_inf_nan=False, description=(
        "trace: stretch factor of trace time (2: half the rate)."))
    offset: TraceOffset = Field(
        default=0.0, description=(
            "trace: where in the (scaled) trace the replication starts (s), or 'random': "
            "uniform in one period, drawn per replication (needs loop)."))
    deadline: Duration | None = Field(default=None, gt=0, description=(
        "Relative deadline of each request (s); counts towards deadline_miss_rate."))
    phase: Literal["random", "zero"] = Field(default="random", description=(
        "periodic only: first frame at a random offset in one period, or at time 0."))

    @field_validator("file")
    @classmethod
    def _resolve_against_scenario(cls, file: str | None, info: ValidationInfo) -> str | None:
        return resolve_scenario_path(file, info)

    @model_validator(mode="after")
    def _fields_of_the_process(self) -> Workload:
        trace_fields = [k for k in _TRACE_FIELDS if k in self.model_fields_set]
        if self.arrivals == "trace":
            self._check_trace()
        elif trace_fields:
            raise ValueError(f"'{trace_fields[0]}' belongs to arrivals: trace")
        if self.arrivals == "mmpp":
            if self.rates is None or self.mean_sojourn is None:
                raise ValueError("arrivals: mmpp needs 'rates' (one per state) and "
                                 "'mean_sojourn'")
            if self.rate is not None:
                raise ValueError("arrivals: mmpp takes 'rates' and 'mean_sojourn', not 'rate'")
            if isinstance(self.mean_sojourn, list) and len(self.mean_sojourn) != len(
                    self.rates):
                raise ValueError(f"mean_sojourn has {len(self.mean_sojourn)} values for "
                                 f"{len(self.rates)} states")
            if min(self.sojourns) <= 0 or min(self.rates) <= 0:
                raise ValueError("mmpp rates and mean_sojourn must be > 0")
        elif self.arrivals == "trace":
            if self.rate is not None:
                raise ValueError("arrivals: trace takes its times from 'file', not 'rate'")
        elif self.rate is None:
            raise ValueError(f"arrivals: {self.arrivals} needs 'rate', e.g. rate: 5/s")
        if self.arrivals != "mmpp" and (self.rates is not None
                                        or self.mean_sojourn is not None):
            raise ValueError("'rates' and 'mean_sojourn' belong to arrivals: mmpp")
        return self

    def _check_trace(self) -> None:
        if self.file is None:
            raise ValueError("arrivals: trace needs 'file', a file of request timestamps")
        if not self.loop:
            if self.period is not None:
                raise ValueError("'period' is the length of one repetition: it needs "
                                 "loop: true")
            if self.offset == "random":
                raise ValueError("offset: random needs loop: true (without looping, a random "
                                 "start would cut an unknown part of the trace)")
        trace = self.arrival_trace()
        if self.period is not None and self.period < trace.span:
            raise ValueError(f"period {self.period:g} s is shorter than the trace's span "
                             f"{trace.span:g} s (first to last timestamp of {trace.path})")
        if self.trace_period is None:
            raise ValueError(f"{trace.path}: {trace.rows} timestamp(s) spanning no time give "
                             f"no rate; give at least two different timestamps, or 'period' "
                             f"(with loop: true)")

    def arrival_trace(self) -> ArrivalTrace:
        """trace: the timestamps of ``file`` (read once per process, then cached)."""
        cols = self.columns or TraceColumns()
        return load_arrival_trace(self.file, cols.time, cols.time_unit)

    @property
    def trace_period(self) -> float | None:
        """trace: the loop period in trace time (s): ``period`` or the trace's default."""
        return self.period if self.period is not None else \
            self.arrival_trace().default_period()

    def trace_times(self, rng: np.random.Generator) -> Iterator[float]:
        """trace: this replication's arrival times (s); one draw of ``rng`` for offset: random."""
        times = self.arrival_trace().times * self.time_scale
        period = self.trace_period * self.time_scale
        offset = float(rng.random()) * period if self.offset == "random" else self.offset
        return replay(times, period if self.loop else None, offset)

    def trace_requests(self) -> int | None:
        """trace without loop: the requests one replication sends; None when it loops."""
        if self.arrivals != "trace" or self.loop:
            return None
        return count_from(self.arrival_trace().times * self.time_scale, float(self.offset))

    @property
    def sojourns(self) -> list[float]:
        """mmpp: mean sojourn (s) of each state."""
        s = self.mean_sojourn
        return list(s) if isinstance(s, list) else [float(s)] * len(self.rates or [])

    @property
    def mean_rate(self) -> float:
        """Long-run arrivals per second.

        For mmpp with uniform jumps the chain spends a share of time in state i
        proportional to its mean sojourn, so the rate is Σ sᵢ·rᵢ / Σ sᵢ.  For a
        trace it is n requests per ``period × time_scale`` (looping or not: the
        default period makes it the trace's own rate (n − 1)/span).
        """
        if self.arrivals == "trace":
            return self.arrival_trace().rows / (self.trace_period * self.time_scale)
        if self.arrivals != "mmpp":
            return float(self.rate)
        s = self.sojourns
        return sum(si * ri for si, ri in zip(s, self.rates, strict=True)) / sum(s)


class DeviceSpec(_Strict):
    name: str
    count: int = Field(default=1, ge=1, description="Identical devices, each its own streams.")
    compute: Compute
    power: DevicePower = DevicePower()
    workload: Workload


# ------------------------------------------------------------------ world


class ChannelSpec(_Strict):
    uplink: LinkSpec
    downlink: LinkSpec
    rtt: Duration = Field(default=0.0, description="Round-trip propagation (s); half each way.")
    sharing: Literal["dedicated", "fifo", "ps"] = Field(default="dedicated", description=(
        "Uplink of the cell: dedicated (each device its own link realisation), fifo (one "
        "shared link, one transfer at a time) or ps (one shared link, equal shares among "
        "active transfers)."))


class UtilisationColumns(_Strict):
    """Columns of a CSV utilisation trace and the time unit (default: from the header)."""

    time: str | None = Field(default=None, description=(
        "Name of the time column (default: the one named time, t, timestamp or ts)."))
    utilisation: str | None = Field(default=None, description=(
        "Name of the utilisation column (default: utilisation, utilization, util, load, "
        "busy or u); a fraction, or percent when its header unit is '%'."))
    time_unit: str | None = Field(default=None, description=(
        "Unit of the times, e.g. 's', 'min' (default: from the header; seconds for a "
        "plain two-column file)."))


class UtilisationTraceSpec(_Strict):
    """Other tenants' share of the server over time, from a file (``background.utilisation``).

    Piecewise constant, as in ``simulator.background``: trace time τ holds at
    simulation time ``τ·time_scale − offset``; with ``loop`` the trace repeats
    every span·time_scale, without it the last row's utilisation holds after
    the span.  ``offset: random`` starts each replication at a uniform point of
    one (scaled) span, one draw from the server's background stream.
    """

    file: str = Field(description=(
        "Utilisation trace ('time_s utilisation' lines or a CSV); relative to the scenario "
        "file's directory."))
    columns: UtilisationColumns | None = Field(default=None, description=(
        "CSV column names and the time unit, when the header does not say them."))
    loop: bool = Field(default=True, description="Repeat the trace after its span.")
    time_scale: float = Field(default=1.0, gt=0, allow_inf_nan=False, description=(
        "Stretch factor of trace time (2: changes half as fast)."))
    offset: TraceOffset = Field(default=0.0, description=(
        "Where in the (scaled) trace the replication starts (s), or 'random' (needs loop)."))

    @field_validator("file")
    @classmethod
    def _resolve_against_scenario(cls, file: str, info: ValidationInfo) -> str:
        return resolve_scenario_path(file, info)

    @model_validator(mode="after")
    def _check_file(self) -> UtilisationTraceSpec:
        if self.offset == "random" and not self.loop:
            raise ValueError("offset: random needs loop: true (without looping, a random "
                             "start would cut an unknown part of the trace)")
        trace = self.trace()
        if self.loop and trace.levels.max() <= 0:
            raise ValueError(f"{trace.path}: every utilisation inside the span is zero (only "
                             f"the last row, which lies outside a looping trace, is not); "
                             f"set loop: false or give a load inside the span")
        return self

    def trace(self) -> UtilisationTrace:
        """The parsed trace (read once per process, then cached)."""
        c = self.columns or UtilisationColumns()
        return load_utilisation_trace(self.file, c.time, c.utilisation, c.time_unit)

    @property
    def long_run(self) -> float:
        """Long-run utilisation: the span's time average (loop) or the last row's (no loop)."""
        trace = self.trace()
        return trace.mean if self.loop else trace.tail

    def curve(self, rng: np.random.Generator) -> TraceCurve:
        """The level over simulation time; one draw of ``rng`` for offset: random."""
        trace = self.trace()
        offset = (float(rng.random()) * trace.span * self.time_scale
                  if self.offset == "random" else float(self.offset))
        return TraceCurve(trace, self.loop, self.time_scale, offset)


class Background(_Strict):
    """Jobs from other tenants competing for the server's workers.

    Poisson at ``rate``, optionally modulated by ``pattern``; or, with
    ``utilisation``, a non-homogeneous Poisson process of rate
    u(t) × (total worker speed) / work, so the offered work is the share u(t)
    of the server's total speed.  A job's service on a worker of speed s is
    ``work × m / s``, m a unit-mean multiplier from ``variability``.
    """

    arrivals: Literal["poisson"] = "poisson"
    rate: Frequency | None = Field(default=None, gt=0, description=(
        "Mean arrival rate of background jobs (1/s); not with `utilisation`."))
    work: Work = Field(gt=0, description="Mean work of one background job (FLOP).")
    variability: VariabilitySpec | None = Field(default=None, description=(
        "Distribution of a job's work as a unit-mean multiplier of `work`: deterministic, "
        "exponential, or {dist: gamma|lognormal, cv: 0.5}; default the server's "
        "compute.variability."))
    pattern: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(
        default=None, min_length=1, description=(
            "Optional load curve: multipliers of `rate` over equal slices of `period`, "
            "repeating (e.g. 24 hourly values for a diurnal cycle); the rate in slice i is "
            "rate × pattern[i]."))
    period: Duration = Field(default=86400.0, gt=0, description=(
        "Length of one cycle of `pattern` (s), e.g. '24 h'."))
    utilisation: UtilisationTraceSpec | None = Field(default=None, description=(
        "Instead of `rate`: a utilisation trace {file: ..., loop, time_scale, offset} whose "
        "u(t) in [0, 1] sets the offered background load as a share of the server's total "
        "speed."))

    @model_validator(mode="after")
    def _pattern_not_all_zero(self) -> Background:
        if self.utilisation is not None:
            if self.rate is not None or self.pattern is not None:
                raise ValueError("give either `utilisation` (a trace) or `rate` (with an "
                                 "optional `pattern`), not both")
            return self
        if self.rate is None:
            raise ValueError("give the background jobs' `rate` (e.g. rate: 20/s), or a "
                             "`utilisation` trace")
        if self.pattern is not None and max(self.pattern) <= 0:
            raise ValueError("pattern needs at least one multiplier above 0")
        return self

    def process(self, total_speed: float, rng: np.random.Generator
                ) -> tuple[float, LoadCurve | None]:
        """Base rate (1/s) and load curve of the arrivals on a server of ``total_speed``."""
        if self.utilisation is not None:
            return total_speed / self.work, self.utilisation.curve(rng)
        if self.pattern is not None:
            return float(self.rate), PatternCurve(self.pattern, self.period)
        return float(self.rate), None

    def offered_flops(self, total_speed: float) -> float:
        """Long-run background work offered to one server (FLOP/s)."""
        if self.utilisation is not None:
            return self.utilisation.long_run * total_speed
        mean_level = sum(self.pattern) / len(self.pattern) if self.pattern else 1.0
        return float(self.rate) * mean_level * self.work


class ServerCompute(_Strict):
    speed: Speed | None = Field(default=None, gt=0, description=(
        "Speed of each worker (FLOP/s), e.g. '8 GFLOPS'; required unless `classes` is given, "
        "and not allowed with it."))
    variability: VariabilitySpec = Field(default=Variability(), description=(
        "deterministic, exponential, or {dist: gamma|lognormal, cv: 0.5}; mean = work/speed "
        "of the worker that runs the job."))


class WorkerClass(_Strict):
    """Identical workers of one speed (``server.classes``)."""

    workers: int = Field(ge=1, description="Workers of this class.")
    speed: Speed = Field(gt=0, description="Speed of each worker of this class (FLOP/s).")


class Batching(_Strict):
    """Requests served several at a time by one worker (``server.batching``).

    Offloaded requests reaching a server join its open batch; the batch closes
    when it holds ``size`` requests or ``timeout`` after its first request
    arrived, whichever is first, then queues (FIFO, with background jobs, which
    are never batched) for the fastest free worker.  How long a batch runs is
    given in one of two forms.

    ``speedup`` (relative): a batch whose requests would take t_1..t_n alone on
    that worker (work / speed × multiplier) runs for ``a·max(t_i) + (1 − a)·Σ
    t_i``: a fraction ``a`` of a request's time is shared by the batch (e.g.
    loading weights), the rest is per request.  With equal requests of time t
    this is ``t·(a + (1 − a)·n)`` = base + per_item·n, one request alone takes
    t, and ``a`` is set by the full batch's ``speedup``: k requests take
    ``k·t / speedup``, so ``a = (k − k/speedup) / (k − 1)``.

    ``time`` (absolute, measured): ``{1: 4 ms, 8: 10 ms}`` is how long a batch
    of k requests that each run the whole model on the server takes on the
    fastest worker; sizes between two given ones are interpolated linearly (so
    ``{1: b + p, size: b + p·size}`` is base b + per_item p).  A batch of n
    requests of server work w_i (FLOP) and service multipliers m_i on a worker
    of speed s runs for ``time(n) × mean_i(w_i·m_i) / W × s_fastest / s``, W
    the model's work (all blocks): requests that run less of the model (a
    split > 0, a server-side exit) count for their share of it.  The times do
    not follow the model's variant or ``compute.speed``: they are the
    measurement of one model on one worker.
    """

    size: int = Field(ge=1, description="Most requests in one batch (k).")
    timeout: Duration = Field(ge=0, description=(
        "Longest a batch waits for more requests after its first arrived (s), e.g. '20 ms'."))
    speedup: float = Field(default=1.0, ge=1, allow_inf_nan=False, description=(
        "Throughput gain of a full batch over serving its requests one by one: a full "
        "batch of equal requests of time t takes size·t/speedup (1 ≤ speedup ≤ size)."))
    time: dict[int, Duration] | None = Field(default=None, description=(
        "Instead of `speedup`: measured time of a batch of k whole-model requests on the "
        "fastest worker, {k: time}, e.g. {1: '4 ms', 8: '10 ms'}; must give 1 and `size`, "
        "sizes in between are interpolated linearly."))

    @model_validator(mode="after")
    def _speedup_at_most_size(self) -> Batching:
        if self.speedup > self.size:
            raise ValueError(f"speedup {self.speedup:g} is more than size {self.size}: a full "
                             f"batch cannot take less than one request's time")
        if self.time is None:
            return self
        if "speedup" in self.model_fields_set:
            raise ValueError("give either `speedup` (relative) or `time` (measured batch "
                             "times), not both")
        sizes = sorted(self.time)
        if sizes[0] != 1 or sizes[-1] != self.size:
            raise ValueError(f"time must give the batch of 1 and the full batch of size "
                             f"{self.size}, and sizes only in 1..{self.size} (got sizes "
                             f"{sizes})")
        for k in sizes:
            if not self.time[k] > 0:
                raise ValueError(f"time of a batch of {k} must be > 0 (got {self.time[k]:g} s)")
        for a, b in itertools.pairwise(sizes):
            if self.time[b] < self.time[a]:
                raise ValueError(f"a batch of {b} cannot take less time than a batch of {a} "
                                 f"({self.time[b]:g} s < {self.time[a]:g} s)")
        return self

    @property
    def shared(self) -> float:
        """Fraction ``a`` of a request's time shared by its batch (0 for size 1)."""
        k = self.size
        return 0.0 if k == 1 else (k - k / self.speedup) / (k - 1)

    @property
    def times(self) -> tuple[float, ...] | None:
        """``time`` form: the time (s) of a batch of n = 1..size, interpolated; else None."""
        if self.time is None:
            return None
        sizes = sorted(self.time)
        return tuple(float(np.interp(n, sizes, [self.time[k] for k in sizes]))
                     for n in range(1, self.size + 1))

    def capacity_gain(self, model_work: float, fastest_speed: float) -> float:
        """Throughput of full batches over one-at-a-time service at the worker's speed.

        ``speedup`` form: the speedup.  ``time`` form: a full batch serves
        ``size`` model-sized requests (W FLOP each) in ``time(size)`` on the
        fastest worker, i.e. ``size·W / time(size)`` FLOP/s against its speed.
        """
        if self.time is None:
            return self.speedup
        return self.size * model_work / (self.times[-1] * fastest_speed)


class ServerSpec(_Strict):
    """An edge server: one FIFO queue in front of its workers.

    Workers are either ``workers`` identical ones of speed ``compute.speed`` or
    ``classes`` of different speeds; a job that starts takes the fastest free
    worker and runs ``work / speed × multiplier`` on it.
    """

    workers: int = Field(default=1, ge=1, description=(
        "Identical FIFO workers per server, each of speed compute.speed (not with `classes`)."))
    classes: list[WorkerClass] | None = Field(default=None, min_length=1, description=(
        "Worker classes instead of `workers` + `compute.speed`, e.g. [{workers: 2, speed: "
        "10 TFLOPS}, {workers: 1, speed: 2 TFLOPS}]; a starting job takes the fastest free "
        "worker."))
    compute: ServerCompute = Field(default=ServerCompute(), description=(
        "Worker speed (without `classes`) and the service-time variability."))
    batching: Batching | None = Field(default=None, description=(
        "Serve requests (not background jobs) in batches: {size: 4, timeout: '20 ms', "
        "speedup: 2.5}; none = one at a time."))
    background: Background | None = Field(default=None, description=(
        "Other tenants' jobs; each server gets its own stream of them."))
    count: int = Field(default=1, ge=1, description="Identical servers behind a dispatcher.")
    dispatch: Literal["least-loaded", "round-robin", "random"] = Field(
        default="least-loaded", description=(
            "How requests are routed to servers: least reported backlog, in turn, or "
            "uniformly at random."))

    @model_validator(mode="after")
    def _one_worker_form(self) -> ServerSpec:
        if self.classes is None:
            if self.compute.speed is None:
                raise ValueError("give the workers' speed: compute.speed (with `workers`), "
                                 "or worker classes: classes: [{workers: 2, speed: ...}]")
            return self
        given = [f"`{k}`" for k, v in (("workers", "workers" in self.model_fields_set),
                                       ("compute.speed", self.compute.speed is not None)) if v]
        if given:
            raise ValueError(f"give either `classes` or `workers` + `compute.speed`, not both "
                             f"(remove {' and '.join(given)})")
        return self

    @property
    def worker_speeds(self) -> tuple[float, ...]:
        """Speed of each worker of one server (FLOP/s), fastest first."""
        if self.classes is None:
            return (float(self.compute.speed),) * self.workers
        return tuple(sorted((float(c.speed) for c in self.classes for _ in range(c.workers)),
                            reverse=True))

    @property
    def total_workers(self) -> int:
        """Workers of one server."""
        return len(self.worker_speeds)

    @property
    def mean_speed(self) -> float:
        """Mean worker speed (FLOP/s): the speed nominal work and backlogs are counted at."""
        if self.classes is None:
            return float(self.compute.speed)
        speeds = self.worker_speeds
        return sum(speeds) / len(speeds)


class TopologyNode(_Strict):
    """A place in the network: an access point, a router, an edge server or a cloud."""

    name: str = Field(description="Unique name; links, `attach` and the records refer to it.")
    kind: Literal["access_point", "router", "edge", "cloud"] = Field(description=(
        "access_point (devices attach to it over their radio channel), router (only "
        "forwards), edge or cloud (a server: a cloud is simply one far away, behind links "
        "of higher latency)."))
    server: ServerSpec | None = Field(default=None, description=(
        "edge/cloud only: this server's spec (same fields as the top-level `server`, "
        "without count, dispatch and batching); omitted = the top-level `server` block."))

    @model_validator(mode="after")
    def _server_fits_kind(self) -> TopologyNode:
        if self.kind in ("access_point", "router") and self.server is not None:
            article = "an" if self.kind == "access_point" else "a"
            raise ValueError(f"node '{self.name}' is {article} {self.kind}, which has no server; "
                             f"remove `server` or make it kind edge or cloud")
        if self.server is not None:
            extra = sorted({"count", "dispatch", "batching"} & self.server.model_fields_set)
            if extra:
                raise ValueError(f"node '{self.name}': server.{extra[0]} is not allowed in a "
                                 f"topology node (a node is one server; count, dispatch and "
                                 f"batching are the top-level server block's, for all servers)")
        return self


class TopologyLink(_Strict):
    """A wired link: one-way latency and rate, the same both ways, uncontended."""

    between: tuple[str, str] = Field(description="The two node names it joins.")
    latency: Duration = Field(ge=0, description="One-way propagation and switching delay (s).")
    rate: Rate | None = Field(default=None, gt=0, description=(
        "Rate (bit/s), e.g. '1 Gbps': a payload of b bits takes b/rate to serialise on "
        "this link; omitted = no serialisation time."))


class TopologySpec(_Strict):
    """Access points, servers and wired links (``simulator.topology``); optional.

    Without it every device reaches the ``server`` block's servers over its
    radio channel alone, as before.  With it the servers are the edge and
    cloud nodes, in the order declared (server index = that order).
    """

    nodes: list[TopologyNode] = Field(min_length=2, description=(
        "Named nodes: at least one access_point and one edge or cloud."))
    links: list[TopologyLink] = Field(default_factory=list, description=(
        "Wired links; a request routes over the least-latency path from its device's "
        "access point to its server."))
    attach: dict[str, str] = Field(default_factory=dict, description=(
        "Device entry name → access point name; optional with a single access point."))


class EstimatorSpec(_Strict):
    """How a device estimates its uplink rate (``simulator.estimators``)."""

    kind: Literal["oracle", "last", "ewma", "harmonic"] = Field(default="ewma", description=(
        "oracle: the true current rate (sees what a device cannot); last: the last own "
        "transfer; ewma: exponentially weighted mean of own transfers; harmonic: harmonic "
        "mean of the last `window` own transfers."))
    alpha: float = Field(default=0.3, gt=0.0, le=1.0, description="EWMA weight of a new sample.")
    window: int = Field(default=5, ge=1, description="harmonic: transfers averaged (k).")
    memory: Duration | None = Field(default=10.0, gt=0, description=(
        "Time constant (s) with which a learned estimate fades back to the link's long-run "
        "mean when the device stops measuring; null: never forget."))


def _estimator_shorthand(value: object) -> object:
    return {"kind": value} if isinstance(value, str) else value


class SchedulerSpec(BaseModel):
    """``policy`` plus its parameters; see ``splitsim list schedulers``.

    Parameters of another registered policy are accepted and ignored, so that
    ``sweep: {scheduler.policy: [...]}`` can share one scheduler block.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    policy: str
    estimator: Annotated[EstimatorSpec, BeforeValidator(_estimator_shorthand),
                         shorthand_schema(EstimatorSpec, ("oracle", "last", "ewma",
                                                          "harmonic"))] = EstimatorSpec()
    thresholds: float | list[float] | None = Field(default=None, description=(
        "Early-exit confidence thresholds: one for every exit head, or one per head in "
        "block order; omitted = exits off."))
    backlog_delay: Duration = Field(default=0.0, ge=0.0, description=(
        "Staleness of the server backlog a device sees: it gets the backlog as it was "
        "this long ago (e.g. '100 ms')."))
    params: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _policy_params(self) -> SchedulerSpec:
        from simulator.schedulers import (
            PluginError,
            known_parameters,
            parameter_names,
            resolve,
        )

        try:
            cls = resolve(self.policy)
        except PluginError as exc:
            raise ValueError(str(exc)) from exc
        extra = dict(self.__pydantic_extra__ or {})
        own = parameter_names(cls)
        foreign = known_parameters() - own
        unknown = [k for k in extra if k not in own and k not in foreign]
        if unknown:
            allowed = sorted(own | {"policy", "estimator", "thresholds", "backlog_delay"})
            hint = _suggest(unknown[0], allowed + sorted(foreign))
            raise ValueError(f"unknown parameter '{unknown[0]}' for policy '{self.policy}'"
                             f"{hint}; allowed: {', '.join(allowed)}")
        mine = {k: v for k, v in extra.items() if k in own}
        validated = cls.Params.model_validate(mine)
        params = validated.model_dump()
        wrapped = getattr(cls, "wraps", None)  # a policy around another (early-exit)
        if wrapped is not None:
            try:
                inner = resolve(params[wrapped])
            except PluginError as exc:
                raise ValueError(f"{wrapped}: {exc}") from exc
            inner_names = parameter_names(inner)
            params[f"{wrapped}_params"] = inner.Params.model_validate(
                {k: v for k, v in extra.items() if k in inner_names}).model_dump()
        object.__setattr__(self, "params", params)
        return self

    def build(self):
        """A fresh policy object with validated parameters."""
        from simulator.schedulers import resolve

        cls = resolve(self.policy)
        return cls(cls.Params.model_validate(self.params))


class Horizon(_Strict):
    requests: int = Field(gt=0, description="Arrivals simulated per replication (all devices).")
    warmup: Annotated[int, Field(ge=0)] | Literal["mser-5"] = Field(default=0, description=(
        "First arrivals left out of statistics, or 'mser-5': per replication, the MSER-5 "
        "truncation point of the latency series (White 1997)."))

    @model_validator(mode="after")
    def _warmup_below_requests(self) -> Horizon:
        if isinstance(self.warmup, int) and self.warmup >= self.requests:
            raise ValueError(f"warmup ({self.warmup}) must be smaller than requests "
                             f"({self.requests})")
        return self


class Scenario(_Strict):
    """A whole experiment: the world, the policy, and how often to replicate it."""

    name: str
    description: str = ""
    seed: int = Field(default=0, ge=0)
    replications: int = Field(default=10, ge=1)
    horizon: Horizon
    model: ModelSpec
    devices: list[DeviceSpec] = Field(min_length=1)
    channel: ChannelSpec
    server: ServerSpec
    topology: TopologySpec | None = Field(default=None, description=(
        "Optional network of access points, edge servers and a cloud; see "
        "docs/models.md (Topology).  Omitted: one hop (the radio channel) to the servers."))
    scheduler: SchedulerSpec
    engine: Literal["auto", "simpy", "fast"] = Field(default="auto", description=(
        "Which engine runs each sweep point: auto (the exact event-free fast path where "
        "no decision depends on the simulation's state, else SimPy), simpy, or fast (an "
        "error where it does not apply). Both give the same per-request records."))
    sweep: dict[str, list[Any]] = Field(default_factory=dict, description=(
        "Cartesian product over dotted keys, e.g. {scheduler.policy: [a, b]}."))
    zip: dict[str, list[Any]] = Field(default_factory=dict, description=(
        "Dotted keys that move together: equal-length lists, point i takes the i-th value "
        "of every list; crossed with 'sweep' and 'cases'."))
    cases: dict[str, dict[str, Any] | None] = Field(default_factory=dict, description=(
        "Named variants, case name → {dotted.key: value} (empty: the scenario as written); "
        "crossed with 'sweep' and 'zip'; "
        "the results get a 'case' column."))

    @model_validator(mode="after")
    def _sweep_lists(self) -> Scenario:
        for key, values in self.sweep.items():
            if not values:
                raise ValueError(f"sweep '{key}' needs at least one value")
        lengths = {key: len(values) for key, values in self.zip.items()}
        if len(set(lengths.values())) > 1 or 0 in lengths.values():
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ValueError(f"zip lists move together, so they need the same number of "
                             f"values (at least one): {shown}")
        grids = {"sweep": set(self.sweep), "zip": set(self.zip),
                 "cases": {k for over in self.cases.values() for k in over or {}}}
        for where, keys in grids.items():
            fixed = sorted(k for k in keys if k.split(".")[0] in _UNSWEPT)
            if fixed:
                raise ValueError(f"{where}: '{fixed[0]}' cannot vary between sweep points "
                                 f"(the seed and the replications belong to the whole run, "
                                 f"so every point sees the same random numbers)")
        for a, b in itertools.combinations(grids, 2):
            both = sorted(grids[a] & grids[b])
            if both:
                raise ValueError(f"'{both[0]}' is set by both {a} and {b}; give each key in "
                                 f"only one of sweep, zip and cases")
        return self

    @model_validator(mode="after")
    def _enough_arrivals(self) -> Scenario:
        """A run ends after ``horizon.requests`` arrivals: finite traces must hold them."""
        held = [d.count * d.workload.trace_requests() for d in self.devices
                if d.workload.trace_requests() is not None]
        if len(held) == len(self.devices) and sum(held) < self.horizon.requests:
            files = ", ".join(sorted({Path(d.workload.file).name for d in self.devices}))
            raise ValueError(f"horizon.requests is {self.horizon.requests} but the arrival "
                             f"traces without loop ({files}) send only {sum(held)} requests "
                             f"in all; lower horizon.requests or set loop: true")
        return self

    @model_validator(mode="after")
    def _topology_fits(self) -> Scenario:
        if self.topology is None:
            return self
        from simulator.topology import TopologyError, build_network

        if self.server.count != 1:
            raise ValueError(f"server.count is {self.server.count}, but with a topology the "
                             f"servers are its edge and cloud nodes; remove server.count")
        try:
            build_network(self.topology, self.devices, self.server)
        except TopologyError as exc:
            raise ValueError(f"topology.{exc}") from exc
        return self

    def network(self):
        """The checked ``simulator.topology.Network`` of ``topology`` (None without one)."""
        if self.topology is None:
            return None
        from simulator.topology import build_network

        return build_network(self.topology, self.devices, self.server)


#: Top-level keys a sweep, zip or case may not change.
_UNSWEPT = ("seed", "replications", "sweep", "zip", "cases")


# ------------------------------------------------------------------ loading


@dataclass(frozen=True)
class SweepPoint:
    """One point of the sweep grid: its values and its fully validated scenario."""

    index: int
    values: dict[str, Any]
    scenario: Scenario


@dataclass(frozen=True)
class LoadedScenario:
    """A scenario file after overrides: the raw mapping (to save) and its sweep grid."""

    path: Path
    raw: dict[str, Any]
    base: Scenario
    points: tuple[SweepPoint, ...]
    warnings: tuple[str, ...]

    @property
    def policies(self) -> set[str]:
        """Every policy name the points use, wrapped ones (early-exit's split policy) too."""
        names = set()
        for point in self.points:
            spec = point.scenario.scheduler
            names.add(spec.policy)
            names.update(v for k, v in spec.params.items()
                         if k.endswith("_policy") and isinstance(v, str))
        return names


def load_scenario(path: str | Path,
                  overrides: list[str | tuple[str, Any]] | tuple[str | tuple[str, Any], ...] = (),
                  raw: Mapping[str, Any] | None = None) -> LoadedScenario:
    """Read, override and validate a scenario and every point of its sweep.

    ``overrides`` are ``"dotted.key=value"`` strings (the value read as YAML, as
    ``--set`` does) or ``(dotted.key, value)`` pairs (the value used as is).
    ``sweep.KEY``, ``zip.KEY`` and ``cases.NAME.KEY`` address one entry of
    the grid (their KEY keeps its dots).  With ``raw`` the scenario is that
    mapping instead of the file's content; ``path`` then only names it in
    messages and anchors relative file paths.

    The points are the cases (in order) × the zip positions × the cartesian
    product of ``sweep``; a point's values hold ``case`` (when there are
    cases), the zip keys and the sweep keys.  Everything that can be wrong with
    the input is found here, before anything runs; every error is a
    ``ScenarioError`` naming ``path``.
    """
    path = Path(path)
    if raw is None:
        raw = read_yaml(path)
    elif not isinstance(raw, Mapping):
        raise ScenarioError(f"{path}: a scenario must be a mapping, got {type(raw).__name__}")
    raw = copy.deepcopy(dict(raw))
    for item in overrides:
        if isinstance(item, str):
            key, value = _parse_override(item, path)
            origin = f"--set {item}"
        else:
            key, value = item
            origin = f"set {key}={value!r}"
        if not _set_grid_entry(raw, key, value, path, origin):
            _set_dotted(raw, key, value, path, origin=origin)
    base = _validate(raw, path)
    points = []
    for index, (values, assignments) in enumerate(_grid(base)):
        point_raw = copy.deepcopy(raw)
        for grid_key in ("sweep", "zip", "cases"):
            point_raw.pop(grid_key, None)
        for key, value, origin in assignments:
            _set_dotted(point_raw, key, value, path, origin=origin)
        where = ", ".join(f"{k}={v}" for k, v in values.items())
        points.append(SweepPoint(index, values, _validate(point_raw, path, context=where)))
    for p in points:
        _check_policy_fits(p.scenario, path, p.values)
        if p.scenario.engine == "fast":
            _check_fast_path(p, path)
    warnings = tuple(w for p in points for w in load_warnings(p.scenario, p.values, path))
    return LoadedScenario(path, raw, base, tuple(points), tuple(dict.fromkeys(warnings)))


def grid_columns(scenario: Scenario) -> list[str]:
    """The columns that identify a sweep point: ``case``, the zip keys, the sweep keys."""
    return (["case"] if scenario.cases else []) + list(scenario.zip) + list(scenario.sweep)


def _grid(base: Scenario) -> typing.Iterator[tuple[dict[str, Any], list[tuple[str, Any, str]]]]:
    """Every point's values and the (key, value, origin) assignments that make it."""
    cases = list(base.cases.items()) or [(None, {})]
    n_zip = len(next(iter(base.zip.values()))) if base.zip else 1
    keys = list(base.sweep)
    for name, case in cases:
        for i in range(n_zip):
            for combo in itertools.product(*(base.sweep[k] for k in keys)):
                values: dict[str, Any] = {} if name is None else {"case": name}
                todo = [(k, v, f"case '{name}'") for k, v in (case or {}).items()]
                for key, column in base.zip.items():
                    values[key] = column[i]
                    todo.append((key, column[i], f"zip '{key}'"))
                for key, value in zip(keys, combo, strict=True):
                    values[key] = value
                    todo.append((key, value, f"sweep '{key}'"))
                yield values, todo


def _set_grid_entry(raw: dict[str, Any], key: str, value: Any, path: Path, origin: str) -> bool:
    """``sweep.KEY`` / ``zip.KEY`` / ``cases.NAME.KEY`` overrides: KEY keeps its dots."""
    head, _, rest = key.partition(".")
    if head not in ("sweep", "zip", "cases") or not rest:
        return False
    table = raw.get(head)
    if table is None:
        table = raw[head] = {}
    if not isinstance(table, dict):
        raise ScenarioError(f"{path}: {origin}: '{head}' is not a mapping")
    if head == "cases":
        name, _, rest = rest.partition(".")
        if not rest:
            table[name] = value
            return True
        table = table.setdefault(name, {})
        if not isinstance(table, dict):
            raise ScenarioError(f"{path}: {origin}: case '{name}' is not a mapping")
    table[rest] = value
    return True


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML file into a mapping, with the line of any syntax error."""
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise ScenarioError(f"{path}: no such scenario file") from exc
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario file ({exc})") from exc
    try:
        raw = yaml.load(text, Loader=_ScenarioLoader)  # a SafeLoader: no Python objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if "'\\t'" in problem:
            problem += " (YAML indents with spaces, never tabs)"
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and mark is not None and start.line != mark.line:
            problem += f" ({context} that starts on line {start.line + 1})"
        label = "" if isinstance(exc, _DuplicateKey) else "YAML syntax error: "
        raise ScenarioError(f"{path}:{where}: {label}{problem}") from exc
    if raw is None:
        raise ScenarioError(f"{path}: the scenario file is empty (only comments or blank "
                            f"lines); see DESIGN.md §8 or 'splitsim schema' for the format")
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario must be a YAML mapping (key: value lines), "
                            f"got {type(raw).__name__}")
    return raw


class _DuplicateKey(yaml.YAMLError):
    """A key given twice in one mapping (plain YAML would keep the last silently)."""

    def __init__(self, key: object, first_line: int, mark: Any) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.problem = (f"duplicate key {key!r} (already given on line {first_line}); "
                        f"give each key once")
        self.problem_mark = mark


class _ScenarioLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, typing.Hashable):
                if key in seen:
                    raise _DuplicateKey(key, seen[key], key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _validate(raw: Mapping[str, Any], path: Path, context: str = "") -> Scenario:
    try:
        return Scenario.model_validate(raw, context={"base_dir": path.parent})
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, path, context)) from exc


def format_validation_error(exc: ValidationError, path: Path, context: str = "") -> str:
    """One message for the first error: file, field path, value, what is allowed."""
    err = _most_relevant(exc.errors())
    fields, parent = _walk_loc(err["loc"][:-1] if err["type"] == "extra_forbidden"
                               else err["loc"])
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        loc = ".".join([*fields, key])
    else:
        loc = ".".join(fields)
    where = f"{path}: {loc}" if loc else str(path)
    if context:
        where += f" (at sweep point {context})"
    if err["type"] == "extra_forbidden":
        allowed = sorted(parent.model_fields) if parent else []
        hint = _suggest(key, allowed)
        listed = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"{where}: unknown key '{key}'{hint}{listed}"
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    if err["type"] == "union_tag_invalid":
        # {model: markow}: name the discriminating field, suggest, list what exists
        ctx = err.get("ctx", {})
        field = str(ctx.get("discriminator", "")).strip("'")
        tag = str(ctx.get("tag", ""))
        expected = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        return (f"{where}.{field}: unknown {field} {tag!r}{_suggest(tag, expected)}; allowed: "
                f"{', '.join(expected)}")
    msg = err["msg"].removeprefix("Value error, ").replace(" after validation", "")
    cause = getattr(err.get("ctx", {}).get("error"), "__cause__", None)
    if loc == "scheduler" and type(cause).__name__ == "PluginError" and str(cause) == msg:
        where = where.replace(f"{path}: scheduler", f"{path}: scheduler.policy", 1)
    elif loc == "scheduler" and msg.startswith("unknown parameter '"):
        param = msg.split("'")[1]
        where = where.replace(f"{path}: scheduler", f"{path}: scheduler.{param}", 1)
    return f"{where}: {msg}{_shown_value(err.get('input'), msg, err['type'])}"


def _shown_value(value: Any, msg: str, kind: str) -> str:
    """`` (got VALUE)`` unless the message already shows it; big inputs by their type.

    A mapping is shown only when a scalar or list was expected (``*_type``
    errors): the checks of a whole block explain themselves.
    """
    if isinstance(value, dict | list) and (kind == "value_error" or (
            isinstance(value, dict) and not kind.endswith("_type"))):
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        already = repr(value) in msg
    else:  # a bare number: "greater than 0" does not show the value 0
        already = f"got {value!r}" in msg or f"got {value}" in msg
    if already:
        return ""
    text = repr(value)
    if isinstance(value, dict | list) and len(text) > 60:
        text = (f"a mapping with keys {', '.join(map(str, value))}" if isinstance(value, dict)
                else f"a list of {len(value)} items")
        if len(text) > 80:
            text = "a mapping" if isinstance(value, dict) else f"a list of {len(value)} items"
    return f" (got {text})"


def _most_relevant(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Prefer errors of the branch the user meant (the longest location)."""
    def rank(e: dict[str, Any]) -> tuple[int, int]:
        return (e["type"] != "union_tag_invalid", e["type"] == "extra_forbidden",
                len(e["loc"]))
    return max(errors, key=rank)


def _walk_loc(loc: tuple[Any, ...]) -> tuple[list[str], type[BaseModel] | None]:
    """Follow an error location through the schema.

    Returns the user-facing path (list indices kept, union tags such as
    ``constant`` or ``function-before[...]`` dropped) and the model class at
    its end, whose fields are what the user may write there.
    """
    current: Any = Scenario
    shown: list[str] = []
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            shown.append(str(part))
            args = typing.get_args(current)
            current = args[0] if args else None
            continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            shown.append(str(part))  # a field, or an extra one (a policy parameter)
            field = current.model_fields.get(part)
            current = None if field is None else field.annotation
            continue
        if typing.get_origin(current) is dict:  # sweep: {server.workers: [...]}
            shown.append(str(part))
            current = typing.get_args(current)[1]
            continue
        current = _union_member(current, str(part))
    current = _unwrap(current)
    model = current if isinstance(current, type) and issubclass(current, BaseModel) else None
    return shown, model


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional so the interesting type is left."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return _unwrap(args[0])
    return annotation


def _union_member(annotation: Any, tag: str) -> Any:
    """The member of a union that a pydantic location tag names (or the union itself)."""
    for member in typing.get_args(annotation):
        inner = _unwrap(member)
        meta = typing.get_args(member)[1:] if typing.get_origin(member) is typing.Annotated \
            else ()
        tags = {getattr(m, "tag", None) for m in meta}
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            literal = inner.model_fields.get("model")
            names = {inner.__name__, *tags}
            if literal is not None:
                names.update(str(v) for v in typing.get_args(literal.annotation))
            if tag in names:
                return inner
    return annotation


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _parse_override(item: str, path: Path) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ScenarioError(f"--set {item!r}: expected dotted.key=value "
                            f"(e.g. --set server.workers=2)")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(f"--set {item!r}: cannot read the value ({problem}); write "
                            f"it as YAML, e.g. server.workers=2 or "
                            f"'channel.uplink={{model: constant, rate: 20 Mbps}}'") from exc
    return key.strip(), value


def _set_dotted(raw: dict[str, Any], key: str, value: Any, path: Path, origin: str) -> None:
    """Set ``a.b.0.c`` in nested dicts/lists; unknown top-level keys get a suggestion."""
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"{path}: {origin}: '{'.'.join(parts[:i + 1])}' needs a "
                                    f"list index in 0..{len(node) - 1}")
            part_key: Any = int(part)
        elif isinstance(node, dict):
            part_key = part
            if i == 0 and part not in Scenario.model_fields:
                hint = _suggest(part, list(Scenario.model_fields))
                raise ScenarioError(f"{path}: {origin}: unknown key '{part}'{hint}; allowed "
                                    f"top-level keys: {', '.join(Scenario.model_fields)}")
        else:
            raise ScenarioError(f"{path}: {origin}: '{'.'.join(parts[:i])}' is a value, "
                                f"not a mapping, so '{key}' cannot be set")
        if last:
            node[part_key] = value
        else:
            if isinstance(node, dict) and part_key not in node:
                node[part_key] = {}
            node = node[part_key]


def resolve_model(scenario: Scenario, path: Path | None = None) -> ModelProfile:
    """The ``ModelProfile`` behind ``scenario.model`` (inline, library or file)."""
    spec = scenario.model
    if isinstance(spec, InlineModel):
        return spec.to_profile()
    try:
        if spec.file is not None:
            from profiles.model import load_profile_file

            file = Path(spec.file)
            if not file.is_absolute() and path is not None:
                file = path.parent / file
            return load_profile_file(file)
        from profiles.library import load_profile

        return load_profile(spec.profile, spec.variant)
    except ProfileError as exc:
        field = "model.file" if spec.file is not None else "model.profile"
        raise ScenarioError(f"{path}: {field}: {exc}") from exc


def _check_policy_fits(scenario: Scenario, path: Path, values: Mapping[str, Any]) -> None:
    """Catch parameters that only make sense with the model (split range, thresholds)."""
    model = resolve_model(scenario, path)
    where = f" (at sweep point {', '.join(f'{k}={v}' for k, v in values.items())})" \
        if values else ""
    split = scenario.scheduler.params.get("split")
    if split is not None and split > model.depth:
        raise ScenarioError(f"{path}: scheduler.split{where}: {split} is out of range; this "
                            f"model has {model.depth} blocks, so split must be in "
                            f"0..{model.depth}")
    thresholds = scenario.scheduler.thresholds
    n_exits = len(model.exit_blocks)
    given = thresholds if isinstance(thresholds, list) else [thresholds]
    if any(isinstance(t, float) and math.isnan(t) for t in given):
        raise ScenarioError(f"{path}: scheduler.thresholds{where}: nan is not a threshold; "
                            f"allowed: a confidence in [0, 1] (a sample exits when its "
                            f"confidence reaches it), or .inf to keep that exit off "
                            f"(got {thresholds})")
    if isinstance(thresholds, list) and len(thresholds) != n_exits:
        raise ScenarioError(f"{path}: scheduler.thresholds{where}: {len(thresholds)} values "
                            f"given but the model has {n_exits} exit heads (at blocks "
                            f"{list(model.exit_blocks)}); give one number for every "
                            f"head, or a list of {n_exits}")


def _check_fast_path(point: SweepPoint, path: Path) -> None:
    """``engine: fast`` where the fast path does not apply: say why, before anything runs."""
    from simulator.fastpath import supports

    reason = supports(point.scenario, resolve_model(point.scenario, path))
    if reason is not None:
        where = (f" (at sweep point {', '.join(f'{k}={v}' for k, v in point.values.items())})"
                 if point.values else "")
        raise ScenarioError(f"{path}: engine{where}: 'fast' does not apply here: {reason}; "
                            f"allowed: auto (the fast path where it applies, else SimPy) or "
                            f"simpy")


def configured_thresholds(scenario: Scenario, n_exits: int) -> tuple[float, ...]:
    """The scenario's exit thresholds, one per exit head (inf = exit off)."""
    t = scenario.scheduler.thresholds
    if t is None:
        return (math.inf,) * n_exits
    if isinstance(t, list):
        return tuple(float(x) for x in t)
    return (float(t),) * n_exits


def load_warnings(scenario: Scenario, values: Mapping[str, Any],
                  path: Path | None = None) -> list[str]:
    """Warnings that do not stop a run: an overloaded server or device under a static policy,
    or copies of a device replaying one arrival trace in lockstep."""
    warnings: list[str] = []
    at = f" at sweep point {dict(values)}" if values else ""
    for dev in scenario.devices:
        wl = dev.workload
        if wl.arrivals == "trace" and dev.count > 1 and wl.offset != "random":
            warnings.append(f"the {dev.count} devices '{dev.name}' replay the same arrival "
                            f"trace from the same offset{at}, so their requests arrive "
                            f"together; set offset: random to start each at its own point")
    model = resolve_model(scenario, path)
    total_flops = sum(2.0 * b.effective_macs for b in model.blocks)
    policy = scenario.scheduler.policy
    split = {"server-only": 0, "device-only": model.depth}.get(
        policy, scenario.scheduler.params.get("split") if policy == "fixed-split" else None)
    if split is None:
        return warnings
    device_flops = sum(2.0 * b.effective_macs for b in model.blocks[:split])
    for dev in scenario.devices:
        rho = dev.workload.mean_rate * device_flops / dev.compute.speed
        if rho >= 1.0:
            warnings.append(f"device '{dev.name}' utilisation is {rho:.2f} ≥ 1{at}: its queue "
                            f"grows without bound and latencies depend on the horizon")
    rho = server_utilisation(scenario, sum(d.count * d.workload.mean_rate
                                           for d in scenario.devices)
                             * (total_flops - device_flops), total_flops)
    if split < model.depth and rho >= 1.0:
        warnings.append(f"server utilisation is {rho:.2f} ≥ 1{at}: its queue grows without "
                        f"bound and latencies depend on the horizon")
    return warnings


def server_utilisation(scenario: Scenario, request_flops: float, model_work: float) -> float:
    """Long-run offered load of the edge over its capacity (≥ 1: the queues grow).

    ``request_flops`` (FLOP/s) is the requests' server work offered to all
    servers (``server.count`` of them, or a topology's edge and cloud nodes);
    with batching it is served at the throughput of full batches
    (``Batching.capacity_gain``), the best the server can do.  Background
    work (a rate, a load pattern's mean or a utilisation trace's long-run
    level) is never batched.
    """
    srv = scenario.server
    network = scenario.network()
    specs = [srv] * srv.count if network is None else list(network.server_specs)
    if srv.batching is not None:
        gain = srv.batching.capacity_gain(model_work, max(srv.worker_speeds))
        request_flops = request_flops / gain if request_flops > 0 else 0.0
    background = sum(s.background.offered_flops(sum(s.worker_speeds)) for s in specs
                     if s.background is not None)
    return (request_flops + background) / sum(sum(s.worker_speeds) for s in specs)


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format (``splitsim schema``)."""
    return Scenario.model_json_schema(mode="validation")
