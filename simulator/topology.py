"""The network behind the radio: access points, edge servers, a cloud (``topology:``).

Why a graph: with several servers at different places the question "which
server?" has a network answer — a nearby edge server is close but may be
busy, the cloud is far (a higher RTT) but fast and rarely queued.  The
scenario's optional ``topology`` block declares named nodes (``access_point``,
``router``, ``edge``, ``cloud``; an edge or cloud node is one server), which access point
each device entry attaches to, and wired links with a one-way latency and a
rate.  This module turns that block into a ``networkx.Graph``, checks it, and
computes each access point's route to each server it can reach.

Model of the wired part (what the docs promise):

- A device's radio ``channel`` is the device ↔ access-point hop, exactly as
  without a topology (its ``rtt`` is the radio hop's round trip).
- Routing is the shortest path by one-way latency (Dijkstra; ties as networkx
  breaks them, deterministically for a given scenario).  The payload does not
  change the route.
- Crossing a path of links ``i`` with latencies ``d_i`` (s) and rates ``r_i``
  (bit/s) takes ``Σ d_i + bits · Σ 1/r_i``: store and forward, each link
  serialising the whole payload.  A link without a rate adds no
  serialisation time.  Wired links are **uncontended**: transfers do not
  queue for them nor share them (backbone links are assumed much faster than
  the radio, which is where contention is modelled, ``channel.sharing``).
- A cloud node is a server like an edge node; only its place in the graph
  (its path latency) and its server spec (workers, speed) differ.

Units: s, bit, bit/s.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:
    from simulator.scenario import DeviceSpec, ServerSpec, TopologySpec

SERVER_KINDS = ("edge", "cloud")


@dataclass(frozen=True, slots=True)
class Route:
    """The wired path from an access point to one server.

    ``latency_s`` = Σ one-way link latencies (s); ``s_per_bit`` = Σ 1/rate
    (s/bit), so a payload of ``b`` bits takes ``latency_s + b · s_per_bit``
    one way.  ``hops`` are the node names along the path, access point first.
    """

    latency_s: float
    s_per_bit: float
    hops: tuple[str, ...]

    def transfer_s(self, bits: float) -> float:
        """One-way time (s) of a ``bits``-bit payload over this path (uncontended)."""
        return self.latency_s + bits * self.s_per_bit

    @property
    def rate_bps(self) -> float:
        """The path's effective rate, 1 / Σ 1/r_i (bit/s; inf without serialisation)."""
        return math.inf if self.s_per_bit == 0.0 else 1.0 / self.s_per_bit


@dataclass(frozen=True)
class Network:
    """A checked topology, ready for the engine.

    ``servers`` are the edge and cloud nodes in the order declared (a server's
    index is its position here); ``server_specs`` their server blocks;
    ``entry_ap[k]`` the access point of device entry ``k``; ``routes[ap]``
    maps a reachable server's index to its ``Route`` (only reachable servers
    are listed, in index order).
    """

    graph: nx.Graph
    servers: tuple[str, ...]
    server_specs: tuple[ServerSpec, ...]
    entry_ap: tuple[str, ...]
    routes: dict[str, dict[int, Route]]


class TopologyError(ValueError):
    """A topology that cannot be simulated (the message names the field)."""


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def build_graph(spec: TopologySpec) -> nx.Graph:
    """The undirected graph of ``spec``: nodes carry ``kind``, edges ``latency`` and ``rate``.

    Checks what depends only on the block itself: unique node names, known
    link ends (with a did-you-mean), no link from a node to itself, no link
    given twice, at least one access point and one server.
    """
    graph = nx.Graph()
    names = [n.name for n in spec.nodes]
    for i, node in enumerate(spec.nodes):
        if node.name in graph:
            raise TopologyError(f"nodes.{i}.name: '{node.name}' is used by two nodes; "
                                f"give every node its own name")
        graph.add_node(node.name, kind=node.kind)
    kinds = [n.kind for n in spec.nodes]
    if "access_point" not in kinds:
        raise TopologyError("nodes: no node of kind access_point; devices attach to one")
    if not any(k in SERVER_KINDS for k in kinds):
        raise TopologyError("nodes: no node of kind edge or cloud; a topology needs at least "
                            "one server")
    for i, link in enumerate(spec.links):
        a, b = link.between
        for end in (a, b):
            if end not in graph:
                raise TopologyError(f"links.{i}.between: unknown node '{end}'"
                                    f"{_suggest(end, names)}; allowed: {', '.join(names)}")
        if a == b:
            raise TopologyError(f"links.{i}.between: a link joins two different nodes "
                                f"(got '{a}' twice)")
        if graph.has_edge(a, b):
            raise TopologyError(f"links.{i}.between: '{a}' and '{b}' are already linked; "
                                f"give each link once")
        rate = math.inf if link.rate is None else float(link.rate)
        graph.add_edge(a, b, latency=float(link.latency), rate=rate)
    return graph


def build_network(spec: TopologySpec, devices: Sequence[DeviceSpec],
                  default_server: ServerSpec) -> Network:
    """Check ``spec`` against the device entries and compute every route.

    Beyond ``build_graph``: every device entry attaches to an existing access
    point (``attach``, optional when there is only one), every used access
    point reaches at least one server, and every server is reachable from
    some used access point (an unreachable one would never serve and is
    almost certainly a missing link).
    """
    graph = build_graph(spec)
    aps = [n.name for n in spec.nodes if n.kind == "access_point"]
    entry_names = [d.name for d in devices]
    for name, ap in spec.attach.items():
        if name not in entry_names:
            raise TopologyError(f"attach: unknown device entry '{name}'"
                                f"{_suggest(name, entry_names)}; allowed: "
                                f"{', '.join(entry_names)} (the devices' names)")
        if ap not in aps:
            kind = graph.nodes[ap]["kind"] if ap in graph else None
            what = f"'{ap}' is a {kind} node" if kind else f"unknown access point '{ap}'"
            raise TopologyError(f"attach.{name}: {what}{'' if kind else _suggest(ap, aps)}; "
                                f"allowed: {', '.join(aps)} (the access points)")
    entry_ap = []
    for d in devices:
        ap = spec.attach.get(d.name)
        if ap is None:
            if len(aps) > 1:
                raise TopologyError(f"attach: device entry '{d.name}' is not attached; with "
                                    f"several access points give attach: {{{d.name}: AP}}, "
                                    f"AP one of {', '.join(aps)}")
            ap = aps[0]
        entry_ap.append(ap)
    servers = tuple(n.name for n in spec.nodes if n.kind in SERVER_KINDS)
    specs = tuple(n.server or default_server for n in spec.nodes if n.kind in SERVER_KINDS)
    routes: dict[str, dict[int, Route]] = {}
    for ap in dict.fromkeys(entry_ap):
        lengths, paths = nx.single_source_dijkstra(graph, ap, weight="latency")
        routes[ap] = {}
        for k, server in enumerate(servers):
            if server not in paths:
                continue
            hops = tuple(paths[server])
            per_bit = sum(1.0 / graph.edges[u, v]["rate"] for u, v in itertools.pairwise(hops))
            routes[ap][k] = Route(float(lengths[server]), per_bit, hops)
        if not routes[ap]:
            raise TopologyError(f"links: access point '{ap}' reaches no edge or cloud node; "
                                f"link it (directly or through other nodes) to a server")
    served = {k for r in routes.values() for k in r}
    for k, server in enumerate(servers):
        if k not in served:
            raise TopologyError(f"links: server '{server}' is not reachable from any access "
                                f"point with devices, so it would never serve; link it or "
                                f"remove it")
    return Network(graph, servers, specs, tuple(entry_ap), routes)
