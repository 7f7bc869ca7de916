"""One replication as a SimPy simulation: the request's life of DESIGN.md §4.

Why SimPy processes: the life of a request reads like the list in §4 —
arrive, wait for the device, ask the scheduler, compute up to the split
(leaving at an exit if confident), send, wait for a server worker, compute
the rest, receive the result — and shared resources (a device's processor,
the server's workers) are explicit.

Everything random that belongs to a request (its service-time multipliers,
its exit confidences) is drawn when the replication starts, indexed by the
request's arrival number, so every policy sees the same requests (common
random numbers).  Units: s, bit, byte, FLOP, W, J.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.events import Process, Timeout

from profiles.model import ModelProfile
from simulator.background import job_arrivals
from simulator.batching import BatchCost
from simulator.channel import Link
from simulator.costs import RadioPower, SystemModel
from simulator.dispatch import Dispatcher
from simulator.draws import draw_requests
from simulator.estimators import BacklogHistory, RateEstimator
from simulator.fifo import FifoStation, WorkerPool
from simulator.placement import Reach, build_reaches
from simulator.radio import RadioStateMachine
from simulator.scenario import (
    DeviceSpec,
    LinearRadio,
    Scenario,
    ServerSpec,
    configured_thresholds,
)
from simulator.schedulers import Decision, Hindsight, Observation, Outcome, Scheduler, resolve
from simulator.schedulers.base import HindsightServer
from simulator.seeds import Component, stream
from simulator.uplink import FifoUplink, ProcessorSharingUplink

# Columns of the per-request record, in order (see ``Records``).
RECORD_FIELDS = (
    "request", "device", "arrival_s", "split", "exit", "latency_s", "device_wait_s",
    "device_compute_s", "uplink_s", "server_wait_s", "server_service_s", "downlink_s",
    "energy_j", "bytes_up", "correct", "uplink_rate_bps", "server",
)
_ARRIVAL_CHUNK = 256  # inter-arrival times drawn per call; fixed, so streams are reproducible
# Finished requests' rows turned into column arrays this many at a time (see
# ``Replication._flush_rows``); any size gives the same records.
_RECORD_CHUNK = 4096


def background_arrivals(server: ServerSpec, rng: np.random.Generator
                        ) -> Iterator[tuple[float, float]]:
    """Arrival times (s) and work multipliers of ``server``'s background jobs, for ever.

    The spec's base rate and load curve (none, a ``pattern``, or a
    ``utilisation`` trace) drawn by the one thinning sampler,
    ``simulator.background.job_arrivals``.
    """
    bg = server.background
    rate, curve = bg.process(sum(server.worker_speeds), rng)
    variability = bg.variability or server.compute.variability
    return job_arrivals(rate, curve, variability.sample, rng)


class SchedulerError(RuntimeError):
    """A policy returned a decision the engine cannot carry out."""


@dataclass
class DeviceState:
    """One device instance during a replication."""

    index: int
    entry: int          # position of its entry in scenario.devices
    spec: DeviceSpec
    cpu: FifoStation
    uplink: Link
    downlink: Link
    estimator: RateEstimator
    scheduler: Scheduler
    system: SystemModel
    learns: bool
    #: (split, thresholds, server) of a policy with a fixed decision, checked once by ``run()``;
    #: ``None``: ask the policy for every request.
    fixed: tuple[int, tuple[float, ...], ServerState | None] | None = None
    compute_s: float = 0.0
    transmit_s: float = 0.0
    compute_j: float = 0.0
    transmit_j: float = 0.0
    radio: RadioStateMachine | None = None  # with power.rrc: promotion and tail


@dataclass(slots=True)
class _Batch:
    """Requests collected for one batch: (FLOP, multiplier, nominal s) each."""

    full: simpy.Event
    done: simpy.Event
    items: list = field(default_factory=list)


@dataclass
class ServerState:
    """The edge server: one FIFO queue in front of workers shared by devices and background jobs.

    Workers are numbered fastest first (``speeds``); a job that starts takes the
    fastest free one and runs ``work / speeds[worker] × multiplier``.  It
    tracks the integrals needed to check Little's law and the utilisation
    against queueing theory, and the nominal work in the system for the
    backlog it reports to devices.

    Nominal work is counted at the *mean* worker speed ``speed`` (with one
    class, the speed): a job of ``w`` FLOP adds ``w / speed`` s, and the
    backlog divides by the number of workers, so it is the work in the system
    over the total speed.  With several classes this is an approximation: a
    job in service is assumed to end ``w / speed`` after it started, whatever
    worker runs it.  With ``server.batching`` a request counts from its arrival
    (while its batch fills) and a batch counts the sum of its requests' nominal
    work: the batching speed-up is ignored.
    """

    workers: WorkerPool
    speed: float
    n_workers: int
    speeds: tuple[float, ...]
    queued_work_s: float = 0.0        # nominal service of jobs waiting
    in_service_end_sum: float = 0.0   # Σ (start + nominal service) of jobs in service
    in_service: int = 0
    in_system: int = 0                # foreground requests at the server
    area_in_system: float = 0.0       # ∫ requests at the server dt
    busy_area: float = 0.0            # ∫ busy workers dt (all jobs)
    busy: int = 0
    last_change: float = 0.0
    background_jobs: int = 0
    open_batch: _Batch | None = None  # with server.batching: the batch still filling
    index: int = 0                    # position in Replication.servers (the record's `server`)
    mult: np.ndarray | None = None    # per-request service multipliers of this server
    mults: list[float] | None = None  # the same as a list, for the request's process (run())

    def hold(self, now: float, nominal: float) -> None:
        """A request of ``nominal`` seconds joined the open batch at ``now`` (batching)."""
        self.queued_work_s += nominal

    # The methods below run a few times per job, so they update the integrals
    # inline (the body of ``advance``) rather than calling it: a Python call costs
    # more than the arithmetic, and the arithmetic is the same, in the same order.

    def advance(self, now: float) -> None:
        """Bring ∫ in-system dt and ∫ busy dt up to ``now`` (before a count changes)."""
        dt = now - self.last_change
        self.area_in_system += self.in_system * dt
        self.busy_area += self.busy * dt
        self.last_change = now

    def enqueue(self, now: float, nominal: float, work: float, mult: float) -> None:
        """A job of ``work`` FLOP (``nominal`` s, multiplier ``mult``) joined at ``now``."""
        self.queued_work_s += nominal

    def admit(self, now: float, nominal: float, work: float, mult: float) -> None:
        """A foreground request joined the queue at ``now``: counted in the system, then queued.

        Same as ``advance(now)``, ``in_system += 1``, ``enqueue(...)``, in one call.
        """
        dt = now - self.last_change
        self.area_in_system += self.in_system * dt
        self.busy_area += self.busy * dt
        self.last_change = now
        self.in_system += 1
        self.queued_work_s += nominal

    def start_service(self, now: float, nominal: float, worker: int, service: float) -> None:
        """A queued job of ``nominal`` seconds got ``worker`` (for ``service`` s) at ``now``."""
        dt = now - self.last_change
        self.area_in_system += self.in_system * dt
        self.busy_area += self.busy * dt
        self.last_change = now
        self.queued_work_s -= nominal
        self.in_service += 1
        self.in_service_end_sum += now + nominal
        self.busy += 1

    def end_service(self, now: float, begin: float, nominal: float, worker: int) -> None:
        """The job that started at ``begin`` left ``worker`` at ``now``."""
        dt = now - self.last_change
        self.area_in_system += self.in_system * dt
        self.busy_area += self.busy * dt
        self.last_change = now
        self.busy -= 1
        self.in_service -= 1
        self.in_service_end_sum -= begin + nominal

    def leave(self, now: float, begin: float, nominal: float, worker: int) -> None:
        """A foreground request's service ended: ``end_service``, then it leaves the system."""
        self.end_service(now, begin, nominal, worker)
        self.in_system -= 1

    def backlog_s(self, now: float) -> float:
        """Reported waiting time: nominal work ahead of a new job, per worker (s)."""
        remaining = max(0.0, self.in_service_end_sum - self.in_service * now)
        return (self.queued_work_s + remaining) / self.n_workers

    #: The backlog a device sees at ``now``: here, without a reporting delay.
    reported_backlog_s = backlog_s


@dataclass
class WatchedServerState(ServerState):
    """A server that also keeps what a stale report and the oracle need.

    Used only when ``scheduler.backlog_delay > 0`` or the policy is
    clairvoyant, so the plain server pays nothing for it: ``history`` gives
    the backlog as it was ``delay`` ago; ``queued_actual`` / ``ends_actual``
    ((work, multiplier) of the queued jobs, FIFO; end time of each busy
    worker) give the exact wait of a job joining now.
    """

    history: BacklogHistory | None = None
    queued_actual: deque = field(default_factory=deque)
    ends_actual: dict = field(default_factory=dict)

    def _record(self, now: float) -> None:
        if self.history is not None:
            self.history.record(now, self.queued_work_s, self.in_service_end_sum,
                                self.in_service)

    def hold(self, now: float, nominal: float) -> None:
        self.queued_work_s += nominal
        self._record(now)

    def enqueue(self, now: float, nominal: float, work: float, mult: float) -> None:
        self.queued_work_s += nominal
        self.queued_actual.append((work, mult))
        self._record(now)

    def admit(self, now: float, nominal: float, work: float, mult: float) -> None:
        super().admit(now, nominal, work, mult)
        self.queued_actual.append((work, mult))
        self._record(now)

    def start_service(self, now: float, nominal: float, worker: int, service: float) -> None:
        super().start_service(now, nominal, worker, service)
        self.queued_actual.popleft()
        self.ends_actual[worker] = now + service
        self._record(now)

    def end_service(self, now: float, begin: float, nominal: float, worker: int) -> None:
        super().end_service(now, begin, nominal, worker)
        del self.ends_actual[worker]
        self._record(now)

    def reported_backlog_s(self, now: float) -> float:
        if self.history is None:
            return self.backlog_s(now)
        return self.history.reported(now)

    def free_at(self, now: float) -> float:
        """When a job joining the FIFO queue at ``now`` gets a worker, if none arrives after it.

        Replays the queue: each queued job starts when a worker frees and takes
        the fastest worker free then (the lowest number).  With batching, closed
        batches are in the queue; the open batch a request would join is not
        foreseen (nor the wait for it to close).
        """
        ends = self.ends_actual
        speeds = self.speeds
        free = [max(ends.get(w, now), now) for w in range(self.n_workers)]
        for work, mult in self.queued_actual:
            start = min(free)
            worker = free.index(start)
            free[worker] = start + work / speeds[worker] * mult
        return min(free)


@dataclass
class ReplicationResult:
    """Raw output of one replication: per-request records and station statistics."""

    records: dict[str, np.ndarray]
    devices: list[dict[str, float | str | int]]
    server: dict[str, float]
    end_time_s: float
    events: int = 0
    meta: dict[str, float] = field(default_factory=dict)


class Replication:
    """Build the world of one scenario point for one replication, then ``run()`` it."""

    def __init__(self, scenario: Scenario, model: ModelProfile, replication: int) -> None:
        self.scenario = scenario
        self.model = model
        self.replication = replication
        seed = scenario.seed
        n = scenario.horizon.requests
        self.n_requests = n
        self.env = simpy.Environment()
        srv = scenario.server
        self.network = scenario.network()  # None without a topology block
        self.server_specs = ([srv] * srv.count if self.network is None
                             else list(self.network.server_specs))
        draws = draw_requests(scenario, model, replication)  # shared with the fast path
        self.server_mult = draws.server_mult
        self.servers = [self._make_server(spec, k, self._multipliers(spec, n))
                        for k, spec in enumerate(self.server_specs)]
        self.batching = srv.batching
        self.batch_cost = None if srv.batching is None else BatchCost(
            srv.batching, sum(2.0 * b.effective_macs for b in model.blocks),
            max(srv.worker_speeds))
        self.dispatcher = Dispatcher(srv.dispatch, self.servers, draws.dispatch)
        # with a topology: per device entry, the servers its access point reaches
        self.reach: list[Reach] | None = (
            None if self.network is None
            else build_reaches(self.network, self.servers, srv.dispatch, draws.dispatch))
        self.exits = draws.exits
        self.thresholds = configured_thresholds(scenario, len(model.exit_blocks))
        self._prepare_model_arrays()
        self.device_mult = draws.device_mult
        self.devices = self._build_devices(seed, replication)
        self.rtt_half = scenario.channel.rtt / 2.0
        self.arrived = 0
        self.completed = 0
        self.done = self.env.event()
        self.rows: list[tuple] = []

    # -------------------------------------------------------------- set-up

    def _make_server(self, srv: ServerSpec, index: int, mult: np.ndarray) -> ServerState:
        """Server ``index`` of spec ``srv``; watched (history, actual work) only when needed."""
        delay = self.scenario.scheduler.backlog_delay
        speeds = srv.worker_speeds
        n = len(speeds)
        if delay > 0 or resolve(self.scenario.scheduler.policy).clairvoyant:
            return WatchedServerState(
                WorkerPool(self.env, n), speed=srv.mean_speed, n_workers=n, speeds=speeds,
                history=BacklogHistory(delay, n) if delay > 0 else None, index=index,
                mult=mult)
        return ServerState(WorkerPool(self.env, n), speed=srv.mean_speed, n_workers=n,
                           speeds=speeds, index=index, mult=mult)

    def _multipliers(self, spec: ServerSpec, n: int) -> np.ndarray:
        """Per-request service multipliers for a server of ``spec``.

        Servers whose variability is the scenario's ``server`` block's share its
        array, so request ``i`` draws the same multiplier whichever of them runs
        it (common random numbers across the server choice); another
        variability draws from the same stream afresh (reproducible, and
        independent of how many servers there are).
        """
        variability = spec.compute.variability
        if variability == self.scenario.server.compute.variability:
            return self.server_mult
        return variability.sample(
            stream(self.scenario.seed, self.replication, Component.SERVER_SERVICE), n)

    def _hindsight_servers(self, entry: int) -> tuple[HindsightServer, ...]:
        """The servers device entry ``entry`` reaches, as the oracle sees them (topology only)."""
        if self.reach is None:
            return ()
        reach = self.reach[entry]
        return tuple(HindsightServer(s.index, reach.routes[s.index], s.free_at, s.speed, s.mult)
                     for s in reach.servers)

    def _server_free_at(self, now: float) -> float:
        """Earliest time a worker frees on any server (the oracle's view of the edge)."""
        return min(server.free_at(now) for server in self.servers)

    def _prepare_model_arrays(self) -> None:
        m = self.model
        flops = [2.0 * b.effective_macs for b in m.blocks]
        self.cum_flops = np.concatenate([[0.0], np.cumsum(flops)]).tolist()
        self.exit_blocks = list(m.exit_blocks)
        self.head_flops = [2.0 * m.blocks[b - 1].exit.macs for b in self.exit_blocks]
        self.up_bytes = [m.input_bytes] + [b.output_bytes for b in m.blocks[:-1]] + [0.0]
        self.down_bytes = m.downlink_bytes
        self.depth = m.depth

    def _build_devices(self, seed: int, replication: int) -> list[DeviceState]:
        devices = []
        sc = self.scenario
        sharing = sc.channel.sharing
        cell_link = None
        self.shared_uplink: FifoUplink | ProcessorSharingUplink | None = None
        if sharing != "dedicated":  # one realisation of the link for the whole cell
            cell_link = sc.channel.uplink.build(stream(seed, replication, Component.UPLINK, 0))
            shared = FifoUplink if sharing == "fifo" else ProcessorSharingUplink
            self.shared_uplink = shared(self.env, cell_link)
        for entry, spec in enumerate(sc.devices):
            for _ in range(spec.count):
                i = len(devices)
                uplink = cell_link or sc.channel.uplink.build(
                    stream(seed, replication, Component.UPLINK, i))
                downlink = sc.channel.downlink.build(
                    stream(seed, replication, Component.DOWNLINK, i))
                radio = spec.power.radio
                radio_power = (RadioPower(radio.a, radio.b) if isinstance(radio, LinearRadio)
                               else RadioPower(0.0, float(radio)))
                rrc = spec.power.rrc_spec
                rrc_params = None if rrc is None else rrc.params()
                system = SystemModel.build(
                    self.model, device_speed=spec.compute.speed,
                    server_speed=sc.server.mean_speed, server_workers=sc.server.total_workers,
                    compute_power_w=spec.power.compute, idle_power_w=spec.power.idle,
                    radio=radio_power, rtt_s=sc.channel.rtt, thresholds=self.thresholds,
                    rrc=rrc_params)
                scheduler = sc.scheduler.build()
                scheduler.prepare(system, stream(seed, replication, Component.POLICY, i))
                if scheduler.clairvoyant:  # only an oracle sees the realised world
                    scheduler.attach(Hindsight(
                        uplink=uplink, downlink=downlink, confidence=self.exits.confidence,
                        correct=self.exits.correct, server_multiplier=self.server_mult,
                        device_multiplier=self.device_mult[entry],
                        server_free_at=self._server_free_at,
                        servers=self._hindsight_servers(entry)))
                est = sc.scheduler.estimator
                devices.append(DeviceState(
                    index=i, entry=entry, spec=spec, cpu=FifoStation(self.env, 1),
                    uplink=uplink, downlink=downlink,
                    estimator=RateEstimator(est.kind, uplink, est.alpha, est.window, est.memory),
                    scheduler=scheduler, system=system,
                    learns=type(scheduler).update is not Scheduler.update,
                    radio=None if rrc_params is None else RadioStateMachine(rrc_params)))
        return devices

    # -------------------------------------------------------------- processes

    def run(self) -> ReplicationResult:
        # Per-request draws as Python lists for the request's process: indexing a list
        # costs a fraction of building a NumPy scalar, and float(x) of an array element
        # is the same double, so records do not change.  (The arrays stay: the oracle's
        # Hindsight and batching read them.)
        for server in self.servers:
            server.mults = server.mult.tolist()
        # flat (request-major): one list of a replication's bools, not one list per
        # request, which the garbage collector would walk on every full collection
        self._correct = self.exits.correct.ravel().tolist()
        self._columns = self.exits.correct.shape[1]
        self._device_mult = [None if m is None else m.tolist() for m in self.device_mult]
        self._record_chunks: list[list[np.ndarray]] = []
        for dev in self.devices:
            dev.fixed = self._fixed_plan(dev)
            self.env.process(self._arrivals(dev))
        for k, server in enumerate(self.servers):
            if self.server_specs[k].background is not None:
                self._background(server, k)
        self.env.run(until=self.done)
        for server in self.servers:
            server.advance(self.env.now)
        return self._result()

    def _arrivals(self, dev: DeviceState):
        """Generate this device's requests until the replication has ``requests`` arrivals."""
        env = self.env
        wl = dev.spec.workload
        rng = stream(self.scenario.seed, self.replication, Component.ARRIVALS, dev.index)
        if wl.arrivals == "periodic":
            period = 1.0 / wl.rate
            first = rng.random() * period if wl.phase == "random" else 0.0
            yield env.timeout(first)
            while self.arrived < self.n_requests:
                self._spawn(dev)
                yield env.timeout(period)
            return
        if wl.arrivals == "mmpp":
            yield from self._mmpp_arrivals(dev, rng)
            return
        if wl.arrivals == "trace":
            yield from self._trace_arrivals(dev, rng)
            return
        while True:
            for gap in rng.exponential(1.0 / wl.rate, _ARRIVAL_CHUNK).tolist():
                yield env.timeout(gap)
                if self.arrived >= self.n_requests:
                    return
                self._spawn(dev)

    def _mmpp_arrivals(self, dev: DeviceState, rng: np.random.Generator):
        """Markov-modulated Poisson arrivals: Poisson at rates[i] while the chain is in i.

        The chain starts in its stationary state (share of time ∝ mean sojourn),
        stays an exponential time, then jumps uniformly to another state.  By
        memorylessness the next arrival is the earlier of the next Poisson event
        at the current rate and the end of the sojourn.
        """
        env = self.env
        wl = dev.spec.workload
        rates, sojourns = wl.rates, wl.sojourns
        n = len(rates)
        state = int(rng.choice(n, p=np.asarray(sojourns) / sum(sojourns)))
        left = rng.exponential(sojourns[state])
        while self.arrived < self.n_requests:
            gap = rng.exponential(1.0 / rates[state])
            if gap < left:
                left -= gap
                yield env.timeout(gap)
                if self.arrived >= self.n_requests:
                    return
                self._spawn(dev)
            else:
                yield env.timeout(left)
                state = (state + 1 + int(rng.integers(n - 1))) % n
                left = rng.exponential(sojourns[state])

    def _trace_arrivals(self, dev: DeviceState, rng: np.random.Generator):
        """Requests at the times of the device's arrival trace (``Workload.trace_times``)."""
        env = self.env
        for at in dev.spec.workload.trace_times(rng):
            if self.arrived >= self.n_requests:
                return
            if at > env.now:
                yield env.timeout(at - env.now)
                if self.arrived >= self.n_requests:
                    return
            self._spawn(dev)

    def _spawn(self, dev: DeviceState) -> None:
        rid = self.arrived
        self.arrived += 1
        Process(self.env, self._request(rid, dev))  # = env.process(...), one call fewer

    def _request(self, rid: int, dev: DeviceState):
        """The life of one request (DESIGN.md §4, steps 1–7)."""
        env = self.env
        arrival = env.now
        # 2. wait for the device's processor
        wait = dev.cpu.acquire()
        if wait is None:
            start = arrival
        else:
            yield wait
            start = env.now
        # 3. the scheduler decides from what the device can see
        true_rate = dev.uplink.rate_at(start)
        split, thresholds, chosen = dev.fixed or self._decide(rid, dev, arrival, start)
        # 4. blocks 1..split on the device, leaving at a confident exit
        if self.exit_blocks:
            exit_col, dev_flops = self._device_part(rid, split, thresholds)
        else:  # no exit head to test: spare the call (the same sum, + 0.0 heads)
            exit_col, dev_flops = -1, self.cum_flops[split]
        mult = self._device_mult[dev.entry]
        compute_s = dev_flops / dev.spec.compute.speed * (1.0 if mult is None else mult[rid])
        if compute_s > 0.0:
            yield env.timeout(compute_s)
        dev.cpu.release()
        dev.compute_s += compute_s
        compute_j = dev.spec.power.compute * compute_s
        dev.compute_j += compute_j
        uplink_s = tx_s = server_wait_s = service_s = downlink_s = tx_j = 0.0
        bytes_up = 0.0
        measured = None
        radio = dev.radio
        served_by = -1
        if exit_col < 0 and split < self.depth:
            # 5. the payload at the cut crosses the uplink (after the radio's promotion, if
            # idle), then the wired route of a topology
            srv, route = self._destination(chosen, dev, rid)
            bytes_up = self.up_bytes[split]
            queue_s = promotion_s = 0.0
            if radio is not None:
                promotion_s = radio.begin(env.now, rid)
                if promotion_s > 0.0:
                    yield env.timeout(promotion_s)
            if self.shared_uplink is None:
                tx_s = dev.uplink.transfer_duration(env.now, 8.0 * bytes_up)
                if tx_s > 0.0:
                    yield env.timeout(tx_s)
            else:  # wait for (FIFO) or share (PS) the cell's uplink
                queued_at = env.now
                tx_start = yield from self.shared_uplink.send(8.0 * bytes_up)
                queue_s = tx_start - queued_at
                tx_s = env.now - tx_start
            if tx_s > 0.0:
                measured = 8.0 * bytes_up / tx_s
                tx_j = float(dev.system.radio.watts(measured)) * tx_s
                dev.transmit_s += tx_s
                dev.transmit_j += tx_j
                dev.estimator.observe(measured, env.now)
            if radio is not None:
                radio.end(env.now, rid)
                if queue_s > 0.0:
                    radio.queued(rid, queue_s)
            if self.rtt_half > 0.0:
                yield env.timeout(self.rtt_half)
            uplink_s = promotion_s + queue_s + tx_s + self.rtt_half
            wired_down = 0.0
            if route is not None:
                wired_up = route.transfer_s(8.0 * bytes_up)
                if wired_up > 0.0:
                    yield env.timeout(wired_up)
                uplink_s += wired_up
                wired_down = route.transfer_s(8.0 * self.down_bytes)
            # 6. the server runs the rest
            if self.exit_blocks:
                exit_col, srv_flops = self._server_part(rid, split, thresholds)
            else:  # no exit head to test: spare the call
                srv_flops = self.cum_flops[self.depth] - self.cum_flops[split]
            if srv is None:  # the dispatch rule picks as the request reaches the edge
                srv = self.dispatcher.only or self.dispatcher.choose(env.now, rid)
            served_by = srv.index
            server_wait_s, service_s = yield from self._serve(srv, srv_flops, rid)
            # the result returns over the wired route, then the radio downlink
            if radio is not None:
                if wired_down > 0.0:
                    yield env.timeout(wired_down)
                downlink_s = wired_down + (yield from self._receive(dev, rid))
            else:
                down_s = dev.downlink.transfer_duration(env.now + wired_down,
                                                        8.0 * self.down_bytes)
                downlink_s = wired_down + down_s + self.rtt_half
                if downlink_s > 0.0:
                    yield env.timeout(downlink_s)
        # 7. one record
        latency = env.now - arrival
        # max(0, ·): for a request that never leaves the device the difference is 0 up
        # to rounding (now - arrival loses bits late in a run) and must not turn negative
        wait_j = dev.spec.power.idle * max(0.0, latency - (start - arrival) - compute_s - tx_s)
        energy = compute_j + tx_j + wait_j
        if radio is not None:  # promotion, FIFO wait, reception and tails charged so far
            energy += radio.settle(rid)
        column = exit_col if exit_col >= 0 else -1
        exit_block = self.exit_blocks[exit_col] if exit_col >= 0 else -1
        correct = self._correct[(rid + 1) * self._columns - 1 if column < 0
                                 else rid * self._columns + column]
        self.rows.append((rid, dev.index, arrival, split, exit_block, latency, start - arrival,
                          compute_s, uplink_s, server_wait_s, service_s, downlink_s, energy,
                          bytes_up, correct, true_rate, served_by))
        if len(self.rows) == _RECORD_CHUNK:
            self._flush_rows()
        if dev.learns:
            heads, final = self._seen_confidences(rid, thresholds, exit_col)
            dev.scheduler.update(Outcome(
                request=rid, device=dev.index, split=split, exit_block=exit_block,
                confidence=float(self.exits.confidence[rid, column]), latency_s=latency,
                energy_j=energy, bytes_up=bytes_up, measured_uplink_bps=measured,
                head_confidences=heads, final_confidence=final))
        self.completed += 1
        if self.completed == self.n_requests:
            self.done.succeed()

    def _receive(self, dev: DeviceState, rid: int):
        """The result crosses the downlink with the radio's RRC machine; returns downlink_s.

        If the radio went idle while the server worked (the wait outlasted the
        tail) the reception waits for a promotion first, counted in downlink_s.
        """
        env = self.env
        radio = dev.radio
        promotion_s = radio.begin(env.now, rid)
        if promotion_s > 0.0:
            yield env.timeout(promotion_s)
        bits = 8.0 * self.down_bytes
        down_s = dev.downlink.transfer_duration(env.now, bits)
        if down_s > 0.0:
            yield env.timeout(down_s)
        radio.end(env.now, rid)
        radio.received(rid, down_s, bits / down_s if down_s > 0.0 else 0.0)
        if self.rtt_half > 0.0:
            yield env.timeout(self.rtt_half)
        return promotion_s + down_s + self.rtt_half

    def _serve(self, srv: ServerState, flops: float, rid: int):
        """Queue for a worker of ``srv`` and run ``flops``; returns (wait s, service s)."""
        env = self.env
        arrive = env.now
        if self.batching is not None:
            return (yield from self._serve_batched(srv, flops, rid))
        nominal = flops / srv.speed
        mult = srv.mults[rid]
        srv.admit(arrive, nominal, flops, mult)
        worker = srv.workers.acquire()
        if worker.__class__ is int:  # a free worker, at once
            begin = arrive
        else:  # all busy: wait for one to be handed over
            worker = yield worker
            begin = env.now
        service = flops / srv.speeds[worker] * mult
        srv.start_service(begin, nominal, worker, service)
        if service > 0.0:
            yield Timeout(env, service)  # = env.timeout(service), one call fewer
        srv.leave(env.now, begin, nominal, worker)
        srv.workers.release(worker)
        return begin - arrive, service

    def _serve_batched(self, srv: ServerState, flops: float, rid: int):
        """Join ``srv``'s open batch (see ``Batching``); returns (wait s, service s)."""
        env = self.env
        arrive = env.now
        nominal = flops / srv.speed
        srv.advance(arrive)
        srv.in_system += 1
        srv.hold(arrive, nominal)
        batch = srv.open_batch
        if batch is None:
            batch = srv.open_batch = _Batch(env.event(), env.event())
            env.process(self._run_batch(srv, batch))
        batch.items.append((flops, srv.mult[rid], nominal))
        if len(batch.items) == self.batching.size:
            srv.open_batch = None  # full: later arrivals start a new batch
            batch.full.succeed()
        begin, service = yield batch.done
        srv.in_system -= 1
        return begin - arrive, service

    def _run_batch(self, srv: ServerState, batch: _Batch):
        """Close ``batch`` when full or timed out, queue it for a worker, run it."""
        env = self.env
        if not batch.full.triggered:
            yield batch.full | env.timeout(self.batching.timeout)
        if srv.open_batch is batch:
            srv.open_batch = None
        work = self.batch_cost.work([f * m for f, m, _ in batch.items])  # FLOP at speed
        nominal = sum(n for _, _, n in batch.items)
        srv.enqueue(env.now, 0.0, work, 1.0)  # its requests' nominal work is held already
        worker = srv.workers.acquire()
        if worker.__class__ is not int:
            worker = yield worker
        begin = env.now
        service = work / srv.speeds[worker]
        srv.start_service(begin, nominal, worker, service)
        if service > 0.0:
            yield env.timeout(service)
        srv.end_service(env.now, begin, nominal, worker)
        srv.workers.release(worker)
        batch.done.succeed((begin, service))

    def _background(self, srv: ServerState, index: int) -> None:
        """Other tenants' jobs arriving at ``srv`` (see ``background_arrivals``), for ever.

        A chain of timeouts, each arrival's callback queueing its job and
        scheduling the next arrival, rather than a SimPy process: the same
        events at the same instants (``now + (at − now)``, as a process's
        ``timeout(at − now)`` gives), without a generator step per job.
        """
        env = self.env
        rng = stream(self.scenario.seed, self.replication, Component.BACKGROUND, index)
        spec = self.server_specs[index]
        work = spec.background.work
        nominal = work / srv.speed
        arrivals = background_arrivals(spec, rng)

        def next_arrival() -> None:
            at, mult = next(arrivals)
            Timeout(env, at - env.now).callbacks.append(lambda _: arrive(mult))

        def arrive(mult: float) -> None:
            self._background_job(srv, work, nominal, mult)
            next_arrival()

        next_arrival()

    def _background_job(self, srv: ServerState, work: float, nominal: float,
                        mult: float) -> None:
        """One background job of ``work`` FLOP joins ``srv``'s FIFO queue now.

        Why callbacks, not a SimPy process per job: the reference scenario
        simulates about ten background jobs per request, and a process costs
        a generator and an ``Initialize`` event on top of the job's own
        events.  The job's steps run as callbacks of the same events a process
        would wait on (the hand-over of a worker, the end of the service), so
        they happen at the same instants and in the same order; only the
        ``Initialize`` step is gone (the job queues in the arrival's step
        rather than in an urgent event right after it, which differs only if
        another urgent event falls on the very same instant).
        """
        srv.enqueue(self.env.now, nominal, work, mult)
        worker = srv.workers.acquire()
        if worker.__class__ is int:
            self._serve_background(srv, work, nominal, mult, worker)
        else:  # all busy: start when a worker is handed over
            worker.callbacks.append(
                lambda handed: self._serve_background(srv, work, nominal, mult, handed.value))

    def _serve_background(self, srv: ServerState, work: float, nominal: float, mult: float,
                          worker: int) -> None:
        """A background job got ``worker`` now: run it, then free the worker."""
        env = self.env
        begin = env.now
        service = work / srv.speeds[worker] * mult
        srv.start_service(begin, nominal, worker, service)
        Timeout(env, service).callbacks.append(
            lambda _: self._end_background(srv, begin, nominal, worker))

    def _end_background(self, srv: ServerState, begin: float, nominal: float,
                        worker: int) -> None:
        srv.end_service(self.env.now, begin, nominal, worker)
        srv.background_jobs += 1
        srv.workers.release(worker)

    # -------------------------------------------------------------- helpers

    def _decide(self, rid: int, dev: DeviceState, arrival: float, now: float
                ) -> tuple[int, tuple[float, ...], ServerState | None]:
        """Ask ``dev``'s policy for request ``rid``'s (split, thresholds, server) (§4 step 3)."""
        try:
            decision = dev.scheduler.decide(self._observe(rid, dev, arrival, now))
        except Exception as exc:  # a plug-in's bug: name the policy, keep the cause
            raise SchedulerError(f"policy '{self.scenario.scheduler.policy}' raised "
                                 f"{type(exc).__name__} in decide() for request {rid} on "
                                 f"device {dev.index}: {exc}") from exc
        return self._check(decision, dev)

    def _fixed_plan(self, dev: DeviceState
                    ) -> tuple[int, tuple[float, ...], ServerState | None] | None:
        """``dev``'s (split, thresholds, server) for every request, if its policy has a fixed
        decision.

        Why: such a policy never looks at the ``Observation`` (see
        ``Scheduler.fixed_decision``), so building one per request (estimator,
        dispatcher backlog, the dataclass) and checking the same decision again
        is pure cost — a third of the engine's time on the server-only M/M/1.
        Nothing the observation reads changes state when read (link paths are
        drawn from their own streams in fixed chunks, whatever is asked), with
        one exception: a stale backlog report trims its history when read, so
        with ``backlog_delay > 0`` the engine keeps observing and the history
        stays bounded.
        """
        decision = dev.scheduler.fixed_decision()
        if decision is None or any(getattr(s, "history", None) is not None
                                   for s in self.servers):
            return None
        return self._check(decision, dev)

    def _observe(self, rid: int, dev: DeviceState, arrival: float, now: float) -> Observation:
        deadline = dev.spec.workload.deadline
        est = dev.estimator
        down_rate = (dev.downlink.rate_at(now) if est.kind == "oracle"
                     else dev.downlink.mean_rate())
        reach = None if self.reach is None else self.reach[dev.entry]
        dispatcher = self.dispatcher if reach is None else reach.dispatcher
        return Observation(
            now_s=now, device=dev.index, request=rid, uplink_rate_bps=est.estimate(now),
            downlink_rate_bps=down_rate, rtt_s=self.scenario.channel.rtt,
            server_backlog_s=dispatcher.reported_backlog_s(now),
            device_queue=dev.cpu.queue_length,
            deadline_s=None if deadline is None else deadline - (now - arrival),
            waited_s=now - arrival,
            radio_since_s=math.inf if dev.radio is None else dev.radio.since(now),
            servers=() if reach is None else reach.views(now))

    def _seen_confidences(self, rid: int, thresholds: tuple[float, ...], exit_col: int
                          ) -> tuple[tuple[float, ...], float]:
        """Confidences of the heads that ran (NaN for the others) and of the final layer."""
        conf = self.exits.confidence[rid]
        last = exit_col if exit_col >= 0 else len(thresholds)
        heads = tuple(float(conf[j]) if j <= last and thresholds[j] != math.inf else math.nan
                      for j in range(len(thresholds)))
        return heads, float(conf[-1]) if exit_col < 0 else math.nan

    def _check(self, decision: Decision, dev: DeviceState
               ) -> tuple[int, tuple[float, ...], ServerState | None]:
        """Reject decisions the engine cannot carry out, naming the policy.

        Returns the split, the thresholds and the chosen server (None: the
        dispatch rule's choice).  ``who`` is a function, not a string: the
        message is built only for a decision that fails (a per-request
        f-string was measurable).
        """
        def who() -> str:
            return (f"scheduler.policy '{self.scenario.scheduler.policy}': decide() on device "
                    f"{dev.index} in replication {self.replication}")

        if not isinstance(decision, Decision):
            raise SchedulerError(f"{who()} returned {decision!r}; allowed: a "
                                 f"simulator.schedulers.Decision(split, thresholds)")
        split = decision.split
        if not isinstance(split, int | np.integer) or isinstance(split, bool) \
                or not 0 <= split <= self.depth:
            raise SchedulerError(f"{who()} chose split {split!r}; allowed: a whole number in "
                                 f"0..{self.depth} (the model has {self.depth} blocks)")
        thresholds = self.thresholds if decision.thresholds is None else decision.thresholds
        if not isinstance(thresholds, tuple | list) or len(thresholds) != len(self.exit_blocks):
            raise SchedulerError(f"{who()} gave thresholds {thresholds!r}; allowed: None (the "
                                 f"scenario's) or a tuple of {len(self.exit_blocks)}, one per "
                                 f"exit head (at blocks {self.exit_blocks})")
        chosen = decision.server
        if chosen is not None:
            chosen = self._chosen_server(chosen, dev, who())
        return int(split), thresholds, chosen

    def _chosen_server(self, choice: object, dev: DeviceState, who: str) -> ServerState:
        """The server a decision named (index, or name with a topology), or SchedulerError."""
        reach = None if self.reach is None else self.reach[dev.entry]
        if reach is not None:
            ok = isinstance(choice, str | int | np.integer) and not isinstance(choice, bool)
            srv = reach.pick(choice) if ok else None
            if srv is None:
                raise SchedulerError(f"{who} chose server {choice!r}, which this device "
                                     f"cannot reach; allowed: None (server.dispatch) or one of "
                                     f"{reach.allowed()}")
            return srv
        n = len(self.servers)
        if not isinstance(choice, int | np.integer) or isinstance(choice, bool) \
                or not 0 <= choice < n:
            raise SchedulerError(f"{who} chose server {choice!r}; allowed: None "
                                 f"(server.dispatch) or a server index in 0..{n - 1} (the "
                                 f"scenario has no topology, so servers have no names)")
        return self.servers[int(choice)]

    def _destination(self, chosen: ServerState | None, dev: DeviceState, rid: int):
        """(server or None, wired route or None) of a request leaving ``dev`` now.

        Without a topology the route is None and, unless the policy chose, so is
        the server: the dispatch rule picks it when the request reaches the
        edge, as it always did.  With one, the server is fixed now (the route
        depends on it): the policy's choice or the access point's dispatch rule.
        """
        if self.reach is None:
            return chosen, None
        reach = self.reach[dev.entry]
        srv = chosen if chosen is not None else reach.dispatcher.choose(self.env.now, rid)
        return srv, reach.routes[srv.index]

    def _device_part(self, rid: int, split: int, thresholds: tuple[float, ...]
                     ) -> tuple[int, float]:
        """(exit column or -1, FLOP run on the device) for blocks 1..split."""
        heads = 0.0
        conf = self.exits.confidence
        for j, block in enumerate(self.exit_blocks):
            if block > split:
                break
            if thresholds[j] != math.inf:
                heads += self.head_flops[j]
                if conf[rid, j] >= thresholds[j]:
                    return j, self.cum_flops[block] + heads
        return -1, self.cum_flops[split] + heads

    def _server_part(self, rid: int, split: int, thresholds: tuple[float, ...]
                     ) -> tuple[int, float]:
        """(exit column or -1, FLOP run on the server) for blocks split+1..L."""
        heads = 0.0
        conf = self.exits.confidence
        base = self.cum_flops[split]
        for j, block in enumerate(self.exit_blocks):
            if block <= split or thresholds[j] == math.inf:
                continue
            heads += self.head_flops[j]
            if conf[rid, j] >= thresholds[j]:
                return j, self.cum_flops[block] - base + heads
        return -1, self.cum_flops[self.depth] - base + heads

    def _flush_rows(self) -> None:
        """Turn the rows of finished requests into one chunk of column arrays.

        Why in chunks, while the run goes on: a row's numbers are Python objects
        scattered in memory; converting a replication's worth of them at the end
        cost about a fifth of the engine's time per request at 100,000 requests
        (cache misses), while a few thousand recent rows are still in cache, and
        the arrays hold 8 bytes per number instead of a Python object.
        ``np.asarray`` infers each column's dtype from its values, and
        ``np.concatenate`` promotes the chunks' dtypes as ``np.asarray`` would
        promote the values of the whole column, so the records are the same.
        """
        rows = self.rows
        if not rows:
            return
        table = np.array(rows, dtype=object).reshape(len(rows), len(RECORD_FIELDS))
        self._record_chunks.append([np.asarray(table[:, k].tolist())
                                    for k in range(len(RECORD_FIELDS))])
        self.rows = []

    def _result(self) -> ReplicationResult:
        self._flush_rows()
        chunks = self._record_chunks
        if not chunks:
            records = {name: np.asarray([]) for name in RECORD_FIELDS}
        else:
            columns = [np.concatenate([chunk[k] for chunk in chunks])
                       for k in range(len(RECORD_FIELDS))]
            order = np.argsort(columns[0], kind="stable")  # completion → request order
            records = {name: col[order] for name, col in zip(RECORD_FIELDS, columns,
                                                              strict=True)}
        end = self.env.now
        devices = []
        for dev in self.devices:
            busy = dev.compute_s + dev.transmit_s
            devices.append({
                "device": dev.index, "name": dev.spec.name, "compute_s": dev.compute_s,
                "transmit_s": dev.transmit_s, "compute_j": dev.compute_j,
                "transmit_j": dev.transmit_j,
                "idle_j": dev.spec.power.idle * max(0.0, end - busy),
            })
            if dev.radio is not None:
                self._radio_columns(dev, end, devices[-1], records)
        servers = self.servers
        workers = sum(s.n_workers for s in servers)
        server = {  # the edge as a whole: all servers together
            "utilisation": sum(s.busy_area for s in servers) / (workers * end) if end > 0
            else 0.0,
            "mean_in_system": sum(s.area_in_system for s in servers) / end if end > 0 else 0.0,
            "background_jobs": float(sum(s.background_jobs for s in servers)),
        }
        return ReplicationResult(records=records, devices=devices, server=server,
                                 end_time_s=end)

    @staticmethod
    def _radio_columns(dev: DeviceState, end: float, row: dict, records: dict) -> None:
        """RRC columns of a device's row; tails charged after a record go into its energy_j.

        ``radio_j`` (transmit, promotion, FIFO wait, reception, tails) equals the
        sum of the radio energy of the device's requests (see ``simulator.radio``).
        """
        radio = dev.radio
        row.update(radio.finish(end))
        row["radio_j"] = (dev.transmit_j + radio.promotion_j + radio.queued_j
                          + radio.receive_j + radio.tail_j)
        late = radio.late_charges()
        if late:
            rids = np.fromiter(late, dtype=np.int64, count=len(late))
            where = np.searchsorted(records["request"], rids)
            records["energy_j"][where] += np.fromiter(late.values(), dtype=float,
                                                      count=len(late))
