"""The hindsight oracle: per request, the best split and exit for what actually happens.

It is the lower bound a plot can show next to the real policies, and it
says so: ``clairvoyant = True``, so the engine gives it a ``Hindsight`` and
no other policy gets one.

What "hindsight" includes, exactly — for the request being decided, at the
moment it gets its device's processor:

* the realised uplink and downlink rate paths of its device, future
  included (transfer times are integrated over the actual path, from the
  actual start time of each transfer);
* the request's own exit confidences and correctness at every head and at
  the final layer, and its actual device and server service-time
  multipliers;
* its device radio's RRC state (``Observation.radio_since_s``), so the
  promotion an offload will wait for is foreseen (with ``power.rrc``);
* the server's exact present: the actual remaining service time of every
  job in service and every job queued (FIFO over the workers), so the wait
  of a job joining at any later time is known *if nothing else arrives
  first*.

With a topology the oracle also chooses the server: for every server the
device reaches it knows the wired route, the server's exact present and the
request's multiplier there, and takes the best (split, exit, server).

It does not include jobs that reach the server after the decision (other
devices' requests, background jobs, or this device's own earlier requests
still uploading), nor the effect of its choice on later requests: it is a
per-request (greedy) optimum, exact when the server sees no such arrival
(``last_prediction`` then equals the realised latency).

The decision space: every split ``s = 0..L`` combined with an exit choice,
per ``exits``:

* ``correct`` (default): the final layer, or leaving at any one head whose
  answer is correct — or at any head when the final layer is wrong too —
  so the oracle is never less accurate than final-layer inference and is
  faster than any decision at least as accurate on that request;
* ``configured``: the scenario's thresholds (only the split is chosen,
  knowing where the request will leave): the bound for policies that use
  those thresholds;
* ``none``: no early exits: the bound for split-only policies.

``objective`` picks what is minimised: realised latency (default), device
energy, or the weighted sum (as for Neurosurgeon).  Ties go to the smaller
split, then to the final layer, then to the earlier head.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from simulator.schedulers.base import Decision, HindsightServer, Observation, Scheduler
from simulator.schedulers.neurosurgeon import ObjectiveParams


class OracleParams(ObjectiveParams):
    exits: Literal["correct", "configured", "none"] = Field(default="correct", description=(
        "correct: may leave at a head whose answer is right (or any head if the final "
        "layer is wrong); configured: the scenario's thresholds; none: no early exits."))


class Oracle(Scheduler):
    """Per-request hindsight optimum over (split, exit) — a lower bound, not a policy."""

    Params = OracleParams
    clairvoyant = True
    sets_thresholds = True

    def prepare(self, system, rng) -> None:
        super().prepare(system, rng)
        self.blocks = list(system.exit_blocks)
        self.head_flops = [float(f) for f in system.head_flops]
        self.cum = system.device_flops.tolist()
        self.up_bits = (8.0 * system.up_bytes).tolist()
        self.down_bits = 8.0 * float(system.down_bytes[0])
        self.n_heads = len(self.blocks)
        self.last_prediction = math.nan

    def exit_choices(self, rid: int) -> list[tuple[float, ...]]:
        """The threshold vectors the oracle may pick for request ``rid``."""
        off = (math.inf,) * self.n_heads
        mode = self.params.exits
        if mode == "none" or not self.n_heads:
            return [off]
        if mode == "configured":
            return [tuple(self.system.thresholds)]
        correct = self.hindsight.correct[rid]
        final_right = bool(correct[-1])
        choices = [off]
        for j in range(self.n_heads):
            if correct[j] or not final_right:
                t = list(off)
                t[j] = 0.0  # every confidence is ≥ 0: leave here
                choices.append(tuple(t))
        return choices

    def realise(self, split: int, thresholds, conf) -> tuple[bool, float, float]:
        """(left on the device, device FLOP, server FLOP) — the engine's rule, per request."""
        heads = 0.0
        for j, block in enumerate(self.blocks):
            if block > split:
                break
            if thresholds[j] != math.inf:
                heads += self.head_flops[j]
                if conf[j] >= thresholds[j]:
                    return True, self.cum[block] + heads, 0.0
        device = self.cum[split] + heads
        if split == self.system.depth:
            return True, device, 0.0
        heads = 0.0
        base = self.cum[split]
        for j, block in enumerate(self.blocks):
            if block <= split or thresholds[j] == math.inf:
                continue
            heads += self.head_flops[j]
            if conf[j] >= thresholds[j]:
                return False, device, self.cum[block] - base + heads
        return False, device, self.cum[-1] - base + heads

    def outcome(self, obs: Observation, split: int, thresholds,
                server: HindsightServer | None = None) -> tuple[float, float]:
        """Realised (latency from now, device energy) of one decision (on ``server``)."""
        h = self.hindsight
        sysm = self.system
        rid = obs.request
        local, dev_flops, srv_flops = self.realise(split, thresholds, h.confidence[rid])
        mult = 1.0 if h.device_multiplier is None else float(h.device_multiplier[rid])
        compute = dev_flops / sysm.device_speed_flops * mult
        compute_j = sysm.compute_power_w * compute
        if local:
            return compute, compute_j
        half = sysm.rtt_s / 2.0
        t1 = obs.now_s + compute
        rrc = sysm.rrc
        promotion = 0.0
        if rrc is not None and obs.radio_since_s + compute >= rrc.tail_s:
            promotion = rrc.promotion_s  # the radio will be idle: promote first
        t1 += promotion
        bits = self.up_bits[split]
        tx = h.uplink.transfer_duration(t1, bits)
        tx_j = float(sysm.radio.watts(bits / tx)) * tx if tx > 0 else 0.0
        arrive = t1 + tx + half
        if server is None:
            speed, mults, free, wired_down = (sysm.server_speed_flops, h.server_multiplier,
                                              self._free, 0.0)
        else:  # through a topology: the wired route both ways
            arrive += server.route.transfer_s(bits)
            speed, mults, free = server.speed_flops, server.multiplier, self._frees[server.index]
            wired_down = server.route.transfer_s(self.down_bits)
        start = max(arrive, free)
        done = start + srv_flops / speed * float(mults[rid]) + wired_down
        rx_start = done
        if rrc is not None and done - (t1 + tx) >= rrc.tail_s:
            rx_start += rrc.promotion_s  # the radio went idle while the server worked
        rx = h.downlink.transfer_duration(rx_start, self.down_bits)
        back = rx_start + rx + half
        latency = back - obs.now_s
        energy = compute_j + tx_j + sysm.idle_power_w * (latency - compute - tx)
        if rrc is not None:  # the marginal radio cost, as SystemModel._rrc_j
            catch_up = (rrc.promotion_j + rrc.tail_j if promotion > 0.0
                        else rrc.tail_w * (obs.radio_since_s + compute))
            connected = (rrc.tail_j + rrc.promotion_j if rx_start > done
                         else rrc.tail_w * (done - (t1 + tx)))
            rx_j = rrc.receive_w(self.down_bits / rx) * rx if rx > 0 else 0.0
            energy += catch_up + connected + rx_j
        return latency, energy

    def decide(self, obs: Observation) -> Decision:
        h = self.hindsight
        servers: tuple[HindsightServer | None, ...] = h.servers or (None,)
        if h.servers:
            self._frees = {s.index: s.free_at(obs.now_s) for s in h.servers}
        else:
            self._free = h.server_free_at(obs.now_s)
        p = self.params
        best, best_cost, best_latency = None, math.inf, math.nan
        for split in range(self.system.depth + 1):
            for thresholds in self.exit_choices(obs.request):
                for server in servers:
                    latency, energy = self.outcome(obs, split, thresholds, server)
                    if p.objective == "latency":
                        cost = latency
                    elif p.objective == "energy":
                        cost = energy
                    else:
                        cost = p.weight * latency + (1.0 - p.weight) * energy / p.energy_scale_j
                    if cost < best_cost:
                        best, best_cost, best_latency = (split, thresholds, server), cost, latency
        if best is None:  # every option infinite (e.g. a dead link): stay local
            best = (self.system.depth, (math.inf,) * self.n_heads, None)
        self.last_prediction = best_latency
        server = best[2]
        return Decision(split=best[0], thresholds=best[1],
                        server=None if server is None else server.index)
