"""The exact event-free fast path: one replication without SimPy, same records.

The rule (when it applies).  A scenario takes the fast path when no
decision depends on the state of the simulation:

- every device's policy has a *fixed decision* (``Scheduler.fixed_decision()``
  is not ``None`` after ``prepare``: device-only, server-only, fixed-split, or
  early-exit wrapping one of them), is not clairvoyant and learns nothing
  (``update`` is the base class's, also inside early-exit).  A request's path
  then depends only on its own draws: it leaves at the first enabled exit
  head (block order) whose confidence reaches the fixed threshold, else at
  the final layer; the split, the bytes sent and the FLOP on each side follow;
- the uplink is dedicated (``channel.sharing: dedicated``), so a transfer's
  time depends only on its start time and the device's own link realisation;
- no batching; one server, or several behind a state-free dispatch
  (``round-robin`` in the order requests reach the edge, or ``random``);
- arrivals ``poisson``, ``periodic`` or ``mmpp``; background ``poisson``
  (with or without a ``pattern``); every channel model;
- and nothing the fast path does not know about: any scenario field outside
  the list in :data:`_KNOWN` that is set to a non-default value sends the
  scenario to SimPy (:func:`supports` names it).  New features are therefore
  never silently ignored.

How.  Per device, requests go through a FIFO processor (Lindley), then a
transfer whose duration the device's own link gives by inverting its
cumulative-bits function from the transfer's start (``Link.transfer_duration``,
exact across rate changes), then the server's FIFO queue with ``c`` numbered
workers and background jobs merged in by arrival time (Kiefer–Wolfowitz,
``simulator.tandem``), then the downlink.  The random numbers are drawn
exactly as the engine draws them (``simulator.draws`` for the per-request
numbers, the same streams and chunks for arrivals and background), and every
time is computed with the engine's floating-point operations in the engine's
order, so the per-request records are bit-identical to the SimPy engine's.
Station statistics (utilisation, mean number at the server) are the same
integrals summed in another order, equal to rounding.

When two events fall on the same instant and SimPy's event order would decide
the outcome (periodic devices in phase, a background job reaching the server
together with a request, …), :class:`simulator.tandem.AmbiguousOrder` is
raised and :func:`run_replication` runs the SimPy engine for that
replication instead, and says so.  The recursions themselves are in
:mod:`simulator.fast_replication`.  Units: s, bit, byte, FLOP, W, J.
"""

from __future__ import annotations

from pydantic import BaseModel

from profiles.model import ModelProfile
from simulator.channel import (
    ConstantLinkSpec,
    CsvColumnsSpec,
    GilbertElliottLinkSpec,
    IdealLinkSpec,
    MarkovLinkSpec,
    ShannonLinkSpec,
    TraceLinkSpec,
)
from simulator.engine import Replication, ReplicationResult
from simulator.fast_replication import FastReplication, device_system
from simulator.scenario import (
    Background,
    ChannelSpec,
    Compute,
    DevicePower,
    DeviceSpec,
    EstimatorSpec,
    Horizon,
    InlineBlock,
    InlineExit,
    InlineModel,
    LinearRadio,
    ProfileRef,
    Scenario,
    ScenarioError,
    SchedulerSpec,
    ServerCompute,
    ServerSpec,
    WorkerClass,
    Workload,
    configured_thresholds,
)
from simulator.schedulers import Scheduler, resolve
from simulator.schedulers.early_exit import EarlyExit
from simulator.seeds import Component, stream
from simulator.tandem import AmbiguousOrder
from simulator.variability import Variability

ENGINES = ("auto", "simpy", "fast")

# The fields the fast path implements, per scenario class.  A field of these
# classes that is not listed here (a feature added later) must keep its
# default, or the scenario goes to SimPy.
_KNOWN: dict[type[BaseModel], frozenset[str]] = {
    Scenario: frozenset({"name", "description", "seed", "replications", "horizon", "model",
                         "devices", "channel", "server", "scheduler", "sweep", "zip",
                         "cases", "engine"}),
    Horizon: frozenset({"requests", "warmup"}),
    InlineModel: frozenset({"input_bytes", "blocks", "accuracy", "result_bytes"}),
    InlineBlock: frozenset({"name", "flops", "output_bytes", "natural_bottleneck", "exit"}),
    InlineExit: frozenset({"flops", "accuracy", "concentration"}),
    ProfileRef: frozenset({"profile", "variant", "file"}),
    DeviceSpec: frozenset({"name", "count", "compute", "power", "workload"}),
    Compute: frozenset({"speed", "variability"}),
    Variability: frozenset({"dist", "cv"}),
    DevicePower: frozenset({"compute", "idle", "radio"}),
    LinearRadio: frozenset({"model", "a", "b"}),
    Workload: frozenset({"arrivals", "rate", "rates", "mean_sojourn", "deadline", "phase"}),
    ChannelSpec: frozenset({"uplink", "downlink", "rtt", "sharing"}),
    ServerSpec: frozenset({"workers", "classes", "compute", "batching", "background",
                           "count", "dispatch"}),
    ServerCompute: frozenset({"speed", "variability"}),
    WorkerClass: frozenset({"workers", "speed"}),
    Background: frozenset({"arrivals", "rate", "work", "pattern", "period"}),
    EstimatorSpec: frozenset({"kind", "alpha", "window", "memory"}),
    SchedulerSpec: frozenset({"policy", "estimator", "thresholds", "backlog_delay",
                              "params"}),
    ConstantLinkSpec: frozenset({"model", "rate"}),
    IdealLinkSpec: frozenset({"model"}),
    MarkovLinkSpec: frozenset({"model", "rates", "mean_sojourn", "transition", "step",
                               "initial", "loss"}),
    GilbertElliottLinkSpec: frozenset({"model", "rate_good", "rate_bad", "mean_good",
                                       "mean_bad", "loss_good", "loss_bad", "initial"}),
    ShannonLinkSpec: frozenset({"model", "bandwidth", "snr", "fading", "sigma", "coherence"}),
    TraceLinkSpec: frozenset({"model", "file", "format", "loop", "random_offset",
                              "time_scale", "rate_scale", "columns"}),
    CsvColumnsSpec: frozenset({"time", "rate", "time_unit", "rate_unit"}),
}
_ARRIVALS = ("poisson", "periodic", "mmpp")
_BACKGROUND_ARRIVALS = ("poisson",)
_SHARING = ("dedicated",)
_DISPATCH = ("round-robin", "random")


# ------------------------------------------------------------------ the rule


def _unknown_fields(obj: BaseModel, where: str) -> str | None:
    """The first field, anywhere below ``obj``, that the fast path does not implement."""
    known = _KNOWN.get(type(obj))
    if known is None:
        return f"{where or 'scenario'} is a {type(obj).__name__}, which the fast path does " \
               f"not know"
    for name, info in type(obj).model_fields.items():
        value = getattr(obj, name)
        path = f"{where}.{name}" if where else name
        if name not in known:
            if value != info.get_default(call_default_factory=True):
                return f"{path} is set and the fast path does not implement it"
            continue
        items = ([(f"{path}.{i}", v) for i, v in enumerate(value)] if isinstance(value, list)
                 else [(path, value)])
        for item_path, item in items:
            if isinstance(item, BaseModel):
                reason = _unknown_fields(item, item_path)
                if reason is not None:
                    return reason
    return None


def supports(scenario: Scenario, model: ModelProfile) -> str | None:
    """``None`` if the fast path gives the SimPy engine's results here, else why not.

    An explicit whitelist (see the module docstring): anything not on it
    returns a reason, so an unknown feature is never run by the fast path.
    """
    ch, srv, sched = scenario.channel, scenario.server, scenario.scheduler
    if ch.sharing not in _SHARING:
        return f"channel.sharing is '{ch.sharing}' (the fast path needs a dedicated uplink)"
    if srv.batching is not None:
        return "server.batching is set (a batch's start depends on other requests)"
    if srv.count > 1 and srv.dispatch not in _DISPATCH:
        return (f"server.dispatch is '{srv.dispatch}' with {srv.count} servers (it depends "
                f"on the servers' state; allowed: {', '.join(_DISPATCH)})")
    for k, dev in enumerate(scenario.devices):
        if dev.workload.arrivals not in _ARRIVALS:
            return (f"devices.{k}.workload.arrivals is '{dev.workload.arrivals}' (allowed: "
                    f"{', '.join(_ARRIVALS)})")
    if srv.background is not None and srv.background.arrivals not in _BACKGROUND_ARRIVALS:
        return f"server.background.arrivals is '{srv.background.arrivals}'"
    reason = _unknown_fields(scenario, "")
    if reason is not None:
        return reason
    cls = resolve(sched.policy)
    if cls.clairvoyant:
        return f"scheduler.policy '{sched.policy}' is clairvoyant"
    thresholds = configured_thresholds(scenario, len(model.exit_blocks))
    for dev in scenario.devices:
        policy = sched.build()
        policy.prepare(device_system(scenario, model, dev, thresholds),
                       stream(scenario.seed, 0, Component.POLICY, 0))
        if _learns(policy):
            return f"scheduler.policy '{sched.policy}' learns from outcomes"
        if policy.fixed_decision() is None:
            return (f"scheduler.policy '{sched.policy}' decides from the state of the "
                    f"simulation (it has no fixed decision on device '{dev.name}')")
    return None


def _learns(policy: Scheduler) -> bool:
    """Whether ``policy`` (or the policy early-exit wraps) overrides ``update``."""
    if isinstance(policy, EarlyExit):
        return _learns(policy.inner)
    return type(policy).update is not Scheduler.update


def choose_engine(scenario: Scenario, model: ModelProfile) -> str:
    """``"fast"`` or ``"simpy"`` per ``scenario.engine``.

    ``engine: fast`` on a scenario the fast path does not support is bad input
    (a ScenarioError naming the reason).
    """
    wanted = scenario.engine
    if wanted == "simpy":
        return "simpy"
    reason = supports(scenario, model)
    if reason is None:
        return "fast"
    if wanted == "fast":
        raise ScenarioError(f"engine: fast cannot run this scenario: {reason}; use engine: "
                            f"auto (the fast path where it applies) or simpy")
    return "simpy"


def run_replication(scenario: Scenario, model: ModelProfile, replication: int,
                    engine: str) -> tuple[ReplicationResult, str]:
    """Run one replication on ``engine`` (from :func:`choose_engine`); returns (result, engine ran).

    The fast path hands a replication with simultaneous events whose order
    matters to the SimPy engine (see :class:`~simulator.tandem.AmbiguousOrder`).
    """
    if engine == "fast":
        try:
            return FastReplication(scenario, model, replication).run(), "fast"
        except AmbiguousOrder:
            pass
    return Replication(scenario, model, replication).run(), "simpy"
