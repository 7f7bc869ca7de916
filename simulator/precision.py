"""Precision of Monte Carlo estimates: Student-t CIs, stopping at a target, MSER-5 warm-up.

Why here and not in ``analysis``: the simulator decides *while it runs* how
many replications a sweep point needs (``--target-ci``) and where each
replication's warm-up ends (``horizon.warmup: mser-5``), and the simulator
never imports ``analysis`` (DESIGN.md §2).

Stopping rule: replications are added in batches until, at every sweep point,
the 95% Student-t half-width of each target metric is at most ``REL × |mean|``
(or a maximum number of replications is reached).  The decisions depend only
on the results, which depend only on (seed, point, replication), so a run
stops at the same replication counts with any executor, worker count or
number of interruptions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import stdtrit

from simulator.summary import METRIC_COLUMNS

CONFIDENCE = 0.95
#: Default cap on replications per sweep point under ``--target-ci``.
DEFAULT_MAX_REPLICATIONS = 1000


class PrecisionError(ValueError):
    """A ``--target-ci`` request that cannot be understood (bad input)."""


@dataclass(frozen=True)
class Target:
    """Stop when the 95% CI half-width of ``metric`` is ≤ ``relative`` × |mean|."""

    metric: str
    relative: float

    def __str__(self) -> str:
        return f"{self.metric}={self.relative:g}"


def parse_target(text: str) -> Target:
    """``"latency_mean_s=0.05"`` or ``"latency_mean_s=5%"`` → ``Target``."""
    metric, sep, value = text.partition("=")
    metric, value = metric.strip(), value.strip()
    if not sep or not metric or not value:
        raise PrecisionError(f"--target-ci {text!r}: expected METRIC=REL, e.g. "
                             f"latency_mean_s=0.05 (5% of the mean)")
    if metric not in METRIC_COLUMNS or metric == "requests":
        allowed = ", ".join(c for c in METRIC_COLUMNS if c != "requests")
        raise PrecisionError(f"--target-ci {text!r}: unknown metric '{metric}'; "
                             f"allowed: {allowed}")
    try:
        rel = float(value[:-1]) / 100.0 if value.endswith("%") else float(value)
    except ValueError:
        raise PrecisionError(f"--target-ci {text!r}: '{value}' is not a number "
                             f"(give a fraction such as 0.05 or a percentage such as 5%)"
                             ) from None
    if not (rel > 0 and math.isfinite(rel)):
        raise PrecisionError(f"--target-ci {text!r}: the relative half-width must be > 0")
    return Target(metric, rel)


def parse_targets(items: Iterable[str] | Mapping[str, float] | None) -> tuple[Target, ...]:
    """Targets from CLI strings or an API mapping ``{metric: rel}``."""
    if not items:
        return ()
    if isinstance(items, str):
        items = [items]
    if isinstance(items, Mapping):
        items = [f"{k}={v}" for k, v in items.items()]
    return tuple(parse_target(str(item)) for item in items)


def mean_half_width(values: Sequence[float] | np.ndarray,
                    confidence: float = CONFIDENCE) -> tuple[float, float, int]:
    """Mean, Student-t half-width and n of the non-NaN values (half-width NaN if n < 2)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, n
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    return mean, float(stdtrit(n - 1, 0.5 + confidence / 2.0) * sem), n


@dataclass(frozen=True)
class Achieved:
    """Precision of one metric at one sweep point."""

    mean: float
    half_width: float
    relative: float      # half_width / |mean| (inf when the mean is 0 and the CI is not)
    target: float
    met: bool | None     # None: not applicable (the metric is undefined here, e.g. all NaN)

    def as_dict(self) -> dict[str, Any]:
        return {k: _finite_or_none(v) for k, v in self.__dict__.items()}


def achieved(values: Sequence[float] | np.ndarray, target: Target) -> Achieved:
    """How precise the mean of ``values`` is against ``target``."""
    mean, half, n = mean_half_width(values)
    if n == 0:
        return Achieved(mean, half, math.nan, target.relative, None)
    if math.isnan(half):
        return Achieved(mean, half, math.nan, target.relative, False)
    if half == 0:
        return Achieved(mean, half, 0.0, target.relative, True)
    rel = half / abs(mean) if mean != 0 else math.inf
    return Achieved(mean, half, rel, target.relative, rel <= target.relative)


def next_replications(n: int, results: Sequence[Achieved], *, step: int, maximum: int) -> int:
    """Replications a sweep point needs next (``n`` when every target is met or n = max).

    The half-width shrinks like 1/√n, so reaching ``rel`` from ``relative``
    needs about ``n × (relative / rel)²``; aim 10% above that, add at least
    ``step`` and at most 4× per batch (early variance estimates are rough).
    """
    if n >= maximum or all(r.met is not False for r in results):
        return n
    wanted = n + step
    for r in results:
        if r.met is not False:
            continue
        if math.isnan(r.relative):
            need = n + step
        elif math.isinf(r.relative):
            need = 4 * n
        else:
            need = math.ceil(1.1 * n * (r.relative / r.target) ** 2)
        wanted = max(wanted, min(need, 4 * n))
    return min(wanted, maximum)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ------------------------------------------------------------------ warm-up


def mser_truncation(series: Sequence[float] | np.ndarray, batch: int = 5) -> int:
    """Leading observations to drop by the MSER-5 rule (White 1997; Hoad et al. 2010).

    The series is cut into batches of ``batch`` means; the truncation ``d``
    (in batches) minimises the squared standard error of the remaining mean,
    ``Σ_{i≥d}(b_i − b̄_d)² / (k − d)²``, searched over the first half of the
    ``k`` batches only (beyond that the rule is unreliable).  O(n) with suffix
    sums.  Returns ``d × batch``; 0 when there are fewer than 4 batches.
    """
    x = np.asarray(series, dtype=float)
    k = x.size // batch
    if k < 4:
        return 0
    b = x[: k * batch].reshape(k, batch).mean(axis=1)
    b = b - b.mean()                      # centred: suffix sums lose less precision
    s1 = np.cumsum(b[::-1])[::-1]
    s2 = np.cumsum((b * b)[::-1])[::-1]
    m = np.arange(k, 0, -1, dtype=float)  # batches left after dropping d = 0, 1, …
    stat = (s2 - s1 * s1 / m) / (m * m)
    return int(np.argmin(stat[: k // 2])) * batch


def precision_table(report: Mapping[str, Any]) -> Any:
    """A rich table of the achieved precision (the manifest's ``precision`` entry)."""
    from rich.table import Table

    targets = report["targets"]
    table = Table(title="precision (95% CI half-width / |mean|)", title_justify="left")
    points = report["points"]
    columns = [k for k in (points[0] if points else {})
               if k not in targets and k not in ("point", "replications")]
    for key in columns:
        table.add_column(key)
    table.add_column("reps", justify="right")
    for metric, rel in targets.items():
        table.add_column(f"{metric} (target {rel:.1%})", justify="right")
    for row in points:
        cells = [str(row[k]) for k in columns] + [str(row["replications"])]
        for metric in targets:
            a = row[metric]
            mark = {True: "✓", False: "✗", None: "n/a"}[a["met"]]
            shown = "–" if a["relative"] is None else f"{a['relative']:.2%}"
            cells.append(f"{shown} {mark}")
        table.add_row(*cells)
    return table
