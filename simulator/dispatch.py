"""Several edge servers behind a dispatcher (``server.count``, ``server.dispatch``).

Why a separate object: the engine asks one question per offloaded request
("which server?") and devices ask one per decision ("how loaded is the edge?").
Rules:

- ``least-loaded``: the server with the least reported backlog (nominal work
  per worker); ties go to the lowest index.  Devices are told that minimum.
- ``round-robin``: servers in turn, in the order requests reach the edge.
- ``random``: uniform, from a per-request draw made when the replication
  starts, so request ``i`` goes to the same server whatever the policy
  (common random numbers).

For ``round-robin`` and ``random`` devices are told the mean backlog.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class _Server(Protocol):
    def reported_backlog_s(self, now: float) -> float: ...


class Dispatcher:
    """Routes offloaded requests to one of ``servers``."""

    def __init__(self, rule: str, servers: Sequence[_Server], uniforms: np.ndarray) -> None:
        self.rule = rule
        self.servers = list(servers)
        self.uniforms = uniforms
        self.turn = 0
        #: The server when there is only one, else ``None``.  Why: most scenarios have
        #: one edge server, and the engine asks once per offloaded request; reading
        #: this attribute spares it a call (see ``Replication._serve``).
        self.only: _Server | None = self.servers[0] if len(self.servers) == 1 else None

    def choose(self, now: float, request: int) -> _Server:
        servers = self.servers
        if self.only is not None:
            return self.only
        if self.rule == "least-loaded":
            loads = [s.reported_backlog_s(now) for s in servers]
            return servers[loads.index(min(loads))]
        if self.rule == "round-robin":
            self.turn += 1
            return servers[(self.turn - 1) % len(servers)]
        return servers[min(int(self.uniforms[request] * len(servers)), len(servers) - 1)]

    def reported_backlog_s(self, now: float) -> float:
        """The edge's load as devices see it (s of nominal work per worker)."""
        if self.only is not None:  # the min and the mean of one load are that load
            return self.only.reported_backlog_s(now)
        loads = [s.reported_backlog_s(now) for s in self.servers]
        return min(loads) if self.rule == "least-loaded" else sum(loads) / len(loads)
