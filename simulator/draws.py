"""The per-request random numbers of one replication, drawn before anything runs.

Why a module of its own: the SimPy engine and the event-free fast path
(``simulator.fastpath``) must give the same request the same numbers — its
server and device service-time multipliers, its exit confidences and
correctness, its random-dispatch draw — or their records could not be
compared.  Both call :func:`draw_requests`, so the streams, the chunk sizes
and the order of the draws are written down once.  Every array is indexed by
the request's arrival number (common random numbers: request ``i`` gets the
same numbers whatever the policy).  Multipliers are unit-mean and
dimensionless.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from profiles.model import ModelProfile
from simulator.exits import ExitDraws, ExitSampler
from simulator.scenario import Scenario
from simulator.seeds import Component, stream


@dataclass
class RequestDraws:
    """Everything random that belongs to the requests of one replication.

    ``device_mult[k]`` holds the compute multipliers of device entry ``k``
    (``None``: deterministic compute, every multiplier 1); ``dispatch`` the
    uniforms of random dispatch (empty unless ``server.dispatch: random`` with
    several servers, ``server.count`` of them or a topology's).
    ``exit_sampler`` holds the exit draws; ``exits`` is every request's
    confidence and correctness at every exit (computed on first use: the fast
    path asks the sampler only for what it needs).
    """

    server_mult: np.ndarray
    exit_sampler: ExitSampler
    device_mult: list[np.ndarray | None]
    dispatch: np.ndarray

    @cached_property
    def exits(self) -> ExitDraws:
        return self.exit_sampler.all()


def draw_requests(scenario: Scenario, model: ModelProfile, replication: int) -> RequestDraws:
    """Draw the per-request numbers of ``replication`` from their own streams."""
    seed = scenario.seed
    n = scenario.horizon.requests
    srv = scenario.server
    network = scenario.network()
    servers = srv.count if network is None else len(network.server_specs)
    dispatch = (stream(seed, replication, Component.DISPATCH).random(n)
                if servers > 1 and srv.dispatch == "random" else np.empty(0))
    server_mult = srv.compute.variability.sample(
        stream(seed, replication, Component.SERVER_SERVICE), n)
    exits = ExitSampler(model, n, stream(seed, replication, Component.EXITS))
    return RequestDraws(server_mult, exits, device_multipliers(scenario, replication), dispatch)


def device_multipliers(scenario: Scenario, replication: int) -> list[np.ndarray | None]:
    """Per-request compute multipliers, one array per device entry of the scenario.

    Entry ``k`` draws from its own stream, so adding a device entry does not
    change the others' draws; ``None`` stands for deterministic compute.
    """
    n = scenario.horizon.requests
    out: list[np.ndarray | None] = []
    for k, spec in enumerate(scenario.devices):
        variability = spec.compute.variability
        out.append(None if variability.dist == "deterministic" else variability.sample(
            stream(scenario.seed, replication, Component.DEVICE_SERVICE, k), n))
    return out
