"""The radio's RRC state machine: idle → promotion → active → tail → idle.

Why a state machine: a cellular radio is not off between transfers.  From
RRC_IDLE it first needs a *promotion* (signalling to set up a connection, a
fixed delay at a promotion power) before any byte moves; after its last
transfer it stays connected for an inactivity *tail* at a high power before
it drops back to idle.  For small, sporadic payloads — a split-computing
request every few seconds — promotion and tail cost more than the transfer
itself (Huang et al., MobiSys 2012, §6: the tail is "a key contributor").

The machine is per device; the engine tells it when an uplink or downlink
activity of a request begins and ends (``begin``/``end``).  States:

- **idle** (RRC_IDLE): ``idle_w``, the radio's own draw (paging DRX).
- **promotion**: ``promotion_s`` at ``promotion_w``; an activity that finds the
  radio idle waits for it, and one that arrives during it waits for its end.
- **active**: from the end of the promotion (or the start of an activity in
  the tail) until no activity is under way.  Transmitting is charged by the
  engine at the throughput-dependent transmit power (``power.radio``);
  receiving the result at ``receive_w(rate)``; waiting for a turn on a shared
  (FIFO) uplink at ``tail_w`` (connected, data buffered, nothing sent).
- **tail**: ``tail_s`` at ``tail_w`` after the last activity ended; an
  activity starting in the tail cuts it and goes straight to active with no
  promotion.  The tail ends in idle.

Energy attribution (so that per-request radio energies sum to the device's):
a request pays the promotion it triggered, its own transmit, receive and
shared-uplink waiting energy, and every tail that begins when *its* activity
is the last to end — up to the next activity that cuts it, or in full.  The
tail after the last activity of a replication runs in full (nothing can cut
it), even past the end of the run.  The idle radio draw belongs to no request.

Units: s, W, J, bit/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Published RRC parameters, selectable as ``power.rrc: <name>`` (unit strings,
#: validated like any scenario field; fields written beside ``preset:`` override).
#:
#: Source: J. Huang, F. Qian, A. Gerber, Z. M. Mao, S. Sen, O. Spatscheck,
#: "A Close Examination of Performance and Power Characteristics of 4G LTE
#: Networks", MobiSys 2012.  Table 3 (power model, phone with screen off, whose
#: 11.4 mW base is included in every power below) and Table 4 (data transfer
#: power: P = α_u·t_u + α_d·t_d + β).
#:
#: - lte: promotion 260.1 ms at 1210.7 mW; tail (tail base) 11576.0 ms at
#:   1060.0 mW; RRC_IDLE wakes for paging DRX at 594.3 mW for 43.2 ms every
#:   1280.2 ms, on average 594.3 × 43.2 / 1280.2 = 20.05 mW; downlink
#:   α_d = 51.97 mW/Mbps, β = 1288.04 mW.  The connected-mode DRX wake-ups inside
#:   the tail (1680 mW for 1 ms every 20–40 ms) are not modelled: under 3% of the
#:   tail power.
#: - wifi: promotion 79.1 ms at 124.4 mW; tail 238.1 ms at 119.3 mW; idle beacon
#:   reception at 77.2 mW for 7.6 ms every 308.2 ms, on average
#:   77.2 × 7.6 / 308.2 = 1.90 mW; downlink α_d = 137.01 mW/Mbps, β = 132.86 mW.
#:
#: 3G is not offered: its RRC machine has two tails (DCH then FACH) with a
#: promotion from FACH too, which this single-tail machine does not represent.
RRC_PRESETS: dict[str, dict[str, object]] = {
    "lte": {"promotion": "260.1 ms", "promotion_power": "1210.7 mW",
            "tail": "11576.0 ms", "tail_power": "1060.0 mW", "idle_power": "20.05 mW",
            "receive": {"model": "linear", "a": "51.97 mW/Mbps", "b": "1288.04 mW"}},
    "wifi": {"promotion": "79.1 ms", "promotion_power": "124.4 mW",
             "tail": "238.1 ms", "tail_power": "119.3 mW", "idle_power": "1.90 mW",
             "receive": {"model": "linear", "a": "137.01 mW/Mbps", "b": "132.86 mW"}},
}


@dataclass(frozen=True)
class RrcParams:
    """The machine's parameters in SI units (s, W, W per bit/s)."""

    promotion_s: float
    promotion_w: float
    tail_s: float
    tail_w: float
    idle_w: float = 0.0
    receive_a_w_per_bps: float = 0.0
    receive_b_w: float = 0.0

    @property
    def promotion_j(self) -> float:
        """Energy of one promotion (J)."""
        return self.promotion_w * self.promotion_s

    @property
    def tail_j(self) -> float:
        """Energy of one full tail (J)."""
        return self.tail_w * self.tail_s

    def receive_w(self, rate_bps: float) -> float:
        """Power while receiving at ``rate_bps`` (W): ``a·rate + b``."""
        if self.receive_a_w_per_bps == 0.0:
            return self.receive_b_w
        return self.receive_a_w_per_bps * rate_bps + self.receive_b_w


#: The per-device columns the machine adds to devices.parquet, in order.
RADIO_COLUMNS = ("promotions", "promotion_s", "promotion_j", "active_s", "queued_s",
                 "queued_j", "receive_s", "receive_j", "tail_s", "tail_j", "radio_idle_s",
                 "radio_idle_j")


class RadioStateMachine:
    """One device's radio during a replication (see the module docstring).

    The engine calls ``begin`` when an activity (an uplink transfer, or the
    reception of a result) is about to start — it returns how long to wait for
    the promotion — and ``end`` when it is over.  Nothing is scheduled: tail
    expiry is settled lazily, at the next ``begin`` or at ``finish``.
    """

    def __init__(self, params: RrcParams) -> None:
        self.params = params
        self._active = 0                  # activities under way or waiting for the promotion
        self._promotion_end = -math.inf
        self._active_since = 0.0
        self._tail_start: float | None = None  # end of the last activity, tail unsettled
        self._tail_owner = -1
        self._idle_since: float | None = 0.0   # the radio starts in RRC_IDLE
        self._last_end = -math.inf
        self._pending: dict[int, float] = {}   # charges of requests not yet recorded
        self._late: dict[int, float] = {}      # charges after the request's record
        self._recorded: set[int] = set()
        self.promotions = 0
        self.promotion_s = self.promotion_j = 0.0
        self.active_s = self.queued_s = self.queued_j = 0.0
        self.receive_s = self.receive_j = 0.0
        self.tail_s = self.tail_j = 0.0
        self.idle_s = 0.0

    # ------------------------------------------------------------ transitions

    def since(self, now: float) -> float:
        """Time since the radio's last activity ended (s); 0 while one is under way, inf before."""
        if self._active:
            return 0.0
        return now - self._last_end

    def begin(self, now: float, rid: int) -> float:
        """Request ``rid`` starts an activity at ``now``; returns the promotion wait (s)."""
        p = self.params
        if self._active:  # active, or promoting for another request: join
            self._active += 1
            return max(0.0, self._promotion_end - now)
        self._active = 1
        if self._tail_start is not None:
            expiry = self._tail_start + p.tail_s
            if now < expiry:  # in the tail: cut it, no promotion
                self._settle_tail(now)
                self._active_since = now
                return 0.0
            self._settle_tail(expiry)
            self._idle_since = expiry
        self.idle_s += now - self._idle_since
        self._idle_since = None
        self.promotions += 1
        self.promotion_s += p.promotion_s
        self.promotion_j += p.promotion_j
        self._charge(rid, p.promotion_j)
        self._promotion_end = now + p.promotion_s
        self._active_since = self._promotion_end
        return p.promotion_s

    def end(self, now: float, rid: int) -> None:
        """Request ``rid``'s activity ended at ``now``; the last one to end owns the tail."""
        self._active -= 1
        if self._active == 0:
            self.active_s += now - self._active_since
            self._tail_start = self._last_end = now
            self._tail_owner = rid

    def queued(self, rid: int, seconds: float) -> None:
        """``rid`` waited ``seconds`` for its turn on a shared uplink: connected, at tail power."""
        joules = self.params.tail_w * seconds
        self.queued_s += seconds
        self.queued_j += joules
        self._charge(rid, joules)

    def received(self, rid: int, seconds: float, rate_bps: float) -> None:
        """``rid`` received its result for ``seconds`` at ``rate_bps``."""
        joules = self.params.receive_w(rate_bps) * seconds if seconds > 0.0 else 0.0
        self.receive_s += seconds
        self.receive_j += joules
        self._charge(rid, joules)

    def finish(self, end: float) -> dict[str, float]:
        """Close the run at ``end`` (the last tail runs in full); returns the RADIO_COLUMNS."""
        if self._tail_start is not None:
            expiry = self._tail_start + self.params.tail_s
            self._settle_tail(expiry)
            self._idle_since = expiry
        if self._idle_since is not None and end > self._idle_since:
            self.idle_s += end - self._idle_since
            self._idle_since = end
        values = {name: getattr(self, name) for name in RADIO_COLUMNS[:-2]}
        values["radio_idle_s"] = self.idle_s
        values["radio_idle_j"] = self.params.idle_w * self.idle_s
        return values

    # ------------------------------------------------------------ energy per request

    def settle(self, rid: int) -> float:
        """Radio energy charged to ``rid`` so far (J), as its record is written.

        Later charges (the tail after its last activity) go to ``late_charges``.
        """
        self._recorded.add(rid)
        return self._pending.pop(rid, 0.0)

    def late_charges(self) -> dict[int, float]:
        """Energy (J) charged to requests after their record was written: their tails."""
        return self._late

    # ------------------------------------------------------------ internals

    def _settle_tail(self, stop: float) -> None:
        seconds = stop - self._tail_start
        joules = self.params.tail_w * seconds
        self.tail_s += seconds
        self.tail_j += joules
        self._charge(self._tail_owner, joules)
        self._tail_start = None

    def _charge(self, rid: int, joules: float) -> None:
        if rid in self._recorded:
            self._late[rid] = self._late.get(rid, 0.0) + joules
        else:
            self._pending[rid] = self._pending.get(rid, 0.0) + joules
