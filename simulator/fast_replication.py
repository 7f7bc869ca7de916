"""One replication without events: the fast path's recursions, stage by stage.

The rule for when this applies, and why the records equal the SimPy
engine's, is in :mod:`simulator.fastpath`.  Here: the same draws as the
engine (:mod:`simulator.draws`; the arrival streams in the engine's chunks),
each device's processor (Lindley), its transfers on its own link realisation
(``Link.transfer_duration``, vectorised for generated links), the server's
FIFO workers with the background jobs merged in (:mod:`simulator.tandem`),
the downlink, and the record, every time with the engine's floating-point
operations in its order.  Units: s, bit, byte, FLOP, W, J.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from profiles.model import ModelProfile
from simulator.background_stream import BackgroundStream
from simulator.channel import ConstantLink, IdealLink, Link, _GeneratedLink
from simulator.costs import RadioPower, SystemModel
from simulator.draws import RequestDraws, draw_requests
from simulator.engine import RECORD_FIELDS, ReplicationResult, SchedulerError
from simulator.scenario import (
    DeviceSpec,
    LinearRadio,
    Scenario,
    ScenarioError,
    configured_thresholds,
)
from simulator.schedulers import Decision
from simulator.seeds import Component, stream
from simulator.tandem import AmbiguousOrder, ServerRecursion, lindley

_ARRIVAL_CHUNK = 256  # the engine's chunk of inter-arrival draws (simulator.engine)


def device_system(scenario: Scenario, model: ModelProfile, spec: DeviceSpec,
                  thresholds: tuple[float, ...]) -> SystemModel:
    """The system model a device's policy is prepared with (as the engine builds it)."""
    radio = spec.power.radio
    radio_power = (RadioPower(radio.a, radio.b) if isinstance(radio, LinearRadio)
                   else RadioPower(0.0, float(radio)))
    srv = scenario.server
    return SystemModel.build(
        model, device_speed=spec.compute.speed, server_speed=srv.mean_speed,
        server_workers=srv.total_workers, compute_power_w=spec.power.compute,
        idle_power_w=spec.power.idle, radio=radio_power, rtt_s=scenario.channel.rtt,
        thresholds=thresholds)


@dataclass
class _Device:
    """One device instance: its links, its fixed decision and its system model."""

    index: int
    entry: int
    spec: DeviceSpec
    uplink: Link
    downlink: Link
    decision: Decision
    radio: RadioPower


class FastReplication:
    """One replication of a supported scenario, computed by recursions (see module docstring)."""

    def __init__(self, scenario: Scenario, model: ModelProfile, replication: int) -> None:
        self.scenario = scenario
        self.model = model
        self.replication = replication
        self.n = scenario.horizon.requests
        self.thresholds = configured_thresholds(scenario, len(model.exit_blocks))
        flops = [2.0 * b.effective_macs for b in model.blocks]
        self.cum_flops: list[float] = np.concatenate([[0.0], np.cumsum(flops)]).tolist()
        self.exit_blocks = list(model.exit_blocks)
        self.head_flops = [2.0 * model.blocks[b - 1].exit.macs for b in self.exit_blocks]
        self.up_bytes = [model.input_bytes] + [b.output_bytes for b in model.blocks[:-1]] + [0.0]
        self.depth = model.depth
        self.rtt_half = scenario.channel.rtt / 2.0
        self.devices = self._build_devices()
        self.draws: RequestDraws = draw_requests(scenario, model, replication)

    def _thresholds_of(self, decision: Decision) -> tuple[float, ...]:
        return self.thresholds if decision.thresholds is None else tuple(decision.thresholds)

    def _build_devices(self) -> list[_Device]:
        sc, seed, rep = self.scenario, self.scenario.seed, self.replication
        devices = []
        for entry, spec in enumerate(sc.devices):
            system = device_system(sc, self.model, spec, self.thresholds)
            for _ in range(spec.count):
                i = len(devices)
                uplink = sc.channel.uplink.build(stream(seed, rep, Component.UPLINK, i))
                downlink = sc.channel.downlink.build(stream(seed, rep, Component.DOWNLINK, i))
                policy = sc.scheduler.build()
                policy.prepare(system, stream(seed, rep, Component.POLICY, i))
                decision = policy.fixed_decision()
                if decision is None:  # supports() said otherwise: a plug-in changed its mind
                    raise ScenarioError(f"scheduler.policy '{sc.scheduler.policy}' gave no "
                                        f"fixed decision on device {i}; use engine: simpy")
                self._check(decision, i)
                devices.append(_Device(i, entry, spec, uplink, downlink, decision,
                                       system.radio))
        return devices

    def _check(self, decision: Decision, device: int) -> None:
        """Refuse a fixed decision the engine would refuse (``Replication._check``)."""
        who = (f"scheduler.policy '{self.scenario.scheduler.policy}': fixed_decision() on "
               f"device {device}")
        split = decision.split
        if not isinstance(split, int | np.integer) or isinstance(split, bool) \
                or not 0 <= split <= self.depth:
            raise SchedulerError(f"{who} chose split {split!r}; allowed: a whole number in "
                                 f"0..{self.depth} (the model has {self.depth} blocks)")
        thresholds = decision.thresholds
        if thresholds is not None and (not isinstance(thresholds, tuple | list)
                                       or len(thresholds) != len(self.exit_blocks)):
            raise SchedulerError(f"{who} gave thresholds {thresholds!r}; allowed: None (the "
                                 f"scenario's) or one per exit head (at blocks "
                                 f"{self.exit_blocks})")

    # -------------------------------------------------------------- arrivals

    def _arrival_times(self, dev: _Device, until: float) -> np.ndarray:
        """This device's arrival times (s) up to at least ``until``, as the engine fires them."""
        wl = dev.spec.workload
        rng = stream(self.scenario.seed, self.replication, Component.ARRIVALS, dev.index)
        if wl.arrivals == "periodic":
            period = 1.0 / wl.rate
            first = rng.random() * period if wl.phase == "random" else 0.0
            count = max(math.ceil((until - first) / period) + 2, 1)
            steps = np.full(count, period)
            steps[0] = first
            return np.cumsum(steps)  # sequential: t_k = t_{k-1} + period, as SimPy's now + delay
        if wl.arrivals == "mmpp":
            return self._mmpp_times(wl, rng, until)
        gaps = []
        total = 0.0
        while total <= until:
            chunk = rng.exponential(1.0 / wl.rate, _ARRIVAL_CHUNK)
            gaps.append(chunk)
            total += float(chunk.sum())
        times = np.cumsum(np.concatenate(gaps))
        return times

    @staticmethod
    def _mmpp_times(wl, rng: np.random.Generator, until: float) -> np.ndarray:
        """The engine's MMPP loop (``Replication._mmpp_arrivals``), draw for draw."""
        rates, sojourns = wl.rates, wl.sojourns
        n = len(rates)
        state = int(rng.choice(n, p=np.asarray(sojourns) / sum(sojourns)))
        left = rng.exponential(sojourns[state])
        now = 0.0
        out = []
        while now <= until:
            gap = rng.exponential(1.0 / rates[state])
            if gap < left:
                left -= gap
                now = now + gap
                out.append(now)
            else:
                now = now + left
                state = (state + 1 + int(rng.integers(n - 1))) % n
                left = rng.exponential(sojourns[state])
        return np.asarray(out, dtype=float)

    def _arrivals(self) -> tuple[np.ndarray, np.ndarray]:
        """(arrival time, device index) of requests 0..n-1, in arrival order."""
        n = self.n
        devices = self.devices
        rate = sum(d.spec.workload.mean_rate for d in devices)
        until = 1.1 * n / rate + 1.0   # enough in all but rare cases; else draw again
        if len(devices) == 1:
            while True:
                times = self._arrival_times(devices[0], until)
                if len(times) >= n:
                    return times[:n], np.zeros(n, dtype=np.int64)
                until *= 2.0
        while True:
            per = [self._arrival_times(d, until) for d in devices]
            per = [t[t <= until] for t in per]
            if sum(len(t) for t in per) >= n:
                break
            until *= 2.0
        times = np.concatenate(per)
        owner = np.concatenate([np.full(len(t), d.index, dtype=np.int64)
                                for d, t in zip(devices, per, strict=True)])
        order = np.argsort(times, kind="stable")[:n]
        times, owner = times[order], owner[order]
        same = times[1:] == times[:-1]
        if np.any(same & (owner[1:] != owner[:-1])):
            raise AmbiguousOrder("two devices' requests arrive at the same instant")
        return times, owner

    # -------------------------------------------------------------- paths

    def _outcomes(self, decision: Decision, rids: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per request ``rids`` of one device: exit column, offloaded?, device FLOP, server
        FLOP, correct?

        A request leaves at the first enabled head whose confidence reaches its
        threshold (``confidence >= threshold``, as the engine compares); a
        head's confidence is computed only for the requests that reach it.  The
        FLOP of each possible outcome are summed exactly as
        ``Replication._device_part`` / ``_server_part`` sum them.
        """
        split = decision.split
        thresholds = self._thresholds_of(decision)
        n_heads = len(self.exit_blocks)
        sampler = self.draws.exit_sampler
        hit = np.full(len(rids), -1, dtype=np.int64)
        correct = np.zeros(len(rids), dtype=bool)
        alive = np.arange(len(rids))
        for j in range(n_heads):
            if thresholds[j] == math.inf or not len(alive):
                continue
            conf = sampler.confidence(j, rids[alive])
            leave = conf >= thresholds[j]
            gone = alive[leave]
            hit[gone] = j
            correct[gone] = sampler.correct(j, rids[gone], conf[leave])
            alive = alive[~leave]
        correct[alive] = sampler.correct(-1, rids[alive])
        table_dev, table_srv, table_col, table_off = [], [], [], []
        for col in range(-1, n_heads):
            on_device, flops_dev = self._device_part(split, thresholds, col)
            offloaded = on_device < 0 and split < self.depth
            exit_col, flops_srv = (self._server_part(split, thresholds, col) if offloaded
                                   else (on_device, 0.0))
            table_dev.append(flops_dev)
            table_srv.append(flops_srv)
            table_col.append(exit_col)
            table_off.append(offloaded)
        pick = hit + 1
        return (np.asarray(table_col)[pick], np.asarray(table_off)[pick],
                np.asarray(table_dev)[pick], np.asarray(table_srv)[pick], correct)

    def _device_part(self, split: int, thresholds, col: int) -> tuple[int, float]:
        heads = 0.0
        for j, block in enumerate(self.exit_blocks):
            if block > split:
                break
            if thresholds[j] != math.inf:
                heads += self.head_flops[j]
                if j == col:
                    return j, self.cum_flops[block] + heads
        return -1, self.cum_flops[split] + heads

    def _server_part(self, split: int, thresholds, col: int) -> tuple[int, float]:
        heads = 0.0
        base = self.cum_flops[split]
        for j, block in enumerate(self.exit_blocks):
            if block <= split or thresholds[j] == math.inf:
                continue
            heads += self.head_flops[j]
            if j == col:
                return j, self.cum_flops[block] - base + heads
        return -1, self.cum_flops[self.depth] - base + heads

    # -------------------------------------------------------------- run

    def run(self) -> ReplicationResult:
        n = self.n
        arrival, owner = self._arrivals()
        draws = self.draws
        rtt_half = self.rtt_half
        rec = {
            "split": np.zeros(n, dtype=np.int64), "exit_col": np.zeros(n, dtype=np.int64),
            "start": np.zeros(n), "compute_s": np.zeros(n), "tx_s": np.zeros(n),
            "tx_j": np.zeros(n), "rate": np.zeros(n), "bytes_up": np.zeros(n),
            "at_server": np.zeros(n), "srv_flops": np.zeros(n),
            "offloaded": np.zeros(n, dtype=bool), "finish": np.zeros(n),
            "correct": np.zeros(n, dtype=bool),
        }
        byte_values: set = set()
        dev_stats = []
        for dev in self.devices:
            rids = np.flatnonzero(owner == dev.index)
            col, off, f_dev, f_srv, correct = self._outcomes(dev.decision, rids)
            rec["correct"][rids] = correct
            mult = draws.device_mult[dev.entry]
            compute_s = f_dev / dev.spec.compute.speed
            if mult is not None:
                compute_s = compute_s * mult[rids]
            a = arrival[rids]
            start = lindley(a, compute_s)
            finish = start + compute_s
            rate = self._rates_at(dev.uplink, start)
            split = dev.decision.split
            bytes_up = self.up_bytes[split]
            tx = np.zeros(len(rids))
            idx = np.flatnonzero(off)
            if len(idx):
                byte_values.add(bytes_up)
                tx[idx] = self._durations(dev.uplink, finish[idx], 8.0 * bytes_up)
            if len(idx) < len(rids):
                byte_values.add(0.0)
            sent = tx > 0.0
            measured = np.where(sent, 8.0 * bytes_up / np.where(sent, tx, 1.0), 0.0)
            watts = dev.radio.watts(measured)
            tx_j = np.where(sent, np.asarray(watts, dtype=float) * tx, 0.0)
            at_server = finish + tx
            if rtt_half > 0.0:
                at_server = at_server + rtt_half
            rec["split"][rids] = split
            rec["exit_col"][rids] = col
            rec["start"][rids] = start
            rec["compute_s"][rids] = compute_s
            rec["finish"][rids] = finish
            rec["tx_s"][rids] = tx
            rec["tx_j"][rids] = tx_j
            rec["rate"][rids] = rate
            rec["bytes_up"][rids[off]] = bytes_up
            rec["offloaded"][rids] = off
            rec["at_server"][rids] = at_server
            rec["srv_flops"][rids] = f_srv
            # the engine adds these up as each request finishes its compute / its transfer
            tx_order = np.argsort(finish[sent] + tx[sent], kind="stable")
            dev_stats.append((_sequential_sum(compute_s),
                              _sequential_sum(tx[sent][tx_order]),
                              _sequential_sum(dev.spec.power.compute * compute_s),
                              _sequential_sum(tx_j[sent][tx_order])))
        server_wait, service, done, downlink_s, servers, served_by = self._server(rec, owner)
        return self._result(rec, arrival, owner, server_wait, service, done, downlink_s,
                            servers, dev_stats, byte_values, served_by)

    @staticmethod
    def _rates_at(link: Link, times: np.ndarray) -> np.ndarray:
        """``link.rate_at`` at each time (the record's true uplink rate)."""
        if isinstance(link, ConstantLink | IdealLink):
            return np.full(len(times), link.rate_at(0.0))
        if isinstance(link, _GeneratedLink):
            return link.rates_at(times)
        rate_at = link.rate_at
        return np.fromiter((rate_at(t) for t in times.tolist()), float, len(times))

    @staticmethod
    def _durations(link: Link, starts: np.ndarray, bits: float) -> np.ndarray:
        """``link.transfer_duration(start, bits)`` for each start (s)."""
        if isinstance(link, ConstantLink | IdealLink):
            return np.full(len(starts), link.transfer_duration(0.0, bits))
        if isinstance(link, _GeneratedLink):
            return link.transfer_durations(starts, bits)
        duration = link.transfer_duration
        return np.fromiter((duration(t, bits) for t in starts.tolist()), float, len(starts))

    def _server(self, rec: dict[str, np.ndarray], owner: np.ndarray):
        """Queue every offloaded request at its server; then the downlink.

        Returns per request the server wait, the service, when the request is
        done (back on its device) and the downlink time (transfer + rtt/2),
        per server its recursion, requests, their arrivals and service ends,
        and per request the server that ran it (-1: none), the record's ``server``.
        """
        n = self.n
        sc = self.scenario
        srv = sc.server
        off = np.flatnonzero(rec["offloaded"])
        at = rec["at_server"][off]
        order = np.argsort(at, kind="stable")
        off, at = off[order], at[order]
        if np.any(at[1:] == at[:-1]):
            raise AmbiguousOrder("two requests reach the edge at the same instant")
        if srv.count == 1:
            target = np.zeros(len(off), dtype=np.int64)
        elif srv.dispatch == "round-robin":
            target = np.arange(len(off), dtype=np.int64) % srv.count
        else:
            u = self.draws.dispatch[off]
            target = np.minimum((u * srv.count).astype(np.int64), srv.count - 1)
        served_by = np.full(n, -1, dtype=np.int64)
        served_by[off] = target
        wait = np.zeros(n)
        service = np.zeros(n)
        done = rec["finish"].copy()   # a request that stays on the device is done then
        downlink_s = np.zeros(n)
        servers = []
        speeds = srv.worker_speeds
        mult = self.draws.server_mult
        bg = srv.background
        for k in range(srv.count):
            mine = off[target == k]
            background = None
            if bg is not None:
                background = BackgroundStream(
                    srv, stream(sc.seed, self.replication, Component.BACKGROUND, k))
            station = ServerRecursion(speeds, background, bg.work if bg is not None else 0.0)
            arrive = rec["at_server"][mine]
            b, s = station.serve(arrive, rec["srv_flops"][mine], mult[mine])
            wait[mine] = b - arrive
            service[mine] = s
            out = np.where(s > 0.0, b + s, b)
            done[mine], downlink_s[mine] = self._downlink(owner[mine], out)
            servers.append((station, mine, arrive, out))
        return wait, service, done, downlink_s, servers, served_by

    def _downlink(self, owners: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(done, downlink s) of requests whose service ended at ``out`` on devices ``owners``.

        The engine's ``transfer_duration(now, bits) + rtt/2``, then ``now + that``.
        """
        bits = 8.0 * self.model.downlink_bytes
        done = out.copy()
        downlink_s = np.zeros(len(out))
        for dev_index in np.unique(owners):
            sel = np.flatnonzero(owners == dev_index)
            down = self._durations(self.devices[dev_index].downlink, out[sel], bits)
            total = down + self.rtt_half
            downlink_s[sel] = total
            done[sel] = np.where(total > 0.0, out[sel] + total, out[sel])
        return done, downlink_s

    def _result(self, rec, arrival, owner, server_wait, service, done, downlink_s, servers,
                dev_stats, byte_values, served_by) -> ReplicationResult:
        n = self.n
        rtt_half = self.rtt_half
        off = rec["offloaded"]
        latency = done - arrival
        wait = rec["start"] - arrival
        compute_s = rec["compute_s"]
        tx = rec["tx_s"]
        uplink_s = np.where(off, (0.0 + tx) + rtt_half, 0.0)
        idle = np.array([d.spec.power.idle for d in self.devices])[owner]
        power_c = np.array([d.spec.power.compute for d in self.devices])[owner]
        compute_j = power_c * compute_s
        wait_j = idle * np.maximum(0.0, latency - wait - compute_s - tx)
        energy = compute_j + rec["tx_j"] + wait_j
        col = rec["exit_col"]
        blocks = np.asarray([*self.exit_blocks, -1], dtype=np.int64)
        exit_block = np.where(col >= 0, blocks[col], -1)
        bytes_dtype = np.asarray(sorted(byte_values, key=float)).dtype if byte_values else float
        columns = {
            "request": np.arange(n), "device": owner, "arrival_s": arrival,
            "split": rec["split"], "exit": exit_block, "latency_s": latency,
            "device_wait_s": wait, "device_compute_s": compute_s, "uplink_s": uplink_s,
            "server_wait_s": server_wait, "server_service_s": service,
            "downlink_s": downlink_s, "energy_j": energy,
            "bytes_up": rec["bytes_up"].astype(bytes_dtype), "correct": rec["correct"],
            "uplink_rate_bps": rec["rate"], "server": served_by,
        }
        records = {name: columns[name] for name in RECORD_FIELDS}
        end = float(done.max()) if n else 0.0
        devices = []
        for dev, (c_s, t_s, c_j, t_j) in zip(self.devices, dev_stats, strict=True):
            devices.append({
                "device": dev.index, "name": dev.spec.name, "compute_s": c_s,
                "transmit_s": t_s, "compute_j": c_j, "transmit_j": t_j,
                "idle_j": dev.spec.power.idle * max(0.0, end - (c_s + t_s)),
            })
        workers = len(self.scenario.server.worker_speeds) * len(servers)
        busy = in_system = 0.0
        bg_jobs = 0
        for station, _mine, arrive, out in servers:
            stats = station.finish(end)
            busy += stats.busy_area
            bg_jobs += stats.background_jobs
            in_system += float(np.sum(out - arrive))
        server = {
            "utilisation": busy / (workers * end) if end > 0 else 0.0,
            "mean_in_system": in_system / end if end > 0 else 0.0,
            "background_jobs": float(bg_jobs),
        }
        return ReplicationResult(records=records, devices=devices, server=server,
                                 end_time_s=end)


def _sequential_sum(values: np.ndarray) -> float:
    """Left-to-right float sum (the engine's running ``+=``), not numpy's pairwise sum."""
    return float(np.cumsum(values)[-1]) if len(values) else 0.0
