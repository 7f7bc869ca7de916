"""Neurosurgeon-style optimal split (Kang et al., ASPLOS 2017).

Per request, evaluate the predicted latency (or device energy) of every
split for the estimated uplink rate and the reported server backlog, and
take the best.  Predictions come from the shared cost model
(``SystemModel``), with the scenario's exit thresholds when any are on.
Ties go to the smallest split index, so the choice is deterministic.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from simulator.schedulers.base import Decision, Observation, Scheduler


class ObjectiveParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    objective: Literal["latency", "energy", "weighted"] = Field(
        default="latency", description="What to minimise: latency (s), device energy (J), "
                                       "or weight·latency + (1-weight)·energy/energy_scale.")
    weight: float = Field(default=0.5, ge=0.0, le=1.0,
                          description="Latency weight for objective: weighted.")
    energy_scale_j: float = Field(default=1.0, gt=0.0,
                                  description="Joules that count as much as one second "
                                              "for objective: weighted.")


class Neurosurgeon(Scheduler):
    """Best split over all cut points for the observed rate and server load."""

    Params = ObjectiveParams

    def candidates(self) -> np.ndarray:
        """Splits this policy may choose (all of them)."""
        return np.arange(self.system.depth + 1)

    def decide(self, obs: Observation) -> Decision:
        cost = objective_cost(self.system, self.params, obs)
        allowed = self.candidates()
        return Decision(split=int(allowed[np.argmin(cost[allowed])]))


def objective_cost(system, params: ObjectiveParams, obs: Observation,
                   outlook=None) -> np.ndarray:
    """Per-split cost of ``params.objective`` for observation ``obs``.

    ``outlook`` (an ``ExitOutlook``) defaults to the scenario's thresholds, so
    configured exit heads are part of the prediction.
    """
    args = (obs.uplink_rate_bps, obs.downlink_rate_bps, obs.server_backlog_s, outlook,
            obs.radio_since_s)
    if params.objective == "latency":
        return system.latency(*args)
    if params.objective == "energy":
        return system.energy(*args)
    return (params.weight * system.latency(*args)
            + (1.0 - params.weight) * system.energy(*args) / params.energy_scale_j)
