"""Dynamic split computing (Bakhtiarnia, Milošević, Zhang, Bajović, Iosifidis,
"Dynamic Split Computing for Efficient Deep Edge Intelligence", 2022).

Their observation: the only cuts worth considering are *natural
bottlenecks* — layers whose output is smaller than the input — plus
device-only and server-only; among those, pick per request the one with the
least predicted latency for the current data rate and server load.  Here
the candidate set is ``SystemModel.natural_bottlenecks`` (bottleneck cuts,
0 and L), the rate is the device's estimate (``scheduler.estimator``) and
the load is the server's reported, possibly stale, backlog
(``scheduler.backlog_delay``).  ``objective`` may also be device energy or
a weighted sum, as for Neurosurgeon.  Ties go to the smallest split.
"""

from __future__ import annotations

import numpy as np

from simulator.schedulers.neurosurgeon import Neurosurgeon


class DynamicSplit(Neurosurgeon):
    """Best natural-bottleneck split (or 0, or L) for the estimated rate and reported load."""

    def candidates(self) -> np.ndarray:
        return np.asarray(self.system.natural_bottlenecks)
