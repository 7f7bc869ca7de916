"""The scheduler interface (DESIGN.md §6): ``decide(obs) -> Decision``, ``update(outcome)``.

Why this shape: a policy must see only what a real device could see, so it
gets an ``Observation`` (estimated rate, reported server backlog, its own
queue, the deadline) and never the engine.  Following scikit-learn, the
constructor only stores validated parameters; ``prepare`` binds the policy to
one device's system model and random stream and resets learned state;
``update`` changes learned state only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from simulator.costs import SystemModel


@dataclass(frozen=True, slots=True)
class Observation:
    """What the device knows when a request reaches its processor.

    Rates in bit/s, times in s.  ``server_backlog_s`` is the waiting time the
    server reported (its queued work divided by its workers); ``deadline_s``
    is the time left until the request's deadline, or ``None``.
    """

    now_s: float
    device: int
    request: int
    uplink_rate_bps: float
    downlink_rate_bps: float
    rtt_s: float
    server_backlog_s: float
    device_queue: int
    deadline_s: float | None


@dataclass(frozen=True, slots=True)
class Decision:
    """Where to split (0 = server-only, L = device-only) and the exit thresholds.

    ``thresholds`` has one entry per exit head in block order; ``math.inf``
    disables an exit.  ``None`` means "the scenario's configured thresholds".
    """

    split: int
    thresholds: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the device learns once its request is finished (no ground truth).

    ``exit_block`` is the 1-based block whose head answered, or -1 for the
    final layer; ``confidence`` is the answering head's confidence;
    ``measured_uplink_bps`` is bits/transmission time of this request's
    transfer (``None`` when nothing was sent).
    """

    request: int
    device: int
    split: int
    exit_block: int
    confidence: float
    latency_s: float
    energy_j: float
    bytes_up: float
    measured_uplink_bps: float | None


class NoParams(BaseModel):
    """A policy without parameters of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Scheduler:
    """Base class of every policy.  Subclasses set ``Params`` and implement ``decide``."""

    Params: ClassVar[type[BaseModel]] = NoParams
    #: True for policies that see the future (they must say so in plots).
    clairvoyant: ClassVar[bool] = False

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def prepare(self, system: SystemModel, rng: np.random.Generator) -> None:
        """Bind to one device's system model and random stream; reset learned state."""
        self.system = system
        self.rng = rng

    def decide(self, obs: Observation) -> Decision:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, outcome: Outcome) -> None:
        """Learn from a finished request; static policies ignore it."""


def exits_disabled(n_exits: int) -> tuple[float, ...]:
    """Thresholds that keep every exit head off."""
    return (math.inf,) * n_exits
