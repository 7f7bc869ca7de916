"""A third-party splitsim scheduler: the lowest-energy split that meets a latency budget.

This file is not part of splitsim; it shows everything a plug-in needs.  Put
its directory on the Python path and name the class in a scenario:

    PYTHONPATH=examples/plugin_scheduler \
        splitsim run examples/plugin_scheduler/scenario.yaml --out runs/plugin

    scheduler: {policy: my_policy:LowestEnergyUnderBudget, latency_budget: 50 ms}

The rule, per request: predict the latency and the device energy of every
split s = 0..L for the estimated uplink rate and the server backlog in the
observation (``SystemModel.latency`` / ``.energy``: backbone compute, transfer
at the estimated rate, rtt, the reported backlog; no early exits, no device
queue).  Among the splits whose predicted latency is within
``latency_budget``, take the one with the least predicted energy; if none is,
take the fastest.  Ties go to the smallest split.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from simulator.schedulers import Decision, Observation, Scheduler
from simulator.units import Duration


class BudgetParams(BaseModel):
    """The policy's parameters: validated when the scenario is loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # ``Duration`` parses unit strings ("50 ms") into seconds, like every
    # quantity in a scenario; a bare number is seconds.
    latency_budget: Duration = Field(gt=0, description="Predicted latency allowed (s), "
                                                       "e.g. '50 ms'.")


class LowestEnergyUnderBudget(Scheduler):
    """Lowest predicted device energy among splits whose predicted latency fits the budget."""

    Params = BudgetParams

    def decide(self, obs: Observation) -> Decision:
        args = (obs.uplink_rate_bps, obs.downlink_rate_bps, obs.server_backlog_s)
        latency = self.system.latency(*args)   # seconds, one entry per split 0..L
        energy = self.system.energy(*args)     # joules, one entry per split 0..L
        feasible = latency <= self.params.latency_budget
        if not feasible.any():
            return Decision(split=int(np.argmin(latency)))
        return Decision(split=int(np.argmin(np.where(feasible, energy, np.inf))))
