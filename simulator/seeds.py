"""Random streams: one independent generator per replication and per component.

Why fixed spawn keys instead of ``SeedSequence.spawn``: the stream of a
component must depend only on (scenario seed, replication, component, index),
never on how many other streams were made before it or on the sweep point.
Then replication r sees the same arrivals, channel and exit samples at every
sweep point (common random numbers), whatever the task order or worker count.
``SeedSequence(seed, spawn_key=(r, c, i))`` is exactly the child that
``spawn`` would give along that path.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Component(IntEnum):
    """Random components of one replication (values are part of the seed contract)."""

    ARRIVALS = 0        # per device: inter-arrival times, periodic phase
    UPLINK = 1          # per device: uplink rate process
    DOWNLINK = 2        # per device: downlink rate process
    BACKGROUND = 3      # per server: background jobs
    SERVER_SERVICE = 4  # per request: server service-time multipliers
    DEVICE_SERVICE = 5  # per request: device compute-time multipliers
    EXITS = 6           # per request: exit confidences and correctness
    POLICY = 7          # per device: the scheduler's own randomness
    DISPATCH = 8        # per request: random dispatch to one of several servers


def stream(seed: int, replication: int, component: Component, index: int = 0
           ) -> np.random.Generator:
    """The generator of ``component`` (instance ``index``) in ``replication``."""
    sequence = np.random.SeedSequence(seed, spawn_key=(replication, int(component), index))
    return np.random.default_rng(sequence)
