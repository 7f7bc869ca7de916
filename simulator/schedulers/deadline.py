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

With a topology both choose the server too: every candidate is considered
on every server the device reaches (that server's backlog, speed and wired
route), with the same rules; ties go to the earlier candidate, then the
lower server index.  Device-only leaves the server open.
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
from simulator.schedulers.neurosurgeon import server_choices
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

    def predicted_latency(self, obs: Observation, backlog_s: float | None = None,
                          route=None) -> np.ndarray:
        """Expected latency of every candidate (in ``self.options`` order).

        ``backlog_s`` and ``route`` (a ``WiredRoute``) predict for one server of
        a topology; by default the edge as ``obs`` presents it.
        """
        backlog = obs.server_backlog_s if backlog_s is None else backlog_s
        args = (obs.uplink_rate_bps, obs.downlink_rate_bps, backlog)
        return np.concatenate([self.system.latency(*args, o, obs.radio_since_s, route)
                               for o in self.outlooks])

    def budget(self, obs: Observation) -> float | None:
        if obs.deadline_s is not None:
            return obs.deadline_s
        if self.params.deadline is not None:
            return self.params.deadline - obs.waited_s
        return None

    def decide(self, obs: Observation) -> Decision:
        choices = server_choices(obs)
        k = len(choices)  # candidate-major: entry i is option i // k on server i % k
        latency = np.stack([self.predicted_latency(obs, b, r) for _, b, r in choices],
                           axis=1).ravel()
        accuracy = np.repeat(self.accuracy, k)
        budget = self.budget(obs)
        feasible = np.ones(len(latency), bool) if budget is None else latency <= budget
        if not feasible.any():
            best = int(np.argmin(latency))
        else:
            # lexicographic: accuracy (high), latency (low), then option order
            acc = np.where(feasible, np.round(accuracy, 12), -np.inf)
            top = np.flatnonzero(acc == acc.max())
            best = int(top[np.argmin(latency[top])])
        option, server = divmod(best, k)
        split, thresholds = self.options[option]
        return Decision(split=split, thresholds=thresholds,
                        server=None if split == self.system.depth else choices[server][0])


class EnergySLOParams(StrictParams):
    slo: Duration = Field(default=0.1, gt=0, description=(
        "Latency SLO from arrival (s), e.g. '100 ms'."))


class EnergySLO(Scheduler):
    """Least predicted device energy among the splits whose predicted latency meets the SLO."""

    Params = EnergySLOParams

    def decide(self, obs: Observation) -> Decision:
        choices = server_choices(obs)
        k = len(choices)  # split-major: entry i is split i // k on server i % k
        up, down = obs.uplink_rate_bps, obs.downlink_rate_bps
        since = obs.radio_since_s
        latency = np.stack([self.system.latency(up, down, b, None, since, r)
                            for _, b, r in choices],
                           axis=1).ravel()
        energy = np.stack([self.system.energy(up, down, b, None, since, r)
                           for _, b, r in choices],
                          axis=1).ravel()
        feasible = latency <= self.params.slo - obs.waited_s
        if not feasible.any():
            best = int(np.argmin(latency))
        else:
            best = int(np.argmin(np.where(feasible, energy, math.inf)))
        split, server = divmod(best, k)
        return Decision(split=split,
                        server=None if split == self.system.depth else choices[server][0])
