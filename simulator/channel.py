"""Radio links: how long a transfer takes when the rate may change over time.

Why this shape: the engine only ever asks a link two questions — "what is
the rate now?" (for an oracle estimator) and "if I start sending B bits at
time t, when am I done?".  Answering the second by integrating the rate over
time keeps a transfer that straddles a rate change exact, whatever model
produced the rate.  Each link model is a pydantic spec (what the scenario
says) plus a small object built from it with its own random stream.

Every time-varying model here is a piecewise-constant rate ``r(t)``.  A link
keeps the boundaries ``edges`` of its segments, their rates and the
cumulative bits ``C(edges[i])``; a transfer of ``B`` bits started at ``t0``
ends at the smallest ``t`` with ``C(t) = C(t0) + B``, found with two binary
searches (no per-segment Python loop).  A segment at rate 0 (a deep fade, an
outage state) adds no bits, so the search steps over it: the transfer simply
waits for the rate to come back.

Randomness and determinism: ``build(rng)`` draws a fixed number of values
from ``rng`` *at build time* (a seed for a private stream, or a trace
offset) and never touches it again.  Random paths (``markov``, ``shannon``)
are then generated lazily from the private stream, in fixed-size chunks in
time order, so a link's path — and every transfer duration — depends only on
the seed, never on which times were queried or in what order, nor on other
components sharing ``rng``.

Relative trace paths: ``TraceLinkSpec.file`` may be relative to the scenario
file.  The scenario loader either validates with
``Model.model_validate(data, context={"base_dir": scenario_dir})`` (the path
is made absolute and the trace is read and checked at load time), or passes
``spec.build(rng, base_dir=scenario_dir)``.  Every spec's ``build`` accepts
``base_dir`` so the engine can call all of them the same way.

Units: time in s, rates in bit/s, sizes in bits, SNR in dB (mean of the linear
SNR), bandwidth in Hz.
"""

from __future__ import annotations

import bisect
import math
import os
from pathlib import Path
from typing import Annotated, Literal, Protocol

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from simulator.traces import CsvColumns, RateTrace, load_trace
from simulator.units import RATE_BPS, TIME_S, Duration, Rate, parse_quantity


class Link(Protocol):
    """A one-directional link as the engine sees it."""

    def rate_at(self, t: float) -> float:
        """Instantaneous rate in bit/s at time ``t`` (s)."""
        ...

    def transfer_duration(self, start_s: float, bits: float) -> float:
        """Seconds needed to push ``bits`` starting at ``start_s`` (no propagation)."""
        ...

    def mean_rate(self) -> float:
        """Long-run mean rate in bit/s: the prior a device may assume before measuring."""
        ...

    def bits_between(self, start_s: float, end_s: float) -> float:
        """Bits the link can carry on ``[start_s, end_s]``: the integral of the rate.

        Why: a shared (processor-sharing) uplink advances every active transfer
        by its share of this amount between two events.
        """
        ...


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_time(t: float) -> None:
    if not t >= 0:
        raise ValueError(f"link time must be >= 0 s, got {t}")


class ConstantLink:
    """A link whose rate never changes."""

    def __init__(self, rate_bps: float) -> None:
        self.rate_bps = rate_bps

    def rate_at(self, t: float) -> float:
        return self.rate_bps

    def transfer_duration(self, start_s: float, bits: float) -> float:
        return bits / self.rate_bps if bits > 0 else 0.0

    def mean_rate(self) -> float:
        return self.rate_bps

    def bits_between(self, start_s: float, end_s: float) -> float:
        return self.rate_bps * max(end_s - start_s, 0.0)


class IdealLink:
    """Infinite rate: transfers take no time.  For validation against queueing theory."""

    def rate_at(self, t: float) -> float:
        return float("inf")

    def transfer_duration(self, start_s: float, bits: float) -> float:
        return 0.0

    def mean_rate(self) -> float:
        return float("inf")

    def bits_between(self, start_s: float, end_s: float) -> float:
        return float("inf") if end_s > start_s else 0.0


# --------------------------------------------------------------------------- integration
#
# The lookups below take Python lists, not numpy arrays: for one scalar query
# ``bisect`` is a binary search like ``np.searchsorted`` but about 5× faster
# (no array-scalar conversions), and this is the engine's hot path.  Bulk work
# (generating paths, cumulative sums, statistics) stays in numpy.


def _bits_at(edges: list[float], rates: list[float], cum: list[float], t: float) -> float:
    """C(t): bits deliverable on [0, t), for 0 <= t <= edges[-1]."""
    k = bisect.bisect_right(edges, t) - 1
    k = min(max(k, 0), len(rates) - 1)
    return cum[k] + rates[k] * (t - edges[k])


def _time_reaching(edges: list[float], rates: list[float], cum: list[float],
                   target: float) -> float:
    """Smallest t with C(t) >= target, for 0 < target <= cum[-1].

    ``cum`` is non-decreasing; the first index with ``cum[j] >= target`` has
    ``cum[j-1] < target``, so segment ``j-1`` has a positive rate: zero-rate
    segments (flat runs of ``cum``) are skipped by construction.
    """
    j = bisect.bisect_left(cum, target)
    k = min(max(j, 1), len(rates)) - 1
    rate = rates[k]
    if rate <= 0:  # only reachable through rounding at the very end
        return edges[k + 1]
    return edges[k] + (target - cum[k]) / rate


class _GrowingPath:
    """A piecewise-constant rate on [0, end) that grows by appending segments.

    ``edges`` (s, from 0), ``rates`` (bit/s) and ``cum`` (bits at each edge)
    are plain lists: appending a chunk is amortised O(chunk) and lookups
    bisect them directly.
    """

    def __init__(self) -> None:
        self.edges: list[float] = [0.0]
        self.cum: list[float] = [0.0]
        self.rates: list[float] = []

    @property
    def end(self) -> float:
        return self.edges[-1]

    @property
    def total_bits(self) -> float:
        return self.cum[-1]

    def append(self, durations: np.ndarray, rates: np.ndarray) -> None:
        self.edges.extend((self.edges[-1] + np.cumsum(durations)).tolist())
        self.cum.extend((self.cum[-1] + np.cumsum(rates * durations)).tolist())
        self.rates.extend(np.asarray(rates, dtype=float).tolist())


class _GeneratedLink:
    """Base of links whose random path is generated lazily from time 0 on.

    Subclasses implement :meth:`_next_chunk`, which must draw from the link's
    private stream in a fixed order and return ``(durations_s, rates_bps)``.
    """

    def __init__(self) -> None:
        self._path = _GrowingPath()

    def _next_chunk(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _cover_time(self, t: float) -> None:
        while self._path.end <= t:
            self._path.append(*self._next_chunk())

    def _cover_bits(self, bits: float) -> None:
        while self._path.total_bits < bits:
            self._path.append(*self._next_chunk())

    def _segment(self, t: float) -> int:
        _check_time(t)
        self._cover_time(t)
        return bisect.bisect_right(self._path.edges, t) - 1

    def rate_at(self, t: float) -> float:
        return self._path.rates[self._segment(t)]

    def bits_between(self, start_s: float, end_s: float) -> float:
        _check_time(start_s)
        if end_s <= start_s:
            return 0.0
        self._cover_time(end_s)
        p = self._path
        return (_bits_at(p.edges, p.rates, p.cum, end_s)
                - _bits_at(p.edges, p.rates, p.cum, start_s))

    def transfer_duration(self, start_s: float, bits: float) -> float:
        _check_time(start_s)
        if not bits > 0:
            return 0.0
        self._cover_time(start_s)
        p = self._path
        target = _bits_at(p.edges, p.rates, p.cum, start_s) + bits
        self._cover_bits(target)
        return max(_time_reaching(p.edges, p.rates, p.cum, target) - start_s, 0.0)

    def rates_at(self, times: np.ndarray) -> np.ndarray:
        """``rate_at`` at every time of ``times`` (s), in one pass (the fast path)."""
        if not len(times):
            return np.empty(0)
        _check_time(float(times.min()))
        self._cover_time(float(times.max()))
        p = self._path
        k = np.searchsorted(np.asarray(p.edges), times, side="right") - 1
        return np.asarray(p.rates)[k]

    def transfer_durations(self, starts: np.ndarray, bits: float) -> np.ndarray:
        """``transfer_duration(start, bits)`` for every start of ``starts`` (the fast path).

        The same lookups and floating-point operations as the scalar method,
        vectorised: equal results bit for bit.
        """
        if not len(starts) or not bits > 0:
            return np.zeros(len(starts))
        _check_time(float(starts.min()))
        self._cover_time(float(starts.max()))
        p = self._path
        edges, rates, cum = np.asarray(p.edges), np.asarray(p.rates), np.asarray(p.cum)
        k = np.clip(np.searchsorted(edges, starts, side="right") - 1, 0, len(rates) - 1)
        target = (cum[k] + rates[k] * (starts - edges[k])) + bits
        self._cover_bits(float(target.max()))
        edges, rates, cum = np.asarray(p.edges), np.asarray(p.rates), np.asarray(p.cum)
        j = np.searchsorted(cum, target, side="left")
        k = np.minimum(np.maximum(j, 1), len(rates)) - 1
        rate = rates[k]
        positive = rate > 0
        ends = np.where(positive, edges[k] + (target - cum[k]) / np.where(positive, rate, 1.0),
                        edges[np.minimum(k + 1, len(edges) - 1)])
        return np.maximum(ends - starts, 0.0)

    def segments(self, end_s: float) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, rates)`` of the segments covering ``[0, end_s)`` (for plots, tests).

        Segment ``i`` runs at ``rates[i]`` on ``[edges[i], edges[i+1])``; the last
        edge may lie beyond ``end_s``.  Returns new arrays.
        """
        self._cover_time(end_s)
        p = self._path
        k = max(bisect.bisect_left(p.edges, end_s), 1)
        return np.array(p.edges[: k + 1]), np.array(p.rates[:k])


def _private_stream(rng: np.random.Generator) -> np.random.Generator:
    """A generator owned by one link, seeded by exactly one draw from ``rng``."""
    return np.random.default_rng(rng.integers(0, 2**63, size=4, dtype=np.uint64))


# --------------------------------------------------------------------------- markov


class MarkovChain:
    """The rate process of a Markov link, without any randomness bound to it.

    A semi-Markov description covers both spec forms: in state ``i`` the link
    holds for a random time, then jumps to ``j`` with probability
    ``jump[i, j]`` (zero diagonal).  Holding times are exponential with mean
    ``holding_mean_s[i]`` (continuous time, ``mean_sojourn`` form) or, with a
    ``step``, ``step × Geometric(1 - stay[i])`` — exactly the sojourns of a
    discrete-time chain with matrix ``P`` (``stay = diag P``), generated one
    sojourn at a time instead of one step at a time.

    Loss: with erasure probability ``loss[i]``, a fraction ``loss[i]`` of the
    packets sent in state ``i`` is lost and resent (ideal selective-repeat
    ARQ, fluid limit), so the *goodput* is ``rate[i] · (1 - loss[i])``.  All
    rates the link reports and integrates are goodputs.  Why this model: it
    is exact for a transfer that straddles state changes, equals inflating
    the bits by ``1/(1-p)`` while the state does not change, and needs no
    extra random draws, so durations stay a deterministic function of the
    state path.
    """

    def __init__(self, rates_bps: np.ndarray, jump: np.ndarray, *,
                 holding_mean_s: np.ndarray | None = None, step_s: float | None = None,
                 stay: np.ndarray | None = None, loss: np.ndarray | None = None,
                 initial: np.ndarray | None = None) -> None:
        self.rates_bps = np.asarray(rates_bps, dtype=float)
        n = len(self.rates_bps)
        self.loss = np.zeros(n) if loss is None else np.asarray(loss, dtype=float)
        self.goodput_bps = self.rates_bps * (1.0 - self.loss)
        self.jump = np.asarray(jump, dtype=float)
        self.step_s = step_s
        if step_s is None:
            if holding_mean_s is None:
                raise ValueError("give mean sojourn times or a step with stay probabilities")
            self.holding_mean_s = np.asarray(holding_mean_s, dtype=float)
            self.stay = np.zeros(n)
        else:
            self.stay = np.zeros(n) if stay is None else np.asarray(stay, dtype=float)
            self.holding_mean_s = step_s / (1.0 - self.stay)
        _check_irreducible(self.jump)
        self.stationary = _stationary_time_fractions(self.jump, self.holding_mean_s)
        self.initial = self.stationary if initial is None else np.asarray(initial, float)
        if not self.mean_rate() > 0:
            raise ValueError("the long-run mean rate is 0 bit/s: every reachable state has "
                             "rate 0 or loss 1, so nothing could ever be sent")

    def mean_rate(self) -> float:
        """Stationary mean goodput (bit/s): Σ π_i · rate_i · (1 - loss_i)."""
        return float(self.stationary @ self.goodput_bps)


def _check_irreducible(jump: np.ndarray) -> None:
    from scipy.sparse.csgraph import connected_components

    count, _ = connected_components(jump > 0, directed=True, connection="strong")
    if count != 1:
        raise ValueError("the Markov chain is not irreducible: some state can never be left "
                         "or never be reached, so it has no unique long-run behaviour")


def _stationary_time_fractions(jump: np.ndarray, holding_mean: np.ndarray) -> np.ndarray:
    """Long-run fraction of time per state of a semi-Markov chain.

    The embedded jump chain's stationary vector ν solves ν J = ν, Σν = 1; the
    time fraction of state i is ν_i · h_i / Σ_j ν_j · h_j (renewal-reward).
    """
    n = len(jump)
    a = np.vstack([jump.T - np.eye(n), np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    nu = np.linalg.lstsq(a, b, rcond=None)[0]
    nu = np.clip(nu, 0.0, None)
    weights = nu * holding_mean
    return weights / weights.sum()


def _cdf_rows(matrix: np.ndarray) -> list[list[float]]:
    """Cumulative rows whose last reachable entry is exactly 1.0 (no rounding gap)."""
    rows = []
    for row in np.atleast_2d(matrix):
        c = np.cumsum(row / row.sum())
        last = int(np.flatnonzero(row > 0)[-1])
        c[last:] = 1.0
        rows.append([float(x) for x in c])
    return rows


class MarkovLink(_GeneratedLink):
    """A link whose rate follows a (semi-)Markov chain; see :class:`MarkovChain`."""

    CHUNK = 256
    """Sojourns generated per draw from the private stream (fixed for determinism)."""

    def __init__(self, chain: MarkovChain, rng: np.random.Generator) -> None:
        super().__init__()
        self.chain = chain
        self._rng = _private_stream(rng)
        self._jump_cdf = _cdf_rows(chain.jump)
        self._goodput = [float(x) for x in chain.goodput_bps]
        self._mean = [float(x) for x in chain.holding_mean_s]
        # Discrete form: extra stays = floor(E / -ln(stay)) for E ~ Exp(1) is
        # Geometric with P(extra >= k) = stay**k.
        self._inv_log_stay = [0.0 if s <= 0 else -1.0 / math.log(s) for s in chain.stay]
        self._states: list[int] = []
        initial_cdf = _cdf_rows(chain.initial)[0]
        self._state = bisect.bisect_right(initial_cdf, float(self._rng.random()))

    def _next_chunk(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.CHUNK
        expo = self._rng.standard_exponential(c).tolist()
        uni = self._rng.random(c).tolist()
        durations = np.empty(c)
        rates = np.empty(c)
        step = self.chain.step_s
        s = self._state
        for i in range(c):
            if step is None:
                durations[i] = self._mean[s] * expo[i]
            else:
                durations[i] = step * (1.0 + math.floor(expo[i] * self._inv_log_stay[s]))
            rates[i] = self._goodput[s]
            self._states.append(s)
            s = bisect.bisect_right(self._jump_cdf[s], uni[i])
        self._state = s
        return durations, rates

    def state_at(self, t: float) -> int:
        """Index of the chain's state at time ``t`` (s)."""
        _check_time(t)
        self._cover_time(t)
        return self._states[self._segment(t)]

    def mean_rate(self) -> float:
        return self.chain.mean_rate()


# --------------------------------------------------------------------------- shannon


def _expected_log2_rayleigh(snr: float) -> float:
    """E[log2(1 + snr·X)], X ~ Exp(1): e^{1/snr} E1(1/snr) / ln 2."""
    from scipy.special import exp1

    x = 1.0 / snr
    if x < 50.0:
        return float(math.exp(x) * exp1(x) / math.log(2.0))
    # e^x E1(x) ~ Σ (-1)^k k! / x^{k+1}; at x >= 50 ten terms are exact to ~1e-12.
    series = sum((-1) ** k * math.factorial(k) / x ** (k + 1) for k in range(10))
    return series / math.log(2.0)


def _expected_log2_lognormal(snr: float, sigma_db: float) -> float:
    """E[log2(1 + snr·X)], X log-normal with E[X] = 1 and σ in dB (Gauss–Hermite)."""
    s = sigma_db * math.log(10.0) / 10.0
    z, w = np.polynomial.hermite_e.hermegauss(96)
    gain = np.exp(s * z - 0.5 * s * s)
    return float(np.sum(w * np.log2(1.0 + snr * gain)) / math.sqrt(2.0 * math.pi))


class ShannonLink(_GeneratedLink):
    """``bandwidth × log2(1 + SNR · X)`` with block fading.

    The power gain ``X`` is redrawn every ``coherence`` seconds (block fading)
    and has mean 1, so ``snr`` is the mean linear SNR: ``X ~ Exp(1)`` for
    Rayleigh, ``X = exp(s·Z - s²/2)`` with ``s = σ·ln10/10`` for log-normal
    shadowing of σ dB.
    """

    CHUNK = 4096

    def __init__(self, bandwidth_hz: float, snr_db: float, fading: str, coherence_s: float,
                 rng: np.random.Generator, sigma_db: float = 0.0) -> None:
        super().__init__()
        if fading not in ("rayleigh", "lognormal"):
            raise ValueError(f"unknown fading {fading!r}; allowed: rayleigh, lognormal")
        self.bandwidth_hz = bandwidth_hz
        self.snr = 10.0 ** (snr_db / 10.0)
        self.fading = fading
        self.sigma_db = sigma_db
        self.coherence_s = coherence_s
        self._rng = _private_stream(rng)
        self._durations = np.full(self.CHUNK, coherence_s)

    def _next_chunk(self) -> tuple[np.ndarray, np.ndarray]:
        if self.fading == "rayleigh":
            gain = self._rng.standard_exponential(self.CHUNK)
        else:
            s = self.sigma_db * math.log(10.0) / 10.0
            gain = np.exp(s * self._rng.standard_normal(self.CHUNK) - 0.5 * s * s)
        return self._durations, self.bandwidth_hz * np.log2(1.0 + self.snr * gain)

    def mean_rate(self) -> float:
        """Ergodic capacity B·E[log2(1 + SNR·X)] (bit/s)."""
        if self.fading == "rayleigh":
            return self.bandwidth_hz * _expected_log2_rayleigh(self.snr)
        return self.bandwidth_hz * _expected_log2_lognormal(self.snr, self.sigma_db)


# --------------------------------------------------------------------------- trace


class TraceLink:
    """A link that replays a :class:`~simulator.traces.RateTrace`.

    Simulation time ``t`` reads trace time ``offset + t`` (after scaling).  With
    ``loop`` the trace repeats with period ``span``; without it the trace's
    ``tail_rate`` (the last row's rate; a Mahimahi trace's mean) holds forever
    after the end.  ``time_scale`` stretches trace time (2 = every segment
    lasts twice as long), ``rate_scale`` multiplies every rate.
    """

    def __init__(self, trace: RateTrace, *, loop: bool = True, offset_s: float = 0.0,
                 time_scale: float = 1.0, rate_scale: float = 1.0) -> None:
        self.trace = trace
        self.loop = loop
        # Lists for fast scalar bisection (see the integration section).
        self._edges: list[float] = (trace.edges * time_scale).tolist()
        self._rates: list[float] = (trace.rates * rate_scale).tolist()
        self._cum: list[float] = (trace.cum * (time_scale * rate_scale)).tolist()
        self._span = self._edges[-1]
        self._period_bits = self._cum[-1]
        self._tail = trace.tail_rate * rate_scale
        if not 0.0 <= offset_s < self._span:
            raise ValueError(f"trace offset must be in [0, {self._span}) s, got {offset_s}")
        self.offset_s = offset_s
        if not loop and not self._tail > 0:
            raise ValueError(f"{trace.path}: with loop: false the last rate holds after the "
                             "trace ends, and it is 0, so a late transfer would never finish; "
                             "use loop: true or end the trace with a rate > 0")

    def _bits(self, tau: float) -> float:
        """Cumulative bits from trace time 0 to ``tau`` (unrolled loops)."""
        if self.loop:
            n = math.floor(tau / self._span)
            phase = tau - n * self._span
            return n * self._period_bits + _bits_at(self._edges, self._rates, self._cum, phase)
        if tau >= self._span:
            return self._period_bits + (tau - self._span) * self._tail
        return _bits_at(self._edges, self._rates, self._cum, tau)

    def _time(self, target: float) -> float:
        """Smallest trace time ``tau`` with cumulative bits >= ``target`` > 0."""
        if self.loop:
            n = math.floor(target / self._period_bits)
            rest = target - n * self._period_bits
            if rest <= 0.0:  # exactly a whole number of periods: ends in period n-1
                n -= 1
                rest += self._period_bits
            return n * self._span + _time_reaching(self._edges, self._rates, self._cum,
                                                   min(rest, self._period_bits))
        if target > self._period_bits:
            return self._span + (target - self._period_bits) / self._tail
        return _time_reaching(self._edges, self._rates, self._cum, target)

    def rate_at(self, t: float) -> float:
        _check_time(t)
        tau = self.offset_s + t
        if self.loop:
            tau -= math.floor(tau / self._span) * self._span
        elif tau >= self._span:
            return self._tail
        k = min(bisect.bisect_right(self._edges, tau) - 1, len(self._rates) - 1)
        return self._rates[k]

    def transfer_duration(self, start_s: float, bits: float) -> float:
        _check_time(start_s)
        if not bits > 0:
            return 0.0
        tau0 = self.offset_s + start_s
        return max(self._time(self._bits(tau0) + bits) - tau0, 0.0)

    def bits_between(self, start_s: float, end_s: float) -> float:
        _check_time(start_s)
        if end_s <= start_s:
            return 0.0
        return self._bits(self.offset_s + end_s) - self._bits(self.offset_s + start_s)

    def mean_rate(self) -> float:
        """Mean rate over the trace's span (bit/s), scaled.

        Also with ``loop: false``: it is the rate a device should expect while
        the trace plays, which is what a prior is for.
        """
        return self._period_bits / self._span

    def segments(self, end_s: float) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, rates)`` in simulation time covering ``[0, end_s)`` (for plots, tests)."""
        off, span = self.offset_s, self._span
        base_edges, base_rates = np.array(self._edges[:-1]), np.array(self._rates)
        if self.loop:
            periods = range(0, max(1, math.ceil((off + end_s) / span)))
            starts = np.concatenate([n * span + base_edges for n in periods])
            rates = np.tile(base_rates, len(periods))
            last = len(periods) * span
        else:
            starts = np.append(base_edges, span)
            rates = np.append(base_rates, self._tail)
            last = max(span, off + end_s) + 1.0
        edges = np.append(starts, last) - off
        first = max(int(np.searchsorted(edges, 0.0, side="right")) - 1, 0)
        edges = edges[first:].copy()
        edges[0] = 0.0
        rates = rates[first:]
        k = max(int(np.searchsorted(edges, end_s, side="left")), 1)
        return edges[: k + 1], rates[:k].copy()


# --------------------------------------------------------------------------- specs

Probability = Annotated[float, Field(ge=0.0, le=1.0)]

_HZ = {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}


def _parse_hz(value: object) -> float:
    hz = parse_quantity(value, _HZ, "bandwidth", "'20 MHz', '180 kHz'")
    if not (math.isfinite(hz) and hz > 0):
        raise ValueError(f"a bandwidth must be a positive finite number of Hz, got {value!r}")
    return hz


def _parse_db(value: object) -> float:
    db = parse_quantity(value, {"dB": 1.0}, "level in dB", "'15 dB', '-3 dB'")
    if not math.isfinite(db):
        raise ValueError(f"a level in dB must be finite, got {value!r}")
    return db


Bandwidth = Annotated[float, BeforeValidator(_parse_hz), WithJsonSchema(
    {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
     "description": "Bandwidth: Hz, or a string such as '20 MHz'."})]
"""Bandwidth in Hz ("20 MHz"); a bare number is Hz."""
Decibel = Annotated[float, BeforeValidator(_parse_db), WithJsonSchema(
    {"anyOf": [{"type": "number"}, {"type": "string"}],
     "description": "Decibels: a number or a string such as '15 dB'."})]
"""A level in dB ("15 dB"); a bare number is dB."""


class ConstantLinkSpec(_Spec):
    """`{model: constant, rate: 20 Mbps}`"""

    model: Literal["constant"]
    rate: Rate = Field(gt=0, description="Link rate (bit/s), e.g. '20 Mbps'.")

    def build(self, rng: np.random.Generator, base_dir: str | os.PathLike[str] | None = None
              ) -> Link:
        return ConstantLink(self.rate)


class IdealLinkSpec(_Spec):
    """`{model: ideal}`: zero transmission time."""

    model: Literal["ideal"]

    def build(self, rng: np.random.Generator, base_dir: str | os.PathLike[str] | None = None
              ) -> Link:
        return IdealLink()


class MarkovLinkSpec(_Spec):
    """A rate that jumps between N states.

    Continuous time: ``{model: markov, rates: [2 Mbps, 10 Mbps, 40 Mbps],
    mean_sojourn: 2 s}`` — exponential sojourns (one mean, or one per state),
    next state uniform among the others.  Discrete time: ``{model: markov,
    rates: [...], transition: [[0.9, 0.1], [0.3, 0.7]], step: 100 ms}`` — a
    row-stochastic matrix applied every ``step`` (the diagonal is the
    probability of staying).  ``initial``: ``stationary`` (default) or a
    probability per state.  ``loss``: erasure probability per state (or one
    for all); the link then delivers goodput ``rate·(1 - loss)``.
    """

    model: Literal["markov"]
    rates: list[Rate] = Field(min_length=2, description="Rate per state (bit/s).")
    mean_sojourn: Duration | list[Duration] | None = Field(
        default=None, description="Mean time in a state (s): one value or one per state.")
    transition: list[list[Probability]] | None = Field(
        default=None, description="Row-stochastic matrix applied every 'step'.")
    step: Duration | None = Field(default=None, description="Time step of 'transition' (s).")
    initial: Literal["stationary"] | list[Probability] = "stationary"
    loss: Probability | list[Probability] = Field(
        default=0.0, description="Erasure probability per state (retransmitted).")

    @model_validator(mode="after")
    def _valid_chain(self) -> MarkovLinkSpec:
        self.chain()
        return self

    def chain(self) -> MarkovChain:
        """The validated chain this spec describes (no randomness)."""
        n = len(self.rates)

        def per_state(value: float | list[float], name: str) -> np.ndarray:
            if isinstance(value, list):
                if len(value) != n:
                    raise ValueError(f"'{name}' has {len(value)} values but there are {n} "
                                     "rates (states)")
                return np.asarray(value, dtype=float)
            return np.full(n, float(value))

        loss = per_state(self.loss, "loss")
        initial = None
        if self.initial != "stationary":
            initial = per_state(self.initial, "initial")
            if abs(initial.sum() - 1.0) > 1e-9:
                raise ValueError(f"'initial' must sum to 1, sums to {initial.sum():g}")
        if (self.mean_sojourn is None) == (self.transition is None):
            raise ValueError("give exactly one of 'mean_sojourn' (continuous time) or "
                             "'transition' with 'step' (discrete time)")
        if self.mean_sojourn is not None:
            if self.step is not None:
                raise ValueError("'step' belongs to 'transition'; remove it or use "
                                 "'transition' instead of 'mean_sojourn'")
            means = per_state(self.mean_sojourn, "mean_sojourn")
            if not np.all(means > 0):
                raise ValueError("every 'mean_sojourn' must be > 0 s")
            jump = (1.0 - np.eye(n)) / (n - 1)
            return MarkovChain(np.asarray(self.rates), jump, holding_mean_s=means, loss=loss,
                               initial=initial)
        assert self.transition is not None
        matrix = np.asarray(self.transition, dtype=float)
        if matrix.shape != (n, n):
            raise ValueError(f"'transition' must be {n}×{n} (one row and column per rate), "
                             f"got {matrix.shape[0]} rows of lengths "
                             f"{sorted({len(r) for r in self.transition})}")
        sums = matrix.sum(axis=1)
        if np.any(np.abs(sums - 1.0) > 1e-9):
            raise ValueError(f"each 'transition' row must sum to 1; row sums: {sums.tolist()}")
        if self.step is None or not self.step > 0:
            raise ValueError("'transition' needs 'step' > 0: the time between transitions, "
                             "e.g. step: 100 ms")
        stay = np.diag(matrix).copy()
        if np.any(stay >= 1.0):
            raise ValueError("a state with transition probability 1 to itself is never left")
        jump = matrix / (1.0 - stay)[:, None]
        np.fill_diagonal(jump, 0.0)
        return MarkovChain(np.asarray(self.rates), jump, step_s=self.step, stay=stay,
                           loss=loss, initial=initial)

    def build(self, rng: np.random.Generator, base_dir: str | os.PathLike[str] | None = None
              ) -> Link:
        return MarkovLink(self.chain(), rng)


class GilbertElliottLinkSpec(_Spec):
    """The two-state Markov link: good and bad states with their rates and losses.

    ``{model: gilbert-elliott, rate_good: 20 Mbps, rate_bad: 2 Mbps, mean_good:
    5 s, mean_bad: 1 s, loss_good: 0.0, loss_bad: 0.2}`` — exponential
    sojourns; goodput ``rate·(1 - loss)`` as in :class:`MarkovChain`.  For the
    per-step form (probabilities p and r per slot) write a ``markov`` link with
    ``transition: [[1-p, p], [r, 1-r]]``, ``step`` and ``loss``.
    """

    model: Literal["gilbert-elliott"]
    rate_good: Rate = Field(description="Rate in the good state (bit/s).")
    rate_bad: Rate = Field(description="Rate in the bad state (bit/s).")
    mean_good: Duration = Field(gt=0, description="Mean time in the good state (s).")
    mean_bad: Duration = Field(gt=0, description="Mean time in the bad state (s).")
    loss_good: Probability = 0.0
    loss_bad: Probability = 0.0
    initial: Literal["stationary", "good", "bad"] = "stationary"

    @model_validator(mode="after")
    def _valid_chain(self) -> GilbertElliottLinkSpec:
        self.chain()
        return self

    def chain(self) -> MarkovChain:
        """State 0 is good, state 1 is bad."""
        initial = {"stationary": None, "good": np.array([1.0, 0.0]),
                   "bad": np.array([0.0, 1.0])}[self.initial]
        return MarkovChain(np.array([self.rate_good, self.rate_bad]),
                           np.array([[0.0, 1.0], [1.0, 0.0]]),
                           holding_mean_s=np.array([self.mean_good, self.mean_bad]),
                           loss=np.array([self.loss_good, self.loss_bad]), initial=initial)

    def build(self, rng: np.random.Generator, base_dir: str | os.PathLike[str] | None = None
              ) -> Link:
        return MarkovLink(self.chain(), rng)


class ShannonLinkSpec(_Spec):
    """Capacity of a fading channel: ``bandwidth × log2(1 + SNR·X)``.

    ``{model: shannon, bandwidth: 20 MHz, snr: 15 dB, fading: rayleigh,
    coherence: 10 ms}``; ``fading: lognormal`` needs ``sigma`` (dB);
    ``fading: none`` is a constant rate.  ``snr`` is the mean (linear) SNR in
    dB: the fading gain X has mean 1 for both fading models.  X is redrawn
    every ``coherence`` seconds and constant in between (block fading).
    """

    model: Literal["shannon"]
    bandwidth: Bandwidth = Field(description="Bandwidth (Hz), e.g. '20 MHz'.")
    snr: Decibel = Field(description="Mean SNR (dB), e.g. '15 dB'.")
    fading: Literal["rayleigh", "lognormal", "none"] = "rayleigh"
    sigma: Decibel | None = Field(default=None, description="Log-normal σ (dB).")
    coherence: Duration = Field(gt=0, description="Coherence time (s), e.g. '10 ms'.")

    @model_validator(mode="after")
    def _sigma_for_lognormal(self) -> ShannonLinkSpec:
        if self.fading == "lognormal" and (self.sigma is None or not self.sigma > 0):
            raise ValueError("fading: lognormal needs 'sigma' > 0 dB, e.g. sigma: 8 dB")
        return self

    def build(self, rng: np.random.Generator, base_dir: str | os.PathLike[str] | None = None
              ) -> Link:
        if self.fading == "none":
            return ConstantLink(self.bandwidth * math.log2(1.0 + 10.0 ** (self.snr / 10.0)))
        return ShannonLink(self.bandwidth, self.snr, self.fading, self.coherence, rng,
                           sigma_db=self.sigma or 0.0)


class CsvColumnsSpec(_Spec):
    """Which CSV columns to read and, optionally, their units (overriding the header)."""

    time: str | None = None
    rate: str | None = None
    time_unit: str | None = None
    rate_unit: str | None = None

    @field_validator("time_unit")
    @classmethod
    def _time_unit(cls, unit: str | None) -> str | None:
        if unit is not None and unit not in TIME_S:
            raise ValueError(f"unknown time unit {unit!r}; allowed: {', '.join(TIME_S)}")
        return unit

    @field_validator("rate_unit")
    @classmethod
    def _rate_unit(cls, unit: str | None) -> str | None:
        if unit is not None and unit not in RATE_BPS:
            raise ValueError(f"unknown rate unit {unit!r}; e.g. bps, kbps, Mbps, Gbps, MB/s")
        return unit

    def as_columns(self) -> CsvColumns:
        return CsvColumns(self.time, self.rate, self.time_unit, self.rate_unit)


def _base_dir(info: ValidationInfo) -> Path | None:
    """The scenario file's directory, when the scenario is validated from a file."""
    context = info.context
    if isinstance(context, dict) and context.get("base_dir") is not None:
        return Path(context["base_dir"])
    return None


def resolve_scenario_path(file: str | None, info: ValidationInfo) -> str | None:
    """A relative ``file`` field as an absolute path next to the scenario file.

    Why: a scenario names its trace files relative to itself, so it runs the
    same from any working directory.  Absolute paths, ``None`` and scenarios
    validated without a file are left as they are.
    """
    base = _base_dir(info)
    if file is not None and base is not None and not Path(file).is_absolute():
        return str((base / file).resolve())
    return file


class TraceLinkSpec(_Spec):
    """Replay a measured trace.

    ``{model: trace, file: traces/norway_bus_3.log, format: auto, loop: true,
    random_offset: false, time_scale: 1.0, rate_scale: 1.0}`` and, for CSV,
    ``columns: {time: ..., rate: ..., time_unit: ..., rate_unit: ...}``.
    Formats and their semantics: :mod:`simulator.traces`.

    ``file`` relative to the scenario's directory: validate with
    ``context={"base_dir": dir}`` (the path is made absolute and the trace is
    read and checked then), or pass ``build(rng, base_dir=dir)``; otherwise it
    is relative to the working directory.  ``random_offset: true`` starts each
    replication at a uniform random point of the trace (one draw from the
    build rng).  With ``loop: false`` the last rate holds after the end (a
    Mahimahi trace's mean rate, as it has no rate of its own after its last
    packet).
    """

    model: Literal["trace"]
    file: str = Field(description="Trace file; relative to the scenario file's directory.")
    format: Literal["auto", "pensieve", "mahimahi", "csv"] = "auto"
    loop: bool = True
    random_offset: bool = False
    time_scale: float = Field(default=1.0, gt=0, description="Stretch factor of trace time.")
    rate_scale: float = Field(default=1.0, gt=0, description="Factor applied to every rate.")
    columns: CsvColumnsSpec | None = Field(default=None, description="CSV columns and units.")

    @field_validator("file")
    @classmethod
    def _resolve_against_scenario(cls, file: str, info: ValidationInfo) -> str:
        return resolve_scenario_path(file, info)

    @model_validator(mode="after")
    def _check_file(self, info: ValidationInfo) -> TraceLinkSpec:
        if self.columns is not None and self.format not in ("auto", "csv"):
            raise ValueError("'columns' applies to CSV traces only")
        if _base_dir(info) is not None:
            # Loading a scenario: read the trace now so a bad file is reported
            # before any simulation starts (the parse is cached for build()).
            self.load_trace()
        return self

    def path(self, base_dir: str | os.PathLike[str] | None = None) -> Path:
        """The trace file's path, relative paths taken against ``base_dir``."""
        p = Path(self.file)
        if base_dir is not None and not p.is_absolute():
            p = Path(base_dir) / p
        return p

    def load_trace(self, base_dir: str | os.PathLike[str] | None = None) -> RateTrace:
        """Read (cached) and check the trace; raises :class:`~simulator.traces.TraceError`."""
        columns = self.columns.as_columns() if self.columns is not None else None
        return load_trace(self.path(base_dir), self.format, columns)

    def build(self, rng: np.random.Generator, base_dir: str | os.PathLike[str] | None = None
              ) -> Link:
        trace = self.load_trace(base_dir)
        offset = 0.0
        if self.random_offset:
            span = trace.span * self.time_scale
            offset = min(float(rng.random()) * span, math.nextafter(span, 0.0))
        return TraceLink(trace, loop=self.loop, offset_s=offset, time_scale=self.time_scale,
                         rate_scale=self.rate_scale)


LinkSpec = Annotated[
    ConstantLinkSpec | IdealLinkSpec | MarkovLinkSpec | GilbertElliottLinkSpec
    | ShannonLinkSpec | TraceLinkSpec,
    Field(discriminator="model"),
]

CHANNEL_MODELS: dict[str, type[_Spec]] = {
    "constant": ConstantLinkSpec,
    "ideal": IdealLinkSpec,
    "markov": MarkovLinkSpec,
    "gilbert-elliott": GilbertElliottLinkSpec,
    "shannon": ShannonLinkSpec,
    "trace": TraceLinkSpec,
}
"""Channel model names → spec classes (for ``splitsim list channels``)."""


def describe_channel_models() -> dict[str, str]:
    """First docstring line of every channel model, by name."""
    return {name: (spec.__doc__ or "").strip().splitlines()[0]
            for name, spec in CHANNEL_MODELS.items()}
