"""Sampling each request's exit confidences and correctness, before it runs.

Why up front: a request's difficulty belongs to the sample, not to the
policy.  Drawing every request's confidences (one column per exit head and
one for the final layer) at the start of a replication from the exit stream
gives every policy the same samples (common random numbers), and a
threshold then only decides *where* the request leaves.

Two exit models:
- trace: a request draws one evaluated sample; its row holds the measured
  confidences and correctness at every exit, so exits are correlated exactly
  as in the real network.
- parametric: one latent difficulty ``u`` per request drives every exit's
  confidence through that exit's Beta quantile function (comonotone: a
  request that is easy at one exit is easy at all), and one uniform ``v``
  decides correctness as ``v < confidence`` (calibrated heads: accuracy at an
  exit equals its mean confidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv

from profiles.model import ModelProfile, ProfileError


@dataclass(frozen=True)
class ExitDraws:
    """``confidence[i, j]`` / ``correct[i, j]``: request ``i`` at exit ``j`` (last = final)."""

    confidence: np.ndarray
    correct: np.ndarray


class ExitSampler:
    """A replication's exit draws, turned into confidences only where they are asked for.

    Why: the Beta quantiles are the costly part, and a caller that knows
    which requests reach which head (the fast path, with fixed thresholds)
    needs them only there.  The random draws are made up front, exactly as
    :func:`draw_exits` makes them, so every value is the one ``draw_exits``
    gives for that request and column.
    """

    def __init__(self, model: ModelProfile, n: int, rng: np.random.Generator) -> None:
        heads = [b.exit for b in model.blocks if b.exit is not None]
        self.n = n
        self.columns = len(heads) + 1      # one per head, then the final layer
        self._trace = model.exit_trace
        if self._trace is not None:
            self._conf = np.asarray(self._trace.confidence, dtype=float)
            self._right = np.asarray(self._trace.correct, dtype=bool)
            self._pick = rng.integers(0, self._conf.shape[0], n)
            return
        if any(h.model is None for h in heads):
            raise ProfileError(f"profile '{model.name}' has exit heads without an exit model "
                               f"and no exit trace")
        self._u = rng.random(n)
        self._v = rng.random(n)
        self._heads = bool(heads)
        self._final_accuracy = model.final_accuracy
        self._params = [(h.model.accuracy, h.model.concentration) for h in heads]
        self._params.append((model.final_accuracy, model.final_concentration))

    def confidence(self, column: int, rows: np.ndarray) -> np.ndarray:
        """Confidence of requests ``rows`` at ``column`` (a head, or -1 / last: the final)."""
        column %= self.columns
        if self._trace is not None:
            return self._conf[self._pick[rows], column]
        if not self._heads:
            return np.ones(len(rows))
        accuracy, concentration = self._params[column]
        return _calibrated_confidence(self._u[rows], accuracy, concentration)

    def correct(self, column: int, rows: np.ndarray, confidence: np.ndarray | None = None
                ) -> np.ndarray:
        """Whether requests ``rows`` answer right at ``column``; ``confidence``: if known."""
        column %= self.columns
        if self._trace is not None:
            return self._right[self._pick[rows], column]
        if not self._heads:
            return self._v[rows] < self._final_accuracy
        if confidence is None:
            confidence = self.confidence(column, rows)
        return self._v[rows] < confidence

    def all(self) -> ExitDraws:
        """Every request at every column: what :func:`draw_exits` returns."""
        rows = np.arange(self.n)
        if self._trace is not None:
            return ExitDraws(self._conf[self._pick], self._right[self._pick])
        if not self._heads:
            return ExitDraws(np.ones((self.n, 1)), self.correct(-1, rows)[:, None])
        conf = np.column_stack([self.confidence(j, rows) for j in range(self.columns)])
        return ExitDraws(conf, self._v[:, None] < conf)


def draw_exits(model: ModelProfile, n: int, rng: np.random.Generator) -> ExitDraws:
    """Confidences and correctness of ``n`` requests at every exit head and the final layer."""
    return ExitSampler(model, n, rng).all()


def _calibrated_confidence(u: np.ndarray, accuracy: float, concentration: float) -> np.ndarray:
    """Beta(κa, κ(1-a)) quantiles of ``u``: mean confidence = accuracy."""
    if accuracy >= 1.0:
        return np.ones_like(u)
    if accuracy <= 0.0:
        return np.zeros_like(u)
    return betaincinv(concentration * accuracy, concentration * (1.0 - accuracy), u)
