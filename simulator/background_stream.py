"""Background jobs as arrays, for the fast path: the engine's stream, vectorised.

Why: on the reference scenario the server sees about ten background jobs per
request, so producing them one generator step at a time
(``simulator.engine.background_arrivals``) would dominate the fast path.
This module draws the same numbers from the same stream in the same chunks
(per chunk of 256: the inter-arrival gaps, the service multipliers, then, with
a ``pattern``, the thinning uniforms), accumulates the candidate times
left to right (``np.cumsum`` is sequential, like the generator's ``now +=
gap``), thins with the same test, and returns the times at which the
engine's background process fires: it sleeps ``at - now`` from its last
wake-up ``now``, so it wakes at ``now + (at - now)``, which is ``at`` except
where the subtraction rounds (only while ``at`` is more than twice ``now``,
i.e. at the very start); those few are computed one by one.  The equality
with the generator is tested (``tests/test_fastpath.py``).  Units: s.
"""

from __future__ import annotations

import numpy as np

from simulator.scenario import ServerSpec

_CHUNK = 256  # the engine's chunk (simulator.engine._ARRIVAL_CHUNK)


class BackgroundStream:
    """The background jobs of one server, produced in time order on demand."""

    def __init__(self, server: ServerSpec, rng: np.random.Generator) -> None:
        bg = server.background
        if bg is None:
            raise ValueError("the server has no background load")
        self.server = server
        self.rng = rng
        self.scale = 1.0 / (bg.rate * (max(bg.pattern) if bg.pattern else 1.0))
        self.pattern = None if bg.pattern is None else np.asarray(bg.pattern, dtype=float)
        self.peak = float(self.pattern.max()) if self.pattern is not None else 1.0
        self.period = bg.period
        self.slot = bg.period / len(bg.pattern) if bg.pattern else 1.0
        self.candidate_now = 0.0   # the generator's ``now`` (last candidate time)
        self.fired_now = 0.0       # the process's ``env.now`` (last kept job's fire time)
        self.times: list[np.ndarray] = []   # produced chunks, not yet handed out
        self.mults: list[np.ndarray] = []
        self.last = -np.inf                  # time of the last job produced

    def _chunk(self) -> None:
        rng = self.rng
        gaps = rng.exponential(self.scale, _CHUNK)
        mults = self.server.compute.variability.sample(rng, _CHUNK)
        cand = np.cumsum(np.concatenate(([self.candidate_now], gaps)))[1:]
        self.candidate_now = float(cand[-1])
        if self.pattern is not None:
            keeps = rng.random(_CHUNK)
            pattern = self.pattern
            index = (np.floor_divide(np.remainder(cand, self.period), self.slot)
                     .astype(np.int64) % len(pattern))
            kept = ~(keeps * self.peak >= pattern[index])
            cand, mults = cand[kept], mults[kept]
        fired = self._fire(cand)
        if len(fired):
            self.times.append(fired)
            self.mults.append(mults)
            self.last = float(fired[-1])

    def _fire(self, at: np.ndarray) -> np.ndarray:
        """``t_k = t_{k-1} + (at_k - t_{k-1})`` from ``t_{-1} = fired_now``, exactly."""
        if not len(at):
            return at
        prev = np.concatenate(([self.fired_now], at[:-1]))
        out = at.copy()
        wrong = np.flatnonzero(prev + (at - prev) != at)  # t_k != at_k even if t_{k-1} = at_{k-1}
        k = 0
        for start in wrong.tolist():
            if start < k:
                continue
            t = self.fired_now if start == 0 else float(out[start - 1])
            k = start
            while k < len(at):  # one by one until the recursion is back on ``at``
                t = t + (float(at[k]) - t)
                out[k] = t
                k += 1
                if t == at[k - 1]:
                    break
        self.fired_now = float(out[-1])
        return out

    def take_before(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(fire times, multipliers) of the jobs not yet taken whose time is <= ``t``."""
        while self.last <= t:
            self._chunk()
        times, mults = np.concatenate(self.times), np.concatenate(self.mults)
        k = int(np.searchsorted(times, t, side="right"))
        self.times, self.mults = [times[k:]], [mults[k:]]
        return times[:k], mults[:k]
