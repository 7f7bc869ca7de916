"""An uplink shared by the devices of a cell: FIFO or processor sharing.

Why: when many devices offload at once the radio link, not the server, is
often the bottleneck, and how the cell shares it changes the answer.  Two
disciplines (``channel.sharing``):

- ``fifo``: one transfer at a time, in order of arrival; the others wait.
- ``ps``: processor sharing, every active transfer gets an equal share of
  the link's current rate (fair scheduling across users of a cell).

Both ride on the same time-varying ``Link`` (one realisation for the cell),
so a fade slows everyone.  ``send`` is a SimPy sub-process; it returns when
the last bit is through, with the time the device's radio started
transmitting (under FIFO it starts when its turn comes; under PS at once).

Units: s, bits.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import Any

import simpy

from simulator.channel import Link
from simulator.fifo import FifoStation


class FifoUplink:
    """One transfer at a time, first come first served."""

    def __init__(self, env: simpy.Environment, link: Link) -> None:
        self.env = env
        self.link = link
        self.station = FifoStation(env, 1)

    def send(self, bits: float) -> Generator[Any, Any, float]:
        """Queue, then transmit ``bits``; returns the time transmission started."""
        wait = self.station.acquire()
        if wait is not None:
            yield wait
        start = self.env.now
        duration = self.link.transfer_duration(start, bits)
        if duration > 0.0:
            yield self.env.timeout(duration)
        self.station.release()
        return start


class ProcessorSharingUplink:
    """Every active transfer gets rate/n, n the number of active transfers.

    Between two changes (a transfer starts or ends) each active transfer
    advances by ``link.bits_between(t0, t1) / n`` bits; after every change the
    next completion is scheduled for the transfer with the fewest bits left.
    Superseded timers are recognised by a version number and ignored.
    """

    # A transfer with fewer bits left than this is done: float residue of the
    # integration, far below one bit.
    _RESIDUE_BITS = 1e-6

    def __init__(self, env: simpy.Environment, link: Link) -> None:
        self.env = env
        self.link = link
        self.active: dict[int, list] = {}  # id → [bits left, event]
        self.updated_at = 0.0
        self.version = 0
        self._ids = itertools.count()

    def send(self, bits: float) -> Generator[Any, Any, float]:
        """Transmit ``bits`` sharing the link; returns the time transmission started."""
        start = self.env.now
        if bits <= 0.0:
            return start
        self._advance(start)
        done = self.env.event()
        key = next(self._ids)
        self.active[key] = [bits, done]
        self._schedule(start)
        yield done
        return start

    @property
    def transfers(self) -> int:
        """Transfers in progress now."""
        return len(self.active)

    def _advance(self, now: float) -> None:
        n = len(self.active)
        if n and now > self.updated_at:
            share = self.link.bits_between(self.updated_at, now) / n
            for entry in self.active.values():
                entry[0] -= share
        self.updated_at = now

    def _schedule(self, now: float) -> None:
        self.version += 1
        if not self.active:
            return
        key, (left, _) = min(self.active.items(), key=lambda item: item[1][0])
        delay = self.link.transfer_duration(now, max(left, 0.0) * len(self.active))
        timer = self.env.timeout(delay)
        version = self.version
        timer.callbacks.append(lambda _event: self._complete(version, key))

    def _complete(self, version: int, key: int) -> None:
        if version != self.version:
            return  # a transfer started or ended since this timer was set
        now = self.env.now
        self._advance(now)
        finished = [k for k, (left, _) in self.active.items()
                    if k == key or left <= self._RESIDUE_BITS]
        for k in finished:
            self.active.pop(k)[1].succeed()
        self._schedule(now)
