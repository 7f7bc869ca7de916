"""What a device believes when it decides: uplink-rate estimators and stale server reports.

Why: a real device cannot read the channel; it measures its own past
transfers.  ``last``, ``ewma`` and ``harmonic`` learn only from those
measurements (bits / transmission time of the device's own transfers),
starting from the link's long-run mean as the prior; ``oracle`` reads the
true current rate and is marked as seeing what a device cannot.

A device that stops sending stops measuring: a policy that moved to
device-only after a slow transfer would otherwise never see the link recover.
So a learned estimate fades back to the prior (the link's long-run mean)
with time constant ``memory`` since the last measurement:
``estimate = prior + (learned − prior)·exp(−Δt / memory)``; ``memory: null``
keeps the last learned value for ever.

``harmonic`` is the harmonic mean of the last ``k`` measurements, the
robust throughput predictor of MPC video streaming (Yin et al., SIGCOMM
2015): one fast outlier moves it little, one slow transfer a lot.

The server's backlog reaches a device late: ``BacklogHistory`` keeps
snapshots of the server's state at every change and answers "what was the
backlog ``delay`` seconds ago" exactly — from the past, never by peeking
ahead.
"""

from __future__ import annotations

import math
from collections import deque

from simulator.channel import Link

KINDS = ("oracle", "last", "ewma", "harmonic")


class RateEstimator:
    """``estimate(now)`` before a decision, ``observe(rate)`` after each transfer."""

    def __init__(self, kind: str, link: Link, alpha: float = 0.3, window: int = 5,
                 memory_s: float | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown estimator '{kind}'; allowed: {', '.join(KINDS)}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"estimator alpha must be in (0, 1], got {alpha}")
        if window < 1:
            raise ValueError(f"estimator window must be ≥ 1, got {window}")
        self.kind = kind
        self.link = link
        self.alpha = alpha
        self.window = window
        self.prior = link.mean_rate()
        self.value = self.prior
        self.memory_s = memory_s if math.isfinite(self.prior) else None
        self.last_seen = -math.inf
        self._inverse: deque[float] = deque(maxlen=window)  # harmonic: 1/rate samples

    def estimate(self, now_s: float) -> float:
        """Estimated uplink rate in bit/s."""
        if self.kind == "oracle":
            return self.link.rate_at(now_s)
        if self.memory_s is None or self.value == self.prior:
            return self.value
        weight = math.exp(-(now_s - self.last_seen) / self.memory_s)
        return self.prior + (self.value - self.prior) * weight

    def observe(self, measured_bps: float, now_s: float = 0.0) -> None:
        """A transfer finished at ``now_s`` at ``measured_bps`` (bits / transmission s).

        Learning starts from the current (possibly faded) estimate.
        """
        if self.memory_s is not None and self.kind != "oracle":
            self.value = self.estimate(now_s)
        self.last_seen = now_s
        if self.kind == "last":
            self.value = measured_bps
        elif self.kind == "ewma":
            self.value = self.alpha * measured_bps + (1.0 - self.alpha) * self.value
        elif self.kind == "harmonic":
            inv = self._inverse
            inv.append(1.0 / measured_bps if measured_bps > 0 else math.inf)
            total = sum(inv)
            self.value = len(inv) / total if total > 0 else math.inf


class BacklogHistory:
    """The server's backlog as a device sees it: ``delay_s`` old.

    ``record`` is called after every change of the server's state with the
    state itself (nominal queued work, Σ nominal end times of the jobs in
    service, how many are in service); between changes the backlog only
    drains, so the state at any past instant gives its backlog exactly.
    Queries come in time order, so snapshots older than the one in force at
    ``now − delay`` are dropped: the history holds about ``delay`` seconds.
    """

    __slots__ = ("delay_s", "n_workers", "samples")

    def __init__(self, delay_s: float, n_workers: int) -> None:
        self.delay_s = delay_s
        self.n_workers = n_workers
        self.samples: deque[tuple[float, float, float, int]] = deque(
            [(-math.inf, 0.0, 0.0, 0)])  # empty before the run starts

    def record(self, now: float, queued_s: float, end_sum_s: float, in_service: int) -> None:
        self.samples.append((now, queued_s, end_sum_s, in_service))

    def reported(self, now: float) -> float:
        """Backlog (s of nominal work per worker) as it was at ``now − delay``."""
        then = now - self.delay_s
        samples = self.samples
        while len(samples) > 1 and samples[1][0] <= then:
            samples.popleft()
        _, queued, end_sum, in_service = samples[0]
        remaining = max(0.0, end_sum - in_service * then) if in_service else 0.0
        return (queued + remaining) / self.n_workers
