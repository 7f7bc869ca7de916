"""Constraint-aware policies: accuracy under a deadline, device energy under a latency SLO.

Both use the shared cost model (``SystemModel``): predicted latency and
device energy of every split at once, from the estimated uplink rate and the
reported server backlog, with the exit heads' effect taken from the
profile's exit model (``ExitOutlook``: expected device FLOP, probability of
offloading, expected server FLOP and expected accuracy per split).  The
predicted latency is the *expected* latency of the decision from the moment
the request gets the device's processor.

``deadline`` — per request, among the candidates

  * every split ``s`` with the exit heads off, and
  * every split ``s`` with the heads up to ``s`` on (thresholds:
    ``scheduler.thresholds`` if set, else ``default_threshold``) and the
    heads after ``s`` off (the server answers with the final layer) —
    unless ``exit_candidates: false``,

take the highest expected accuracy whose predicted latency fits in the time
left until the request's deadline (``Observation.deadline_s``: the workload's
relative deadline minus the time already waited); ties go to the lower
predicted latency, then to the smaller split.  When no candidate fits, fall
back to the one with the least predicted latency (best effort: it misses by
the least).  A request without a deadline gets the most accurate candidate
(ties: the fastest).  ``deadline_s`` (param) sets a deadline for workloads
that have none.

``energy-slo`` — per request, the split with the least predicted device
energy whose predicted latency is within ``slo`` minus the time the request
already waited; exits as configured (``scheduler.thresholds``).  When no
split fits, the one with the least predicted latency.  Ties: smaller split.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from simulator.schedulers.base import (
    Decision,
    Observation,
    Scheduler,
    StrictParams,
    exits_disabled,
    thresholds_or_default,
)
from simulator.units import Duration


class DeadlineParams(StrictParams):
    default_threshold: float = Field(default=0.8, ge=0.0, le=1.0, description=(
        "Exit threshold of every head when scheduler.thresholds is not set."))
    deadline: Duration | None = Field(default=None, gt=0, description=(
        "Relative deadline for workloads without one (e.g. '150 ms')."))
    exit_candidates: bool = Field(default=True, description=(
        "Also consider the splits with the device-side heads on."))


class Deadline(Scheduler):
    """Most accurate (split, exits) whose predicted latency meets the deadline."""

    Params = DeadlineParams
    sets_thresholds = True

    def prepare(self, system, rng) -> None:
        super().prepare(system, rng)
        n = system.depth + 1
        off = system.outlook(exits_disabled(len(system.exit_blocks)))
        outlooks = [off]
        if self.params.exit_candidates and system.exit_blocks:
            on = thresholds_or_default(system, self.params.default_threshold)
            outlooks.append(system.outlook(on, device_side_only=True))
        self.outlooks = outlooks
        self.accuracy = np.concatenate([o.accuracy for o in outlooks])
        self.options = [(s, o.thresholds[s]) for o in outlooks for s in range(n)]

    def predicted_latency(self, obs: Observation) -> np.ndarray:
        """Expected latency of every candidate (in ``self.options`` order)."""
        args = (obs.uplink_rate_bps, obs.downlink_rate_bps, obs.server_backlog_s)
        return np.concatenate([self.system.latency(*args, o, obs.radio_since_s)
                               for o in self.outlooks])

    def budget(self, obs: Observation) -> float | None:
        if obs.deadline_s is not None:
            return obs.deadline_s
        if self.params.deadline is not None:
            return self.params.deadline - obs.waited_s
        return None

    def decide(self, obs: Observation) -> Decision:
        latency = self.predicted_latency(obs)
        budget = self.budget(obs)
        feasible = np.ones(len(latency), bool) if budget is None else latency <= budget
        if not feasible.any():
            best = int(np.argmin(latency))
        else:
            # lexicographic: accuracy (high), latency (low), then option order
            acc = np.where(feasible, np.round(self.accuracy, 12), -np.inf)
            top = np.flatnonzero(acc == acc.max())
            best = int(top[np.argmin(latency[top])])
        split, thresholds = self.options[best]
        return Decision(split=split, thresholds=thresholds)


class EnergySLOParams(StrictParams):
    slo: Duration = Field(default=0.1, gt=0, description=(
        "Latency SLO from arrival (s), e.g. '100 ms'."))


class EnergySLO(Scheduler):
    """Least predicted device energy among the splits whose predicted latency meets the SLO."""

    Params = EnergySLOParams

    def decide(self, obs: Observation) -> Decision:
        args = (obs.uplink_rate_bps, obs.downlink_rate_bps, obs.server_backlog_s)
        latency = self.system.latency(*args, radio_since_s=obs.radio_since_s)
        energy = self.system.energy(*args, radio_since_s=obs.radio_since_s)
        feasible = latency <= self.params.slo - obs.waited_s
        if not feasible.any():
            return Decision(split=int(np.argmin(latency)))
        return Decision(split=int(np.argmin(np.where(feasible, energy, math.inf))))
