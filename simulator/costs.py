"""Vectorised per-split predictions of latency, device energy and accuracy.

Why one module: every model-based policy (Neurosurgeon, dynamic split,
deadline, energy under SLO, early exit) needs the same arithmetic — for each
split ``s = 0..L``, how long the device computes, how many bytes go up, how
long the server computes, what the radio costs, and, once exit heads are on,
how likely a request is to leave before the cut and how often it is then
right.  Computing it once per device as numpy arrays makes a decision a
handful of vector operations, and no policy computes it its own way.

Exits enter through an ``ExitOutlook``: for given thresholds, the expected
FLOP on the device, the probability of offloading and the expected server
FLOP of each split, derived from the profile's exit model by ``ExitModel``
(parametric: exact Beta integrals; trace: the empirical distribution).  With
exits off the predictions are the plain backbone ones.  Server times are
nominal (mean) service times; the engine draws the randomness.
Units: s, bit/s, byte, FLOP, W, J.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import betainc, betaincinv

from profiles.model import ModelProfile
from simulator.radio import RrcParams

#: A threshold above every confidence: the head runs (and costs) but never answers.
OBSERVE_ONLY = 2.0


@dataclass(frozen=True)
class RadioPower:
    """Transmit power ``P = a·rate + b`` (W, with ``a`` in W per bit/s).

    A constant power is ``a = 0``.  Huang et al. (MobiSys 2012) measured
    LTE uplink at a = 438.39 mW/Mbps, b = 1288.04 mW.
    """

    a_w_per_bps: float = 0.0
    b_w: float = 0.0

    def watts(self, rate_bps: float | np.ndarray) -> float | np.ndarray:
        if self.a_w_per_bps == 0.0:
            return self.b_w
        return self.a_w_per_bps * rate_bps + self.b_w


# ------------------------------------------------------------------ exits


@dataclass(frozen=True)
class ExitModel:
    """Where a request leaves, and how often it is right there, for given thresholds.

    The same model the engine samples from (``simulator.exits``): the exit
    taken is the first enabled head (block order) whose confidence reaches
    its threshold, else the final layer — whatever the split.

    - parametric: one latent ``u ~ U(0,1)`` drives every head's confidence
      ``G_j⁻¹(u)`` (``G_j`` the Beta CDF with mean = the head's accuracy), so
      head ``j`` answers iff ``u ≥ q_j = G_j(t_j)``; a request leaves at ``j``
      with probability ``max(0, m_j − q_j)``, ``m_j`` the smallest ``q`` of the
      enabled heads before it, and is right there with probability
      ``∫_{q_j}^{m_j} G_j⁻¹(u) du`` (calibrated heads), a partial Beta mean.
    - trace: the empirical frequencies over the evaluated samples, which the
      engine draws uniformly.
    """

    n_heads: int
    beta_params: tuple[tuple[float, float], ...] | None  # heads then final; parametric only
    confidence: np.ndarray | None                       # trace: samples × (heads + final)
    correct: np.ndarray | None

    @classmethod
    def from_profile(cls, model: ModelProfile) -> ExitModel:
        heads = [b.exit for b in model.blocks if b.exit is not None]
        if model.exit_trace is not None:
            return cls(len(heads), None, np.asarray(model.exit_trace.confidence, float),
                       np.asarray(model.exit_trace.correct, bool))
        if any(h.model is None for h in heads):  # the engine refuses such a profile
            return cls(len(heads), None, None, None)
        params = tuple((h.model.accuracy, h.model.concentration) for h in heads)
        params += ((model.final_accuracy, model.final_concentration),)
        return cls(len(heads), params, None, None)

    def distribution(self, thresholds: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """``(p, right)``, one entry per head and last the final layer.

        ``p[j]`` = P(the request leaves at ``j``); ``right[j]`` = P(it leaves at
        ``j`` and is right).  ``math.inf`` disables a head.
        """
        t = np.asarray(thresholds, float)
        if len(t) != self.n_heads:
            raise ValueError(f"{len(t)} thresholds for {self.n_heads} exit heads")
        if self.confidence is not None:
            return self._empirical(t)
        if self.beta_params is None:  # heads without an exit model: treat them as off
            p = np.zeros(self.n_heads + 1)
            p[-1] = 1.0
            return p, p * 0.0
        return self._parametric(t)

    def _empirical(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        conf, right = self.confidence, self.correct
        n, width = conf.shape
        leaves = conf[:, :-1] >= t[None, :]          # inf never reached
        col = np.where(leaves.any(axis=1), leaves.argmax(axis=1), width - 1)
        p = np.bincount(col, minlength=width) / n
        r = np.bincount(col, weights=right[np.arange(n), col], minlength=width) / n
        return p, r

    def _parametric(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = np.zeros(self.n_heads + 1)
        r = np.zeros(self.n_heads + 1)
        m = 1.0  # requests with u < m have not left yet
        for j in range(self.n_heads):
            if math.isinf(t[j]):
                continue
            a, k = self.beta_params[j]
            q = _beta_cdf(t[j], a, k)
            if m > q:
                p[j] = m - q
                r[j] = _partial_mean(q, m, a, k)
                m = q
        a, k = self.beta_params[-1]
        p[-1] = m
        r[-1] = _partial_mean(0.0, m, a, k)
        return p, r


def _beta_cdf(x: float, accuracy: float, concentration: float) -> float:
    """P(confidence < x) for the calibrated Beta(κa, κ(1−a)) confidence."""
    if accuracy >= 1.0 or accuracy <= 0.0:  # a constant confidence c = accuracy
        return 0.0 if x <= accuracy else 1.0
    return float(betainc(concentration * accuracy, concentration * (1.0 - accuracy), x))


def _partial_mean(q: float, m: float, accuracy: float, concentration: float) -> float:
    """∫_q^m G⁻¹(u) du: the mean confidence mass of the quantile band [q, m)."""
    if m <= q:
        return 0.0
    if accuracy >= 1.0 or accuracy <= 0.0:
        return accuracy * (m - q)
    a, b = concentration * accuracy, concentration * (1.0 - accuracy)
    lo, hi = betaincinv(a, b, [q, m])
    # ∫ x f_{a,b}(x) dx = a/(a+b) · [F_{a+1,b}(hi) − F_{a+1,b}(lo)]
    upper, lower = betainc(a + 1.0, b, [hi, lo])
    return float(accuracy * (upper - lower))


@dataclass(frozen=True)
class ExitOutlook:
    """Per-split expectations (arrays over ``s = 0..L``) for one choice of thresholds.

    ``device_flops``: expected FLOP on the device (blocks up to the exit or
    the cut, plus every head that runs); ``p_offload``: probability that the
    request crosses the cut (it did not leave on the device; 0 for ``s = L``);
    ``server_flops``: E[server FLOP · 1{offloaded}]; ``accuracy``: expected
    accuracy; ``p_exit``: probability of leaving at an early exit anywhere.
    """

    thresholds: tuple[tuple[float, ...], ...]  # the thresholds used at each split
    device_flops: np.ndarray
    p_offload: np.ndarray
    server_flops: np.ndarray
    accuracy: np.ndarray
    p_exit: np.ndarray


# ------------------------------------------------------------------ system model


@dataclass(frozen=True)
class WiredRoute:
    """A server behind a topology, as the cost model needs it.

    ``latency_s``: one-way wired latency from the device's access point (s);
    ``rate_bps``: the path's effective rate ``1 / Σ 1/rate_i`` (bit/s, inf =
    no serialisation); ``speed_flops``: the server's mean worker speed
    (FLOP/s).  The server's backlog is passed to ``latency`` / ``energy`` as
    ``server_backlog_s``, as without a topology.
    """

    latency_s: float
    rate_bps: float
    speed_flops: float

    def round_trip_s(self, up_bytes: np.ndarray, down_bytes: np.ndarray) -> np.ndarray:
        """Wired time (s) of the payload there and the result back, per split."""
        return 2.0 * self.latency_s + _transfer_s(up_bytes + down_bytes, self.rate_bps)


@dataclass(frozen=True)
class SystemModel:
    """One device's view of the system, as arrays indexed by split ``s = 0..L``."""

    depth: int
    device_flops: np.ndarray      # FLOP run on the device for split s (backbone)
    server_flops: np.ndarray      # FLOP run on the server for split s (backbone)
    up_bytes: np.ndarray          # bytes crossing the cut (0 for device-only)
    down_bytes: np.ndarray        # result bytes sent back (0 for device-only)
    natural_bottlenecks: tuple[int, ...]  # splits at natural bottlenecks, plus 0 and L
    exit_blocks: tuple[int, ...]  # 1-based blocks with an exit head
    device_speed_flops: float
    server_speed_flops: float
    server_workers: int
    compute_power_w: float
    idle_power_w: float
    radio: RadioPower
    rtt_s: float
    head_flops: np.ndarray = field(default_factory=lambda: np.zeros(0))
    exits: ExitModel | None = None
    #: The scenario's thresholds (``scheduler.thresholds``), one per head; inf = off.
    thresholds: tuple[float, ...] = ()
    #: True when the heads after the cut are off (the server runs to the final layer).
    exits_device_side: bool = False
    #: The radio's RRC state machine (promotion, tail), or None: transmit energy only.
    rrc: RrcParams | None = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, model: ModelProfile, *, device_speed: float, server_speed: float,
              server_workers: int, compute_power_w: float, idle_power_w: float,
              radio: RadioPower, rtt_s: float,
              thresholds: Sequence[float] | None = None,
              rrc: RrcParams | None = None) -> SystemModel:
        flops = np.array([2.0 * b.effective_macs for b in model.blocks])
        device = np.concatenate([[0.0], np.cumsum(flops)])
        total = device[-1]
        up = np.array([model.input_bytes] + [b.output_bytes for b in model.blocks[:-1]] + [0.0])
        down = np.full(model.depth + 1, model.downlink_bytes)
        down[-1] = 0.0
        natural = sorted({0, model.depth} | {i + 1 for i, b in enumerate(model.blocks)
                                             if b.natural_bottleneck})
        exit_blocks = model.exit_blocks
        heads = np.array([2.0 * model.blocks[b - 1].exit.macs for b in exit_blocks])
        configured = (tuple(float(x) for x in thresholds) if thresholds is not None
                      else (math.inf,) * len(exit_blocks))
        return cls(depth=model.depth, device_flops=device, server_flops=total - device,
                   up_bytes=up, down_bytes=down, natural_bottlenecks=tuple(natural),
                   exit_blocks=exit_blocks, device_speed_flops=device_speed,
                   server_speed_flops=server_speed, server_workers=server_workers,
                   compute_power_w=compute_power_w, idle_power_w=idle_power_w, radio=radio,
                   rtt_s=rtt_s, head_flops=heads, exits=ExitModel.from_profile(model),
                   thresholds=configured, rrc=rrc)

    # -------------------------------------------------------------- exits

    @property
    def configured(self) -> ExitOutlook:
        """The outlook for the scenario's thresholds (what ``Decision(thresholds=None)`` runs)."""
        hit = self._cache.get(None)
        if hit is None:
            hit = self._cache[None] = self.outlook(self.thresholds,
                                                   device_side_only=self.exits_device_side)
        return hit

    def outlook(self, thresholds: Sequence[float], *, device_side_only: bool = False
                ) -> ExitOutlook:
        """Per-split expectations for ``thresholds`` (cached).

        With ``device_side_only`` the heads after the cut are off at each split
        (the server always runs to the final layer).
        """
        key = (tuple(float(x) for x in thresholds), device_side_only)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._outlook(*key)
        return hit

    def _outlook(self, thresholds: tuple[float, ...], device_side_only: bool) -> ExitOutlook:
        n = self.depth + 1
        if len(thresholds) != len(self.exit_blocks):
            raise ValueError(f"{len(thresholds)} thresholds for {len(self.exit_blocks)} "
                             f"exit heads")
        blocks = np.asarray(self.exit_blocks, int)
        cum = self.device_flops
        dev, p_off, srv, acc, p_exit = (np.zeros(n) for _ in range(5))
        used = []
        dist = None if device_side_only else self._distribution(thresholds)
        for s in range(n):
            t = thresholds
            if device_side_only:
                t = tuple(x if b <= s else math.inf for x, b in zip(thresholds, blocks,
                                                                     strict=True))
                p, right = self._distribution(t)
            else:
                p, right = dist
            used.append(t)
            enabled = np.isfinite(np.asarray(t, float))
            reach = 1.0 - np.concatenate([[0.0], np.cumsum(p[:-1])])[:-1]  # reach head j
            head_cost = np.where(enabled, reach * self.head_flops, 0.0)
            on_device = blocks <= s
            leave_dev = float(p[:-1][on_device].sum())
            stay = 1.0 - leave_dev
            dev[s] = (float((p[:-1] * cum[blocks])[on_device].sum()) + stay * cum[s]
                      + float(head_cost[on_device].sum()))
            if s < self.depth:
                p_off[s] = stay
                srv[s] = (float((p[:-1] * (cum[blocks] - cum[s]))[~on_device].sum())
                          + p[-1] * (cum[-1] - cum[s]) + float(head_cost[~on_device].sum()))
            acc[s] = float(right.sum())
            p_exit[s] = 1.0 - p[-1]
        return ExitOutlook(tuple(used), dev, p_off, srv, acc, p_exit)

    def _distribution(self, thresholds: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        if self.exits is None:
            p = np.zeros(len(self.exit_blocks) + 1)
            p[-1] = 1.0
            return p, p * 0.0
        return self.exits.distribution(thresholds)

    # -------------------------------------------------------------- predictions

    def latency(self, uplink_bps: float, downlink_bps: float, server_backlog_s: float,
                outlook: ExitOutlook | None = None, radio_since_s: float = math.inf,
                route: WiredRoute | None = None
                ) -> np.ndarray:
        """Predicted (expected) latency (s) of each split, excluding the device queue.

        ``outlook`` defaults to the scenario's thresholds; with exits off this is
        device compute + (uplink + rtt + backlog + server compute + downlink)
        for every split but ``L``.  With an RRC state machine an offload adds
        the promotion delay when the radio will be idle as the transfer starts
        (see ``_promotes``; ``radio_since_s`` is ``Observation.radio_since_s``).
        With a ``route`` (a server behind a topology) the server computes at the
        route's speed and the payload and the result also cross its wired path,
        each way ``latency + bits / rate``.
        """
        o = self.configured if outlook is None else outlook
        device_s = o.device_flops / self.device_speed_flops
        network_s = (_transfer_s(self.up_bytes, uplink_bps)
                     + _transfer_s(self.down_bytes, downlink_bps) + self.rtt_s)
        if self.rrc is not None:
            network_s = network_s + self.rrc.promotion_s * self._promotes(device_s,
                                                                          radio_since_s)
        speed = self.server_speed_flops
        if route is not None:
            network_s = network_s + route.round_trip_s(self.up_bytes, self.down_bytes)
            speed = route.speed_flops
        return (device_s + _weighted(o.p_offload, network_s + server_backlog_s)
                + o.server_flops / speed)

    def energy(self, uplink_bps: float, downlink_bps: float, server_backlog_s: float,
               outlook: ExitOutlook | None = None, radio_since_s: float = math.inf,
               route: WiredRoute | None = None) -> np.ndarray:
        """Predicted device energy (J) of each split: compute + transmit + idle waiting.

        With a ``route`` the wired transfers and the route's server speed count
        as waiting (the radio does not send while the payload crosses the
        wires).  With an RRC state machine an offload also pays its radio's
        marginal cost (``_rrc_j``), the radio staying connected while it waits.
        """
        o = self.configured if outlook is None else outlook
        compute_j = self.compute_power_w * o.device_flops / self.device_speed_flops
        tx_s = _transfer_s(self.up_bytes, uplink_bps)
        tx_j = float(self.radio.watts(uplink_bps)) * tx_s if np.isfinite(uplink_bps) else 0 * tx_s
        wired_s = 0.0
        speed = self.server_speed_flops
        if route is not None:
            wired_s = route.round_trip_s(self.up_bytes, self.down_bytes)
            speed = route.speed_flops
        away_s = server_backlog_s + wired_s
        wait_s = (_weighted(o.p_offload, away_s + self.rtt_s
                            + _transfer_s(self.down_bytes, downlink_bps))
                  + o.server_flops / speed)
        if self.rrc is None:
            return compute_j + _weighted(o.p_offload, tx_j) + self.idle_power_w * wait_s
        device_s = o.device_flops / self.device_speed_flops
        promotes = self._promotes(device_s, radio_since_s)
        wait_s = wait_s + _weighted(o.p_offload, self.rrc.promotion_s * promotes)
        return (compute_j + _weighted(o.p_offload, tx_j) + self.idle_power_w * wait_s
                + self._rrc_j(o, device_s, promotes, downlink_bps, away_s,
                              radio_since_s, speed))

    def _promotes(self, device_s: np.ndarray, radio_since_s: float) -> np.ndarray:
        """1.0 where the radio will be idle when the uplink starts, else 0.0.

        The radio's last activity ended ``radio_since_s`` ago; the transfer
        starts after the device part, ``device_s`` from now, so the radio will
        have gone idle if ``radio_since_s + device_s`` reaches the tail.  Other
        transfers of the device that may start meanwhile are not foreseen, and
        the result is assumed to come back within the tail (no second promotion).
        """
        return (radio_since_s + device_s >= self.rrc.tail_s).astype(float)

    def _rrc_j(self, o: ExitOutlook, device_s: np.ndarray, promotes: np.ndarray,
               downlink_bps: float, away_s: float, radio_since_s: float,
               server_speed_flops: float) -> np.ndarray:
        """Expected marginal RRC energy (J) of each split, beyond transmit energy.

        Offloading keeps the radio connected from the end of its last activity
        until the result is received, then for a full tail; without the
        offload it would have dropped to idle one tail after its last activity.
        So an offload pays: if the radio will be idle, a promotion and a full
        tail; otherwise the tail power over the time since the last activity
        (``radio_since_s + device_s``).  Plus, at tail power, the connected wait
        for the server (``away_s`` = backlog and wired path, the rtt, server
        compute at ``server_speed_flops``), and the reception of the result at
        the receive power.  This is the marginal cost if nothing else is sent;
        the engine's per-request attribution (``simulator.radio``) splits
        shared tails differently, so the two differ when transfers are closer
        together than the tail.
        """
        r = self.rrc
        since = radio_since_s + device_s
        catch_up = np.where(promotes > 0.0, r.promotion_j + r.tail_j,
                            r.tail_w * np.where(np.isfinite(since), since, 0.0))
        rx_s = _transfer_s(self.down_bytes, downlink_bps)
        rx_j = (r.receive_w(downlink_bps) * rx_s if np.isfinite(downlink_bps)
                else 0.0 * rx_s)
        per_offload = catch_up + r.tail_w * (away_s + self.rtt_s) + rx_j
        return (_weighted(o.p_offload, per_offload)
                + r.tail_w * o.server_flops / server_speed_flops)


def _weighted(p: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """``p · cost`` where a cost that never happens (p = 0) counts 0, even if infinite."""
    return np.where(p > 0.0, p * cost, 0.0)


def _transfer_s(nbytes: np.ndarray, rate_bps: float) -> np.ndarray:
    """Transmission time of each payload at a constant rate (0 on an ideal link)."""
    if not np.isfinite(rate_bps):
        return np.zeros_like(nbytes)
    if rate_bps <= 0:
        return np.where(nbytes > 0, np.inf, 0.0)
    return 8.0 * nbytes / rate_bps
