"""How long a batch of requests runs on one worker (``server.batching``).

Why its own module: the two forms of ``Batching`` (a relative ``speedup`` or
measured ``time`` per batch size) reduce to one number the engine needs — the
batch's work in FLOP at the speed of the worker that runs it — and keeping
that rule here keeps ``Replication._run_batch`` about queueing only.
Units: FLOP, s, FLOP/s.
"""

from __future__ import annotations

from simulator.scenario import Batching


class BatchCost:
    """The work of a batch from its requests' ``work × multiplier`` (FLOP each).

    The worker of speed ``s`` then runs the batch for ``work / s`` seconds.
    ``speedup`` form: ``a·max + (1 − a)·Σ`` of the requests' times (see
    ``Batching``).  ``time`` form: ``time(n) × mean(w·m) / W`` on the fastest
    worker, i.e. ``time(n) × s_fastest × mean(w·m) / W`` FLOP; with a model of
    no work (W = 0) every request counts as a whole one.
    """

    def __init__(self, spec: Batching, model_work: float, fastest_speed: float) -> None:
        self.shared = spec.shared
        self.times = spec.times
        self.model_work = model_work
        self.fastest_speed = fastest_speed

    def work(self, items: list[float]) -> float:
        """FLOP-equivalent work of a batch whose requests are ``items`` (work × multiplier)."""
        if self.times is None:
            shared = self.shared
            return shared * max(items) + (1.0 - shared) * sum(items)
        n = len(items)
        share = sum(items) / (n * self.model_work) if self.model_work > 0 else 1.0
        return self.times[n - 1] * self.fastest_speed * share
