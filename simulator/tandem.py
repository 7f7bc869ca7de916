"""FIFO recursions for the fast path: a station's start times without an event queue.

Why recursions: when nobody's decision depends on the state of the system,
a FIFO station is fully described by its arrival times and service times.
One server is Lindley's recursion (begin = max(arrival, previous end)); ``c``
workers is Kiefer–Wolfowitz's (each job, in arrival order, takes a worker at
max(arrival, earliest time a worker frees)).  The engine's workers are
numbered fastest first and a starting job takes the *lowest-numbered free*
worker (``simulator.fifo.WorkerPool``), so the recursion keeps one free time
per numbered worker and reproduces that choice, and the service time depends
on the worker: ``work / speed[worker] × multiplier``.

Exactness: every time is computed with the engine's floating-point operations
in the engine's order (a SimPy timeout fires at ``now + delay``; a freed
worker is handed over at the time it frees), so start and end times match the
SimPy engine bit for bit.  Where SimPy's result would depend on the order of
two events at the *same* instant (two jobs reaching the station together, a
job arriving exactly when a worker frees while another is idle, two workers
freeing together while a job waits), the recursion raises
:class:`AmbiguousOrder` instead of guessing; the caller then runs the SimPy
engine.  With continuous random times this has probability zero.

Units: s, FLOP, FLOP/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.background_stream import BackgroundStream


class AmbiguousOrder(Exception):
    """Two events at the same instant whose order SimPy decides by its event queue."""


def lindley(arrivals: np.ndarray, services: np.ndarray, free: float = -math.inf
            ) -> np.ndarray:
    """Start times at a one-server FIFO station, in arrival order (s).

    Lindley: ``begin = arrival`` if the server freed by then (``free``: when it
    frees before the first job), else the previous job's end, and ``end =
    begin + service`` (SimPy's ``now + delay``; ``+ 0.0`` changes nothing).
    Vectorised without changing a bit: first every job is assumed to find
    the server free (``end = arrival + service``); then, in order, only the
    jobs that arrive before their predecessor's end are recomputed, following
    each chain of waiting jobs until one finds the server free again — from
    there on the first guess is exact.  Cost: numpy for all jobs, Python for
    the waiting ones.
    """
    n = len(arrivals)
    begins = arrivals.copy()
    if not n:
        return begins
    ends = arrivals + services
    if arrivals[0] < free:
        begins[0] = free
        ends[0] = free + services[0]
    waiting = (np.flatnonzero(arrivals[1:] < ends[:-1]) + 1).tolist()
    if not waiting:
        return begins
    if 8 * len(waiting) < n:  # few wait: index the arrays (same IEEE doubles, no copies)
        a, s, b, e = arrivals, services, begins, ends
    else:
        a, s = arrivals.tolist(), services.tolist()
        b, e = begins.tolist(), ends.tolist()
    done = 0
    for k in waiting:
        if k <= done:
            continue
        prev = e[k - 1]
        while k < n and a[k] < prev:
            b[k] = prev
            prev = e[k] = prev + s[k]
            k += 1
        done = k - 1
    return b if isinstance(b, np.ndarray) else np.asarray(b)


@dataclass(frozen=True)
class StationStats:
    """What the engine's ``ServerState`` integrates for one server, up to the run's end."""

    busy_area: float        # ∫ busy workers dt (s)
    background_jobs: int    # background jobs finished before the end


class ServerRecursion:
    """One edge server: a FIFO queue in front of numbered workers of given speeds.

    :meth:`serve` takes the requests in the order they reach the server and
    merges in the background jobs (``background``: a
    :class:`~simulator.background_stream.BackgroundStream`, or None) that
    arrive before them; :meth:`finish` serves the background jobs that still
    arrive before the end of the run and integrates the busy time.  ``speeds``
    are FLOP/s per worker, fastest first; a background job is
    ``background_work`` FLOP.
    """

    def __init__(self, speeds: tuple[float, ...], background: BackgroundStream | None,
                 background_work: float) -> None:
        self.speeds = speeds
        self.free = [-math.inf] * len(speeds)  # when each worker frees (-inf: never busy)
        self.background = background
        self.bg_work = background_work
        self.begins: list[np.ndarray] = []    # every job started, in arrival order
        self.ends: list[np.ndarray] = []
        self.bg_ends: list[np.ndarray] = []

    def _take(self, arrive: float) -> tuple[int, float]:
        """(worker, begin) for a job arriving at ``arrive`` after all earlier jobs (c > 1)."""
        free = self.free
        first = -1
        earliest = math.inf
        for w, f in enumerate(free):
            if f == arrive:
                raise AmbiguousOrder("a worker frees exactly when a job arrives")
            if f < arrive and first < 0:
                first = w
            if f < earliest:
                earliest = f
        if first >= 0:
            return first, arrive
        if free.count(earliest) > 1:
            raise AmbiguousOrder("two workers free at the same instant while a job waits")
        return free.index(earliest), earliest

    def _run(self, times: np.ndarray, works: np.ndarray, mults: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        """Serve jobs (sorted by arrival) of ``works`` FLOP × ``mults``: (begins, services)."""
        speeds = self.speeds
        if len(speeds) == 1:
            services = works / speeds[0] * mults
            b = lindley(times, services, self.free[0])
            if len(b):
                self.free[0] = float(b[-1] + services[-1])
        else:
            begins_l, services_l = [], []
            free = self.free
            for a, wk, m in zip(times.tolist(), works.tolist(), mults.tolist(), strict=True):
                w, begin = self._take(a)
                s = wk / speeds[w] * m
                free[w] = begin + s if s > 0.0 else begin
                begins_l.append(begin)
                services_l.append(s)
            b, services = np.asarray(begins_l), np.asarray(services_l)
        self.begins.append(b)
        self.ends.append(b + services)
        return b, services

    def _merged(self, times: np.ndarray, works: np.ndarray, mults: np.ndarray, until: float,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Requests plus the background jobs up to ``until``, in arrival order.

        Returns the merged times, works, multipliers and the requests' positions.
        """
        if self.background is None:
            return times, works, mults, np.arange(len(times))
        bt, bm = self.background.take_before(until)
        all_t = np.concatenate((times, bt))
        order = np.argsort(all_t, kind="stable")
        all_t = all_t[order]
        if np.any(all_t[1:] == all_t[:-1]):
            raise AmbiguousOrder("two jobs reach the server at the same instant")
        all_w = np.concatenate((works, np.full(len(bt), self.bg_work)))[order]
        all_m = np.concatenate((mults, bm))[order]
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        return all_t, all_w, all_m, position[:len(times)]

    def serve(self, arrivals: np.ndarray, works: np.ndarray, mults: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Requests reaching the server at ``arrivals`` (sorted): (begins, services) in s.

        Request ``k`` runs ``works[k]`` FLOP × ``mults[k]`` on the worker it gets.
        """
        if not len(arrivals):
            return np.empty(0), np.empty(0)
        t, w, m, mine = self._merged(arrivals, works, mults, float(arrivals[-1]))
        begins, services = self._run(t, w, m)
        if self.background is not None:
            is_bg = np.ones(len(t), dtype=bool)
            is_bg[mine] = False
            self.bg_ends.append((begins + services)[is_bg])
        return begins[mine], services[mine]

    def finish(self, end: float) -> StationStats:
        """Serve background jobs arriving before ``end``; integrate the busy time up to it."""
        if self.background is not None:
            t, m = self.background.take_before(end)
            keep = t < end
            t, m = t[keep], m[keep]
            begins, services = self._run(t, np.full(len(t), self.bg_work), m)
            self.bg_ends.append(begins + services)
        busy = 0.0
        for b, e in zip(self.begins, self.ends, strict=True):
            started = b < end
            busy += float(np.sum(np.minimum(e[started], end) - b[started]))
        done = sum(int(np.count_nonzero(e < end)) for e in self.bg_ends)
        return StationStats(busy_area=busy, background_jobs=done)
