"""Uplink-rate estimators: what a device believes the rate is when it decides.

Why: a real device cannot read the channel; it measures its own past
transfers.  ``last`` and ``ewma`` learn only from those measurements
(bits / transmission time of the device's own transfers), starting from the
link's long-run mean as the prior; ``oracle`` reads the true current rate
and is marked as seeing what a device cannot.
"""

from __future__ import annotations

from simulator.channel import Link


class RateEstimator:
    """``estimate(now)`` before a decision, ``observe(rate)`` after each transfer."""

    def __init__(self, kind: str, link: Link, alpha: float = 0.3) -> None:
        self.kind = kind
        self.link = link
        self.alpha = alpha
        self.value = link.mean_rate()

    def estimate(self, now_s: float) -> float:
        """Estimated uplink rate in bit/s."""
        if self.kind == "oracle":
            return self.link.rate_at(now_s)
        return self.value

    def observe(self, measured_bps: float) -> None:
        """A transfer just finished at ``measured_bps`` (bits / transmission seconds)."""
        if self.kind == "last":
            self.value = measured_bps
        elif self.kind == "ewma":
            self.value = self.alpha * measured_bps + (1.0 - self.alpha) * self.value
