"""Which servers a device reaches, by which route, and choosing one (with a topology).

Why a module of its own: the engine asks three questions of a topology — what
may this device's policy see about the servers it reaches (``views``), is the
server a policy chose one it can reach (``pick``), and which one does the
dispatch rule take when the policy leaves it open — and the answers depend
only on the device's access point.  One ``Reach`` per access point answers
them, so the engine's request process only adds the wired transfer times.

Dispatch among reachable servers follows ``server.dispatch`` (see
``simulator.dispatch``) over that access point's servers only: round-robin
turns are kept per access point.  With a topology the server is fixed when
the request leaves the device, because the route depends on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from simulator.dispatch import Dispatcher
from simulator.schedulers.base import ServerView
from simulator.topology import Network, Route


class _Server(Protocol):
    index: int
    speed: float
    n_workers: int

    def reported_backlog_s(self, now: float) -> float: ...


@dataclass
class Reach:
    """The servers one access point reaches (index order), their routes and its dispatcher."""

    servers: list
    routes: dict[int, Route]
    names: tuple[str, ...]          # every server's name, by index
    dispatcher: Dispatcher

    def views(self, now: float) -> tuple[ServerView, ...]:
        """What a device at this access point is told about each server it reaches."""
        out = []
        for srv in self.servers:
            route = self.routes[srv.index]
            out.append(ServerView(
                index=srv.index, name=self.names[srv.index],
                backlog_s=srv.reported_backlog_s(now), latency_s=route.latency_s,
                rate_bps=route.rate_bps, speed_flops=srv.speed, workers=srv.n_workers))
        return tuple(out)

    def pick(self, choice: int | str | np.integer) -> _Server | None:
        """The reachable server a policy named by index or name, or None if it is not one."""
        for srv in self.servers:
            if (choice == self.names[srv.index] if isinstance(choice, str)
                    else int(choice) == srv.index):
                return srv
        return None

    def allowed(self) -> str:
        """The choices a policy has here, for error messages."""
        return ", ".join(f"{s.index} ('{self.names[s.index]}')" for s in self.servers)


def build_reaches(network: Network, servers: Sequence[_Server], rule: str,
                  uniforms: np.ndarray) -> list[Reach]:
    """One ``Reach`` per device entry (entries at the same access point share it)."""
    per_ap: dict[str, Reach] = {}
    for ap, routes in network.routes.items():
        mine = [servers[k] for k in sorted(routes)]
        per_ap[ap] = Reach(mine, routes, network.servers, Dispatcher(rule, mine, uniforms))
    return [per_ap[ap] for ap in network.entry_ap]
