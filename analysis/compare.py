"""Comparing schedulers: regret against the hindsight oracle, and what each one decided.

Why: a researcher comparing schedulers asks two questions the sweep-point
table does not answer directly (issue 5).  *How far is each policy from the
best it could have done?* — the ``oracle`` policy chooses every request's
split and exit in hindsight, knowing the channel and queues that actually
occurred, so it is the lower bound on the scheduler's objective; a policy's
regret is its metric minus the oracle's.  Because every policy runs on common
random numbers, the regret is estimated from paired per-replication
differences (:func:`analysis.stats.paired_difference`), one row per point of
the other grid keys.  *What did each policy actually do?* — the share of
requests sent at each split and the share that left at each early exit, read
from ``requests.parquet``.

Units: regret keeps the metric's unit (seconds, joules); fractions are
dimensionless in [0, 1].  This module never imports the simulator.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.load import infer_sweep_keys
from analysis.stats import paired_difference

#: Grid key naming the scheduler, and the policy that is the hindsight bound.
POLICY_KEY = "scheduler.policy"
ORACLE = "oracle"

#: Metrics the regret table covers by default (both minimised).
REGRET_METRICS: tuple[str, ...] = ("latency_mean_s", "device_energy_mean_j")

#: Value of the ``exit`` column for a request that ran to the final classifier.
NO_EXIT = -1


def _levels(col: pd.Series) -> list[object]:
    """Values of a column in category (scenario) order, else in order of appearance."""
    present = set(col.dropna().tolist())
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [c for c in col.cat.categories if c in present]
    return list(dict.fromkeys(col.dropna().tolist()))


def has_oracle(summary_df: pd.DataFrame, keys: Sequence[str], key: str = POLICY_KEY,
               oracle: str = ORACLE) -> bool:
    """True when ``key`` is a grid key with ``oracle`` and at least one other policy."""
    if key not in keys or key not in summary_df.columns:
        return False
    levels = [str(v) for v in _levels(summary_df[key])]
    return oracle in levels and len(levels) >= 2


def regret_vs_oracle(summary_df: pd.DataFrame, keys: Sequence[str] | None = None,
                     metrics: Sequence[str] = REGRET_METRICS, key: str = POLICY_KEY,
                     oracle: str = ORACLE, confidence: float = 0.95) -> pd.DataFrame:
    """Each policy's paired difference to the oracle, per point of the other grid keys.

    Args:
        summary_df: ``summary.parquet`` rows (grid point × replication).
        keys: every grid column (``Run.sweep_keys``: sweep, zip keys, ``case``);
            default: :func:`analysis.load.infer_sweep_keys`.  All keys but
            ``key`` are held fixed when replications are paired.
        metrics: metric columns; metrics absent from ``summary_df`` are skipped.
        key: the grid key holding the policy.
        oracle: the value of ``key`` that is the hindsight bound.
        confidence: two-sided level of the paired-t interval.

    Returns:
        One row per other-grid-point × policy (not the oracle) × metric, in
        grid order: ``*others, policy, metric, regret, half_width, ci_low,
        ci_high, n, unpaired_half_width, policy_mean, oracle_mean,
        relative_regret``.  ``regret`` = mean over replications of
        ``metric(policy, r) − metric(oracle, r)`` in the metric's unit;
        ``n`` counts the pairs; ``relative_regret`` = ``regret / oracle_mean``.
        Empty (with these columns) when ``key`` is not a grid key or has no
        ``oracle``.
    """
    keys = list(infer_sweep_keys(summary_df) if keys is None else keys)
    others = [k for k in keys if k != key]
    columns = [*others, "policy", "metric", "regret", "half_width", "ci_low", "ci_high", "n",
               "unpaired_half_width", "policy_mean", "oracle_mean", "relative_regret"]
    if not has_oracle(summary_df, keys, key, oracle):
        return pd.DataFrame(columns=columns)
    policies = [p for p in _levels(summary_df[key]) if str(p) != oracle]
    oracle_value = next(p for p in _levels(summary_df[key]) if str(p) == oracle)
    parts = []
    for metric in [m for m in metrics if m in summary_df.columns]:
        for policy in policies:
            diff = paired_difference(summary_df, key, policy, oracle_value, metric,
                                     by=others, confidence=confidence)
            if diff.empty:
                continue
            means = _point_means(summary_df, others, key, policy, oracle_value, metric)
            diff = diff.merge(means, on=others, how="left") if others else \
                diff.assign(**means.iloc[0].to_dict())
            parts.append(diff.rename(columns={"a": "policy", "mean": "regret"}))
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["relative_regret"] = out["regret"] / out["oracle_mean"].where(out["oracle_mean"] != 0)
    # Grid order: the other keys' order, then policy as the scenario lists it, then metric.
    order = {"policy": policies, "metric": list(metrics)}
    for k in others:
        order[k] = _levels(summary_df[k])
    for col, levels in order.items():
        out[col] = pd.Categorical(out[col], categories=levels, ordered=True)
    out = out.sort_values([*others, "metric", "policy"], kind="stable").reset_index(drop=True)
    for col in ("policy", "metric"):
        out[col] = out[col].astype(object)
    return out[columns]


def _point_means(summary_df: pd.DataFrame, others: list[str], key: str, policy: object,
                 oracle: object, metric: str) -> pd.DataFrame:
    """Mean of ``metric`` for ``policy`` and for the oracle at each other-grid-point."""
    rows = {}
    for name, value in (("policy_mean", policy), ("oracle_mean", oracle)):
        part = summary_df.loc[summary_df[key] == value, [*others, metric]].copy()
        for k in others:
            part[k] = part[k].astype(object)
        rows[name] = (part.groupby(others, sort=False)[metric].mean() if others
                      else pd.Series([part[metric].mean()]))
    means = pd.concat(rows, axis=1)
    return means.reset_index() if others else means.reset_index(drop=True)


def decision_counts(requests_df: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """How often each split was chosen and each early exit taken, per grid point.

    Counts pool the replications and devices of a grid point (every request
    after warm-up that ``requests.parquet`` holds counts once).

    Args:
        requests_df: ``requests.parquet`` rows.
        keys: grid columns identifying a point (``Run.sweep_keys``); default:
            :func:`analysis.load.infer_sweep_keys`.

    Returns:
        A tidy frame ``*keys, decision, block, count, total, fraction``, where
        ``decision`` is ``"split"`` (``block`` = blocks run on the device,
        0 = server-only) or ``"exit"`` (``block`` = the exit's block, ``-1`` =
        no early exit: the request reached the final classifier).  ``total``
        is the number of requests at the point, so for each point and decision
        the fractions add up to 1.  Splits never chosen are not listed.
    """
    keys = [k for k in (infer_sweep_keys(requests_df) if keys is None else keys)
            if k in requests_df.columns]
    columns = [*keys, "decision", "block", "count", "total", "fraction"]
    parts = []
    for decision in ("split", "exit"):
        if decision not in requests_df.columns:
            continue
        frame = requests_df[[*keys, decision]].dropna(subset=[decision])
        counts = (frame.groupby([*keys, decision], observed=True, sort=True).size()
                  .rename("count").reset_index())
        counts = counts[counts["count"] > 0]
        counts["total"] = (counts.groupby(keys, observed=True)["count"].transform("sum")
                           if keys else counts["count"].sum())
        counts["fraction"] = counts["count"] / counts["total"]
        counts = counts.rename(columns={decision: "block"})
        counts.insert(len(keys), "decision", decision)
        parts.append(counts)
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["block"] = out["block"].astype(int)
    out["count"] = out["count"].astype(int)
    out["total"] = out["total"].astype(int)
    sort_by = [*keys, "decision", "block"]
    out["decision"] = pd.Categorical(out["decision"], ["split", "exit"], ordered=True)
    out = out.sort_values(sort_by, kind="stable").reset_index(drop=True)
    out["decision"] = out["decision"].astype(object)
    return out[columns]


def decision_table(counts: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """:func:`decision_counts` with one row per grid point and one column per block.

    Columns: ``*keys, requests`` then ``split <b>`` for every split chosen
    anywhere, then ``exit <b>`` for every early exit taken anywhere and
    ``no exit``; cells are fractions (0 where a point never chose that block).
    """
    keys = list(keys)
    if counts.empty:
        return pd.DataFrame(columns=[*keys, "requests"])
    label = counts.apply(
        lambda r: "no exit" if r["decision"] == "exit" and r["block"] == NO_EXIT
        else f"{r['decision']} {int(r['block'])}", axis=1)
    counts = counts.assign(column=label)
    split_cols = [f"split {b}" for b in sorted(counts.loc[counts["decision"] == "split",
                                                          "block"].unique())]
    exit_blocks = sorted(b for b in counts.loc[counts["decision"] == "exit", "block"].unique()
                         if b != NO_EXIT)
    exit_cols = [f"exit {b}" for b in exit_blocks]
    if (counts["column"] == "no exit").any():
        exit_cols.append("no exit")
    idx = keys or ["_point"]
    if not keys:
        counts = counts.assign(_point=0)
    wide = counts.pivot_table(index=idx, columns="column", values="fraction",
                              observed=True, fill_value=0.0, sort=False)
    wide = wide.reindex(columns=[*split_cols, *exit_cols], fill_value=0.0)
    total = counts.groupby(idx, observed=True, sort=False)["total"].max().rename("requests")
    out = pd.concat([total, wide], axis=1).reset_index()
    if keys:
        out = out.sort_values(keys, kind="stable").reset_index(drop=True)
    else:
        out = out.drop(columns=["_point"])
    out.columns.name = None
    return out


__all__ = [
    "NO_EXIT",
    "ORACLE",
    "POLICY_KEY",
    "REGRET_METRICS",
    "decision_counts",
    "decision_table",
    "has_oracle",
    "regret_vs_oracle",
]
