"""Neurosurgeon-style optimal split (Kang et al., ASPLOS 2017).

Per request, evaluate the predicted latency (or device energy) of every
split for the estimated uplink rate and the reported server backlog, and
take the best.  Predictions come from the shared cost model
(``SystemModel``), with the scenario's exit thresholds when any are on.
Ties go to the smallest split index, so the choice is deterministic.

With a ``topology`` the device also sees every server it reaches
(``Observation.servers``) and the choice is joint: for each reachable server
the same per-split cost is predicted with that server's reported backlog,
speed and wired path (``SystemModel.latency(..., route=...)``), and the best
(split, server) pair is taken — ties to the smallest split, then the lowest
server index.  Device-only leaves the server open (``None``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from simulator.costs import WiredRoute
from simulator.schedulers.base import Decision, Observation, Scheduler, ServerView


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
        allowed = self.candidates()
        if obs.servers:
            split, server = best_placement(self.system, self.params, obs, allowed)
            return Decision(split=split, server=server)
        cost = objective_cost(self.system, self.params, obs)
        return Decision(split=int(allowed[np.argmin(cost[allowed])]))


def objective_cost(system, params: ObjectiveParams, obs: Observation,
                   outlook=None, server: ServerView | None = None) -> np.ndarray:
    """Per-split cost of ``params.objective`` for observation ``obs``.

    ``outlook`` (an ``ExitOutlook``) defaults to the scenario's thresholds, so
    configured exit heads are part of the prediction.  With ``server`` (one
    of ``obs.servers``) the request is predicted to go to that server: its
    backlog, speed and wired route replace the edge's aggregate view.
    """
    if server is None:
        backlog, route = obs.server_backlog_s, None
    else:
        backlog = server.backlog_s
        route = WiredRoute(server.latency_s, server.rate_bps, server.speed_flops)
    args = (obs.uplink_rate_bps, obs.downlink_rate_bps, backlog, outlook,
            obs.radio_since_s, route)
    if params.objective == "latency":
        return system.latency(*args)
    if params.objective == "energy":
        return system.energy(*args)
    return (params.weight * system.latency(*args)
            + (1.0 - params.weight) * system.energy(*args) / params.energy_scale_j)


def server_choices(obs: Observation) -> list[tuple[int | None, float, WiredRoute | None]]:
    """(server index, backlog s, route) of every server a decision may name.

    Without a topology one entry, ``(None, obs.server_backlog_s, None)``: the
    edge as the dispatch rule presents it.  With one, each ``obs.servers``
    entry with its wired route for ``SystemModel.latency`` / ``energy``.
    """
    if not obs.servers:
        return [(None, obs.server_backlog_s, None)]
    return [(v.index, v.backlog_s, WiredRoute(v.latency_s, v.rate_bps, v.speed_flops))
            for v in obs.servers]


def placement_costs(system, params: ObjectiveParams, obs: Observation,
                    outlook=None) -> np.ndarray:
    """Cost of every (server, split): one row per ``obs.servers`` entry, one column per split."""
    return np.stack([objective_cost(system, params, obs, outlook, view)
                     for view in obs.servers])


def best_placement(system, params: ObjectiveParams, obs: Observation, allowed: np.ndarray,
                   outlook=None) -> tuple[int, int | None]:
    """(split, server index) of least cost over ``allowed`` splits and ``obs.servers``.

    Ties go to the smallest split, then to the first server listed (the
    lowest index); a device-only split returns server ``None``.
    """
    cost = placement_costs(system, params, obs, outlook)[:, allowed]
    flat = int(np.argmin(cost.T.ravel()))  # split-major: the first minimum has the smallest split
    column, row = divmod(flat, len(obs.servers))
    split = int(allowed[column])
    return split, (None if split == system.depth else obs.servers[row].index)
