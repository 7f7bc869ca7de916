"""Confidence intervals for Monte Carlo output.

Why: a simulated mean without its uncertainty invites reading noise as a
result.  Replications are independent and identically distributed by
construction (independent seed streams, DESIGN §7), so the across-replication
mean of any per-replication metric has a Student-t confidence interval
(Law, *Simulation Modeling and Analysis*, 5th ed., §9.4.1).  Policies are run
on common random numbers — replication *r* sees the same arrivals and channel
at every sweep point — so the difference between two policies is best
estimated from paired differences (Law §10.2.1), whose variance is smaller
whenever the two outputs are positively correlated.  For one long run, batch
means (Law §9.5.3) turn autocorrelated observations into nearly independent
batch averages.

Every function keeps the unit of its input (seconds in, seconds out).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from analysis.load import SUMMARY_METRICS, infer_sweep_keys


def _clean(values: Iterable[float]) -> np.ndarray:
    """Values as a float array with NaN/inf dropped."""
    if isinstance(values, pd.Series):
        arr = values.to_numpy(dtype=float, na_value=np.nan)
    elif isinstance(values, np.ndarray):
        arr = values.astype(float).ravel()
    else:
        arr = np.asarray(list(values), dtype=float).ravel()
    return arr[np.isfinite(arr)]


def _t_half_width(std: float, n: int, confidence: float) -> float:
    if n < 2:
        return math.nan
    return float(_st.t.ppf(0.5 + confidence / 2.0, n - 1) * std / math.sqrt(n))


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float]:
    """Sample mean and Student-t confidence half-width of ``values``.

    The interval is ``mean ± t_{n-1, (1+confidence)/2} · s / √n`` with ``s``
    the sample standard deviation (``ddof=1``).  NaN and infinite values are
    dropped first (a replication that completed no request has no latency).

    Returns ``(mean, half_width)`` in the unit of ``values``.  With a single
    value the spread is unknown, so the half width is NaN (not 0, which would
    claim certainty); with no values both are NaN.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arr = _clean(values)
    n = arr.size
    if n == 0:
        return math.nan, math.nan
    mean = float(arr.mean())
    if n == 1:
        return mean, math.nan
    return mean, _t_half_width(float(arr.std(ddof=1)), n, confidence)


def summarise(summary_df: pd.DataFrame, keys: Sequence[str] | None = None,
              metrics: Sequence[str] | None = None,
              confidence: float = 0.95) -> pd.DataFrame:
    """Mean and confidence interval of each metric at each sweep point.

    Args:
        summary_df: rows = sweep point × replication (``summary.parquet``).
        keys: columns that identify a sweep point; default: the dotted sweep
            columns of ``summary_df``.  ``[]`` pools all rows into one point.
        metrics: metric columns; default: every ``summary.parquet`` metric
            present.
        confidence: two-sided confidence level.

    Returns:
        A tidy frame, one row per sweep point × metric, with columns
        ``*keys, metric, mean, half_width, ci_low, ci_high, n`` (``n`` counts
        the finite replications).  Sweep points keep the order of ``keys``
        (categorical order when the columns are categoricals).
    """
    keys = list(infer_sweep_keys(summary_df) if keys is None else keys)
    if metrics is None:
        metrics = [m for m in SUMMARY_METRICS if m in summary_df.columns]
    missing = [c for c in [*keys, *metrics] if c not in summary_df.columns]
    if missing:
        raise KeyError(f"columns not in summary: {missing}")
    rows: list[dict[str, object]] = []
    groups = (summary_df.groupby(keys, observed=True, sort=True) if keys
              else [((), summary_df)])
    for point, group in groups:
        point_t = point if isinstance(point, tuple) else (point,)
        for metric in metrics:
            arr = _clean(group[metric])
            mean, hw = mean_ci(arr, confidence)
            rows.append({**dict(zip(keys, point_t, strict=True)), "metric": metric,
                         "mean": mean, "half_width": hw, "ci_low": mean - hw,
                         "ci_high": mean + hw, "n": int(arr.size)})
    out = pd.DataFrame(rows, columns=[*keys, "metric", "mean", "half_width", "ci_low",
                                      "ci_high", "n"])
    for key in keys:
        if isinstance(summary_df[key].dtype, pd.CategoricalDtype):
            out[key] = pd.Categorical(out[key], categories=summary_df[key].cat.categories,
                                      ordered=summary_df[key].cat.ordered)
    return out


def summarise_wide(summary_df: pd.DataFrame, keys: Sequence[str] | None = None,
                   metrics: Sequence[str] | None = None,
                   confidence: float = 0.95) -> pd.DataFrame:
    """:func:`summarise` with one row per sweep point.

    Columns: ``*keys, n`` then ``<metric>_mean, <metric>_ci_low,
    <metric>_ci_high, <metric>_half_width`` for each metric.  This is the shape
    a trade-off plot (x metric against y metric) and the report table need.
    """
    keys = list(infer_sweep_keys(summary_df) if keys is None else keys)
    long = summarise(summary_df, keys, metrics, confidence)
    metric_order = list(dict.fromkeys(long["metric"]))
    idx = keys or ["_point"]
    if not keys:
        long = long.assign(_point=0)
    stats = ["mean", "ci_low", "ci_high", "half_width"]
    table = long.set_index([*idx, "metric"])[stats].unstack("metric")
    table.columns = [f"{metric}_{stat}" for stat, metric in table.columns]
    ordered = [f"{m}_{s}" for m in metric_order for s in stats]
    n = long.groupby(idx, observed=True, sort=False)["n"].max().rename("n")
    wide = pd.concat([n, table[ordered]], axis=1).reset_index()
    return wide.drop(columns=["_point"]) if not keys else wide


def paired_difference(summary_df: pd.DataFrame, key: str, a: object, b: object,
                      metric: str, by: Sequence[str] | None = None,
                      confidence: float = 0.95) -> pd.DataFrame:
    """Difference ``a − b`` of a metric between two values of one sweep key.

    Under common random numbers replication *r* of ``key == a`` and of
    ``key == b`` share their random streams, so the per-replication difference
    ``d_r = metric(a, r) − metric(b, r)`` removes the shared noise and its
    Student-t interval is the right one (Law §10.2.1, "paired-t").  Pairs are
    matched on ``replication`` and on every other sweep key (``by``), so each
    combination of the other keys gets its own row.

    Args:
        summary_df: ``summary.parquet`` rows.
        key: the sweep key being compared, e.g. ``"scheduler.policy"``.
        a, b: the two values of ``key``; the result is ``a − b``.
        metric: a metric column, e.g. ``"latency_mean_s"``.
        by: the other sweep keys to pair on; default: every dotted column
            except ``key``.
        confidence: two-sided confidence level.

    Returns:
        One row per combination of ``by``: ``*by, key, a, b, metric, mean,
        half_width, ci_low, ci_high, n`` (pairs used) and
        ``unpaired_half_width`` — Welch's interval for the same two samples
        treated as independent, to show what common random numbers saved.
        ``mean`` is in the metric's unit.
    """
    if key not in summary_df.columns or metric not in summary_df.columns:
        raise KeyError(f"summary has no column {key!r} or {metric!r}")
    if "replication" not in summary_df.columns:
        raise KeyError("summary has no 'replication' column to pair on")
    by = [k for k in (infer_sweep_keys(summary_df) if by is None else by) if k != key]
    cols = [*by, "replication", metric]
    left = summary_df.loc[summary_df[key] == a, cols]
    right = summary_df.loc[summary_df[key] == b, cols]
    if left.empty or right.empty:
        raise ValueError(f"{key} has no rows for {a!r}" if left.empty
                         else f"{key} has no rows for {b!r}")
    for frame in (left, right):
        for k in by:
            if isinstance(frame[k].dtype, pd.CategoricalDtype):
                frame[k] = frame[k].astype(object)
    paired = left.merge(right, on=[*by, "replication"], suffixes=("_a", "_b"))
    rows: list[dict[str, object]] = []
    groups = paired.groupby(by, sort=False) if by else [((), paired)]
    for point, group in groups:
        point_t = point if isinstance(point, tuple) else (point,)
        d = (group[f"{metric}_a"] - group[f"{metric}_b"]).to_numpy(dtype=float)
        d = d[np.isfinite(d)]
        mean, hw = mean_ci(d, confidence)
        xa, xb = _clean(group[f"{metric}_a"]), _clean(group[f"{metric}_b"])
        rows.append({**dict(zip(by, point_t, strict=True)), "key": key, "a": a, "b": b,
                     "metric": metric, "mean": mean, "half_width": hw,
                     "ci_low": mean - hw, "ci_high": mean + hw, "n": int(d.size),
                     "unpaired_half_width": welch_half_width(xa, xb, confidence)})
    return pd.DataFrame(rows, columns=[*by, "key", "a", "b", "metric", "mean", "half_width",
                                       "ci_low", "ci_high", "n", "unpaired_half_width"])


def welch_half_width(x: Iterable[float], y: Iterable[float],
                     confidence: float = 0.95) -> float:
    """Half width of Welch's interval for ``mean(x) − mean(y)``, samples independent.

    Why: the baseline that :func:`paired_difference` improves on; also the
    right interval when two samples do not share random numbers.
    """
    xa, ya = _clean(x), _clean(y)
    nx, ny = xa.size, ya.size
    if nx < 2 or ny < 2:
        return math.nan
    vx, vy = xa.var(ddof=1) / nx, ya.var(ddof=1) / ny
    se2 = vx + vy
    if se2 == 0.0:
        return 0.0
    dof = se2**2 / (vx**2 / (nx - 1) + vy**2 / (ny - 1))
    return float(_st.t.ppf(0.5 + confidence / 2.0, dof) * math.sqrt(se2))


@dataclass(frozen=True)
class BatchMeans:
    """Result of :func:`batch_means` (values in the unit of the series).

    Attributes:
        mean: grand mean of the batch averages.
        half_width: Student-t half width on ``n_batches − 1`` degrees of freedom.
        n_batches: number of batches used.
        batch_size: observations per batch.
        dropped: leading observations discarded so batches are equal-sized.
        lag1_autocorrelation: of the batch averages; values well above ~0.2
            mean the batches are too short and the interval too narrow.
    """

    mean: float
    half_width: float
    n_batches: int
    batch_size: int
    dropped: int
    lag1_autocorrelation: float


def batch_means(series: Iterable[float], n_batches: int = 20,
                confidence: float = 0.95) -> BatchMeans:
    """Confidence interval for the steady-state mean of one long, correlated run.

    Why: successive requests' latencies are correlated (a queue carries over),
    so the naive ``s/√N`` interval is far too narrow.  Splitting the series
    (in arrival order, warm-up already removed) into ``n_batches`` contiguous
    batches and treating the batch averages as independent gives an honest
    interval when batches are long compared with the correlation time
    (Law §9.5.3; 10–30 batches is the usual advice).  The first
    ``len % n_batches`` observations are dropped — the ones closest to the
    warm-up — so all batches are equal.
    """
    if n_batches < 2:
        raise ValueError(f"need at least 2 batches, got {n_batches}")
    arr = _clean(series)
    if arr.size < n_batches:
        raise ValueError(f"{arr.size} observations cannot fill {n_batches} batches")
    size = arr.size // n_batches
    dropped = arr.size - size * n_batches
    batches = arr[dropped:].reshape(n_batches, size).mean(axis=1)
    mean, hw = mean_ci(batches, confidence)
    centred = batches - batches.mean()
    denom = float(np.dot(centred, centred))
    rho = float(np.dot(centred[:-1], centred[1:]) / denom) if denom > 0 else math.nan
    return BatchMeans(mean=mean, half_width=hw, n_batches=n_batches, batch_size=size,
                      dropped=dropped, lag1_autocorrelation=rho)


def mser_truncation(series: Iterable[float], batch: int = 5) -> int:
    """Warm-up length chosen by the MSER-5 rule (White 1997; Hoad et al. 2010).

    Why: when a run's warm-up was set too short, the initial transient biases
    every mean.  MSER picks the truncation point ``d`` that minimises the
    squared standard error of the remaining mean,
    ``Σ(x_i − x̄_d)² / (n − d)²``, over batches of ``batch`` observations,
    searching only the first half of the series (beyond that the rule is
    unreliable).  Returns the number of leading observations to drop.
    """
    arr = _clean(series)
    n_b = arr.size // batch
    if n_b < 4:
        return 0
    b = arr[: n_b * batch].reshape(n_b, batch).mean(axis=1)
    best_d, best = 0, math.inf
    for d in range(n_b // 2):
        rest = b[d:]
        stat = float(((rest - rest.mean()) ** 2).sum() / rest.size**2)
        if stat < best:
            best_d, best = d, stat
    return best_d * batch
