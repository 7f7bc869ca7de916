"""Pareto fronts of two objectives (e.g. mean latency vs device energy).

Why: split computing trades latency against energy and accuracy; no single
policy wins both, and the useful answer is the set of operating points that
no other point beats on every objective at once.  A point is *dominated* if
another point is at least as good in both objectives and strictly better in
one.  Exact duplicates do not dominate each other, so both copies stay on
the front; a point that ties another in one objective and is worse in the
other is dominated.  Rows with a missing (NaN) objective are never on the
front and never dominate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pareto_front(df: pd.DataFrame, x: str, y: str,
                 minimise: tuple[bool, bool] = (True, True)) -> pd.Series:
    """Boolean mask of the non-dominated rows of ``df`` in objectives ``x``, ``y``.

    Args:
        df: one row per candidate (e.g. per sweep point, with mean metrics).
        x, y: objective columns.
        minimise: per objective, ``True`` if smaller is better (latency,
            energy) and ``False`` if larger is better (accuracy).

    Returns:
        A bool Series aligned with ``df.index`` (so ``df[mask]`` works).

    Runs in O(n log n): sort by x then y (both turned into "smaller is
    better"); walking groups of equal x, a group's minimal-y rows are on the
    front iff that y is strictly below the best y of every strictly smaller x.
    """
    for col in (x, y):
        if col not in df.columns:
            raise KeyError(f"no column {col!r}")
    xv = df[x].to_numpy(dtype=float) * (1.0 if minimise[0] else -1.0)
    yv = df[y].to_numpy(dtype=float) * (1.0 if minimise[1] else -1.0)
    mask = np.zeros(len(df), dtype=bool)
    valid = np.flatnonzero(np.isfinite(xv) & np.isfinite(yv))
    order = valid[np.lexsort((yv[valid], xv[valid]))]
    best_y = np.inf
    i = 0
    while i < order.size:
        j = i
        while j < order.size and xv[order[j]] == xv[order[i]]:
            j += 1
        group = order[i:j]
        group_min = yv[group[0]]  # lexsort put the smallest y first
        if group_min < best_y:
            mask[group[yv[group] == group_min]] = True
            best_y = group_min
        i = j
    return pd.Series(mask, index=df.index, name="pareto")


def front_line(df: pd.DataFrame, x: str, y: str,
               minimise: tuple[bool, bool] = (True, True)) -> pd.DataFrame:
    """The Pareto-optimal rows sorted along ``x``, ready to draw as a staircase.

    Duplicated points appear once; the original index is kept.
    """
    on = df[pareto_front(df, x, y, minimise)]
    on = on.drop_duplicates(subset=[x, y])
    return on.sort_values([x, y], ascending=[minimise[0], minimise[1]])
