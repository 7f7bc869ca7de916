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

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from scipy.special import betaincinv

from profiles.model import ModelProfile, ProfileError


@dataclass(frozen=True)
class ExitDraws:
    """``confidence[i, j]`` / ``correct[i, j]``: request ``i`` at exit ``j`` (last = final)."""

    confidence: np.ndarray
    correct: np.ndarray


def draw_exits(model: ModelProfile, n: int, rng: np.random.Generator,
               heads_needed: Collection[int] | None = None) -> ExitDraws:
    """Confidences and correctness of ``n`` requests at every exit head and the final layer.

    ``heads_needed`` (head columns, block order): a caller that knows the
    other heads never run (the fast path, with fixed thresholds) skips their
    Beta quantiles, the costly part; their columns are NaN (confidence) and
    False (correctness).  The draws, and so every other column, are the same.
    """
    heads = [b.exit for b in model.blocks if b.exit is not None]
    if model.exit_trace is not None:
        conf = np.asarray(model.exit_trace.confidence, dtype=float)
        right = np.asarray(model.exit_trace.correct, dtype=bool)
        pick = rng.integers(0, conf.shape[0], n)
        return ExitDraws(conf[pick], right[pick])
    if any(h.model is None for h in heads):
        raise ProfileError(f"profile '{model.name}' has exit heads without an exit model and "
                           f"no exit trace")
    u = rng.random(n)
    v = rng.random(n)
    if not heads:  # only the final layer: correctness alone is needed
        return ExitDraws(np.ones((n, 1)), (v < model.final_accuracy)[:, None])
    params = [(h.model.accuracy, h.model.concentration) for h in heads]
    params.append((model.final_accuracy, model.final_concentration))
    last = len(params) - 1
    conf = np.column_stack([
        _calibrated_confidence(u, a, k) if heads_needed is None or j == last
        or j in heads_needed else np.full(n, np.nan)
        for j, (a, k) in enumerate(params)])
    return ExitDraws(conf, v[:, None] < conf)


def _calibrated_confidence(u: np.ndarray, accuracy: float, concentration: float) -> np.ndarray:
    """Beta(κa, κ(1-a)) quantiles of ``u``: mean confidence = accuracy."""
    if accuracy >= 1.0:
        return np.ones_like(u)
    if accuracy <= 0.0:
        return np.zeros_like(u)
    return betaincinv(concentration * accuracy, concentration * (1.0 - accuracy), u)
