"""A FIFO station of ``capacity`` identical servers for SimPy processes.

Why not ``simpy.Resource``: a Resource request is an event even when a
server is free, so every request pays a trip through the event queue.  Here
a free server is taken at once (no event); only a request that must wait
gets an event, and a finishing job hands its server straight to the head of
the queue.  Same FIFO semantics, about half the events per visit.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

import simpy


class FifoStation:
    """``acquire()`` returns ``None`` (got a server now) or an event to yield on."""

    __slots__ = ("busy", "capacity", "env", "waiting")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.waiting: deque[simpy.Event] = deque()

    def acquire(self) -> simpy.Event | None:
        if self.busy < self.capacity:
            self.busy += 1
            return None
        event = self.env.event()
        self.waiting.append(event)
        return event

    def release(self) -> None:
        """Free a server: give it to the longest-waiting job, if any."""
        if self.waiting:
            self.waiting.popleft().succeed()
        else:
            self.busy -= 1

    @property
    def queue_length(self) -> int:
        """Jobs waiting for a server (not counting those in service)."""
        return len(self.waiting)


class WorkerPool:
    """A FIFO queue in front of numbered workers; a job that starts takes the lowest free number.

    Workers are numbered fastest first (``ServerSpec.worker_speeds``), so the
    lowest free number is the fastest free worker.  ``acquire()`` returns that
    number at once (an ``int``, no event) or an event whose value is the number
    handed over by ``release(worker)``; same event economy as ``FifoStation``.
    """

    __slots__ = ("capacity", "env", "free", "waiting")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.free = list(range(capacity))  # a heap of free worker numbers
        self.waiting: deque[simpy.Event] = deque()

    def acquire(self) -> int | simpy.Event:
        if self.free:
            return heappop(self.free)
        event = self.env.event()
        self.waiting.append(event)
        return event

    def release(self, worker: int) -> None:
        """Free ``worker``: give it to the longest-waiting job, if any."""
        if self.waiting:
            self.waiting.popleft().succeed(worker)
        else:
            heappush(self.free, worker)

    @property
    def queue_length(self) -> int:
        """Jobs waiting for a worker (not counting those in service)."""
        return len(self.waiting)
