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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from simulator.channel import Link
    from simulator.costs import SystemModel
    from simulator.topology import Route


@dataclass(frozen=True, slots=True)
class ServerView:
    """What a device is told about one server it can reach (``Observation.servers``).

    ``index`` is the server's number (its position among the topology's edge
    and cloud nodes), ``name`` its node name; ``backlog_s`` its reported
    waiting time (nominal work per worker, as stale as
    ``scheduler.backlog_delay``); ``latency_s`` the one-way latency of the
    wired path from the device's access point (s) and ``rate_bps`` the path's
    effective rate ``1 / Σ 1/rate_i`` (bit/s, inf without serialisation), so a
    payload of ``b`` bits crosses it in ``latency_s + b / rate_bps``;
    ``speed_flops`` the mean worker speed (FLOP/s) and ``workers`` how many.
    """

    index: int
    name: str
    backlog_s: float
    latency_s: float
    rate_bps: float
    speed_flops: float
    workers: int


@dataclass(frozen=True, slots=True)
class Observation:
    """What the device knows when a request reaches its processor.

    Rates in bit/s, times in s.  ``uplink_rate_bps`` is the device's estimate
    (per the scenario's estimator); ``server_backlog_s`` is the waiting time
    the server reported (its nominal queued work divided by its workers), as
    it was ``scheduler.backlog_delay`` ago; ``deadline_s`` is the time left
    until the request's deadline, or ``None``; ``waited_s`` is how long the
    request already waited for the device's processor; ``radio_since_s`` is
    the time since the device's radio last finished a transfer (0 while one
    is under way, ``inf`` before the first), which with an RRC state machine
    (``power.rrc``) tells whether an offload will pay a promotion.  ``servers``
    lists the servers the device can reach (one ``ServerView`` each) when the
    scenario has a ``topology``; it is empty otherwise, and
    ``server_backlog_s`` is then the only view of the edge.
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
    waited_s: float = 0.0
    radio_since_s: float = math.inf
    servers: tuple[ServerView, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """Where to split (0 = server-only, L = device-only) and the exit thresholds.

    ``thresholds`` has one entry per exit head in block order; ``math.inf``
    disables an exit.  ``None`` means "the scenario's configured thresholds".
    ``server`` picks the server of an offloaded request: its index or its
    name (a ``ServerView``'s), fixed when the request leaves the device;
    ``None`` leaves the choice to the scenario's ``server.dispatch`` rule
    (among the servers the device reaches).  Ignored when nothing is sent.
    """

    split: int
    thresholds: tuple[float, ...] | None = None
    server: int | str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the device learns once its request is finished (no ground truth).

    ``exit_block`` is the 1-based block whose head answered, or -1 for the
    final layer; ``confidence`` is the answering head's confidence;
    ``measured_uplink_bps`` is bits/transmission time of this request's
    transfer (``None`` when nothing was sent).  ``head_confidences`` holds,
    per exit head in block order, the confidence of every head that ran
    (on the device or the server), NaN for heads that did not run;
    ``final_confidence`` is the final layer's, NaN if it was not reached.
    With ``power.rrc``, ``energy_j`` is the energy known when the result
    arrives: the radio tail that follows is not known yet (the record gets it
    once the tail is cut or runs out).
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
    head_confidences: tuple[float, ...] = ()
    final_confidence: float = math.nan


@dataclass(frozen=True)
class HindsightServer:
    """A server the clairvoyant policy's device reaches through a topology.

    ``route`` is the wired path from the device's access point (its
    ``transfer_s(bits)`` is the exact one-way time); ``free_at(now)`` when a
    job joining this server now would get a worker (as ``Hindsight``'s);
    ``speed_flops`` its mean worker speed; ``multiplier`` the per-request
    service-time multipliers it would apply.
    """

    index: int
    route: Route
    free_at: Callable[[float], float]
    speed_flops: float
    multiplier: np.ndarray


@dataclass(frozen=True)
class Hindsight:
    """What only a clairvoyant policy is given: its device's realised world.

    The engine hands it to a policy whose class sets ``clairvoyant = True``
    (and to no other): the device's uplink and downlink as realised (their
    future included — the rate paths are fixed by the seed, so reading them
    changes nothing), every request's exit confidences and correctness, the
    per-request device and server service-time multipliers, and
    ``server_free_at(now)``: when a job joining the server now would get a
    worker, from the actual remaining service of every job in service or
    queued at ``now`` (jobs that arrive later are not known).  With a
    topology, ``servers`` holds the same for every server the device reaches,
    with its route; empty without one.
    """

    uplink: Link
    downlink: Link
    confidence: np.ndarray          # requests × (heads + final)
    correct: np.ndarray
    server_multiplier: np.ndarray   # per request
    device_multiplier: np.ndarray | None
    server_free_at: Callable[[float], float]
    servers: tuple[HindsightServer, ...] = ()


class NoParams(BaseModel):
    """A policy without parameters of its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Scheduler:
    """Base class of every policy.  Subclasses set ``Params`` and implement ``decide``."""

    Params: ClassVar[type[BaseModel]] = NoParams
    #: True for policies that see the future (they must say so in plots); only they
    #: get ``attach(hindsight)``.
    clairvoyant: ClassVar[bool] = False
    #: True for policies that choose the exit thresholds themselves (not only the split).
    sets_thresholds: ClassVar[bool] = False

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    def prepare(self, system: SystemModel, rng: np.random.Generator) -> None:
        """Bind to one device's system model and random stream; reset learned state."""
        self.system = system
        self.rng = rng

    def attach(self, hindsight: Hindsight) -> None:
        """Clairvoyant policies only: receive the realised world (after ``prepare``)."""
        if not self.clairvoyant:
            raise TypeError(f"{type(self).__name__} is not clairvoyant and may not see the "
                            f"future")
        self.hindsight = hindsight

    def decide(self, obs: Observation) -> Decision:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, outcome: Outcome) -> None:
        """Learn from a finished request; static policies ignore it."""

    def fixed_decision(self) -> Decision | None:
        """The decision this policy makes for every request, if it never looks at anything.

        Why: a policy whose decision ignores the ``Observation``, its random
        stream and what it learned makes each request's path depend only on the
        request's own draws (its exit confidences against fixed thresholds),
        which lets the engine skip the observation and the fast path replace
        the event simulation.  Called after ``prepare``.  The default, ``None``,
        is always safe: a plug-in opts in by overriding it.
        """
        return None


def exits_disabled(n_exits: int) -> tuple[float, ...]:
    """Thresholds that keep every exit head off."""
    return (math.inf,) * n_exits


def thresholds_or_default(system: SystemModel, default: float) -> tuple[float, ...]:
    """The scenario's thresholds if any head is on, else ``default`` for every head."""
    if any(math.isfinite(t) for t in system.thresholds):
        return tuple(system.thresholds)
    return (float(default),) * len(system.exit_blocks)


class StrictParams(BaseModel):
    """Base of policy parameter blocks: unknown keys refused, YAML aliases allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
