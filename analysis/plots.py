"""Figures for a run directory: trade-offs, sweeps, distributions, decisions.

Why: the user's last step is a plot (issue 8).  ``plot_run`` looks at what the
run holds — which keys were swept, whether they are numeric, whether
per-request records were saved — and draws the figures that fit it.  Every
figure is written next to a CSV of exactly the numbers it plots
(``plots/<name>.csv``), so tests, reviewers and other tools can check a figure
against the summary it came from without reading pixels.

Conventions: data stay in SI units (seconds, joules, bytes, bit/s); axes only
*display* a scaled unit (ms, mJ, kB, Mbit/s, %) through tick formatters.  Error
bars and bands are 95% Student-t intervals across replications
(:mod:`analysis.stats`).  Categories are encoded twice (colour and marker or
line style) so a figure stays readable in greyscale.  Figures are built on
:class:`matplotlib.figure.Figure` directly (no pyplot state, Agg canvas), so
plotting is safe in worker processes and never opens a window.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator

from analysis.compare import ORACLE, POLICY_KEY, decision_counts, regret_vs_oracle
from analysis.load import STAGE_METRICS, SUMMARY_METRICS, Run, load, numeric_axis
from analysis.pareto import front_line, pareto_front
from analysis.stats import summarise, summarise_wide

FORMATS = ("png", "svg", "pdf")
CONFIDENCE = 0.95

#: Human label and SI unit kind of each column that can end up on an axis.
LABELS: dict[str, tuple[str, str]] = {
    "requests": ("Requests counted", ""),
    "latency_mean_s": ("Mean latency", "s"),
    "latency_p50_s": ("Median latency", "s"),
    "latency_p95_s": ("95th-percentile latency", "s"),
    "latency_p99_s": ("99th-percentile latency", "s"),
    "device_wait_mean_s": ("Device queue wait", "s"),
    "device_compute_mean_s": ("Device compute", "s"),
    "uplink_mean_s": ("Uplink", "s"),
    "server_wait_mean_s": ("Server queue wait", "s"),
    "server_service_mean_s": ("Server compute", "s"),
    "downlink_mean_s": ("Downlink", "s"),
    "device_energy_mean_j": ("Device energy per request", "J"),
    "accuracy": ("Accuracy", "fraction"),
    "exit_rate": ("Early-exit rate", "fraction"),
    "offload_rate": ("Offload rate", "fraction"),
    "bytes_up_mean": ("Uplink payload per request", "B"),
    "split_mean": ("Mean split (blocks on device)", ""),
    "deadline_miss_rate": ("Deadline miss rate", "fraction"),
    "throughput_per_s": ("Throughput", "1/s"),
    "latency_s": ("Latency", "s"),
    "arrival_s": ("Arrival time", "s"),
    "uplink_rate_bps": ("Uplink rate", "bit/s"),
    "split": ("Split (blocks on device)", ""),
}

#: Metrics drawn against each swept parameter (those present and not all NaN).
HEADLINE_METRICS: tuple[str, ...] = (
    "latency_mean_s",
    "latency_p95_s",
    "device_energy_mean_j",
    "accuracy",
    "offload_rate",
    "split_mean",
    "deadline_miss_rate",
    "throughput_per_s",
)

#: Metrics where larger is better (everything else is minimised).
HIGHER_IS_BETTER = frozenset({"accuracy", "throughput_per_s"})

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
_LINESTYLES: tuple[Any, ...] = ("-", "--", ":", "-.", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
_HATCHES = ("", "//", "..", "xx", "\\\\", "--", "++", "oo")
_MAX_PANELS = 12
_POINT_LABEL_LIMIT = 12
_CDF_POINTS = 1000
_CAPTION_GID = "splitsim-caption"


@dataclass
class PlotResult:
    """One figure and the data behind it.

    Attributes:
        name: file stem, e.g. ``"tradeoff_latency_energy"``.
        title: one-line title (also drawn on the figure).
        caption: what is shown, the scenario and replication count.
        figure: the matplotlib figure (Agg canvas attached).
        data: exactly the numbers plotted, in SI units; written as CSV.
    """

    name: str
    title: str
    caption: str
    figure: Figure
    data: pd.DataFrame
    paths: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------- units


def _display_unit(kind: str, values: Sequence[float] | np.ndarray) -> tuple[float, str]:
    """Scale factor and unit to show SI ``values`` of a unit kind readably."""
    arr = np.asarray(values, dtype=float)
    arr = np.abs(arr[np.isfinite(arr)])
    top = float(arr.max()) if arr.size else 0.0
    if kind == "fraction":
        return 100.0, "%"
    if kind in ("s", "J"):
        if 0 < top < 1e-3:
            return 1e6, "µ" + kind
        if 0 < top < 1.0:
            return 1e3, "m" + kind
        return 1.0, kind
    if kind == "B":
        for scale, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if top >= scale:
                return 1.0 / scale, unit
        return 1.0, "B"
    if kind == "bit/s":
        for scale, unit in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
            if top >= scale:
                return 1.0 / scale, unit
        return 1.0, "bit/s"
    return 1.0, kind


def _label(column: str, values: Sequence[float] | np.ndarray | None = None,
           axis: Axis | None = None) -> str:
    """Axis label "Name (unit)"; with ``axis``, also install a scaled tick formatter."""
    name, kind = LABELS.get(column, (column, ""))
    scale, unit = _display_unit(kind, values if values is not None else [])
    if axis is not None and scale != 1.0:
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v * scale:.6g}"))
        axis.set_minor_formatter(NullFormatter())
    return f"{name} ({unit})" if unit else name


def _key_label(run: Run, key: str) -> str:
    """Short legend/axis name of a sweep key: its last dotted part unless ambiguous."""
    last = key.rsplit(".", 1)[-1]
    others = [k.rsplit(".", 1)[-1] for k in run.sweep_keys if k != key]
    return key if last in others else last


# ------------------------------------------------------------------ encoding


def _levels(df: pd.DataFrame, key: str) -> list[Any]:
    """Values of ``key`` present in ``df``, in category (sweep) order."""
    col = df[key]
    present = set(col.dropna().tolist())
    if isinstance(col.dtype, pd.CategoricalDtype):
        return [c for c in col.cat.categories if c in present]
    return list(dict.fromkeys(col.dropna().tolist()))


#: Policies that see the future: every figure names them as the bound they are.
CLAIRVOYANT_LABELS = {"oracle": "oracle (hindsight lower bound)"}


def _level_text(level: Any) -> str:
    if isinstance(level, tuple):
        return " · ".join(_level_text(v) for v in level)
    return CLAIRVOYANT_LABELS.get(str(level), str(level))


@dataclass
class _Encoding:
    """How a group is drawn: colour always follows the hue level.

    For points (``lines=False``) the marker follows the style level (dense vs
    sparse), as a trade-off plot asks.  For lines the marker follows the hue and
    the line style follows the style level.  Without a style key, marker and
    line style follow the hue too.  Either way every category differs in
    something other than colour, so figures survive greyscale printing.
    """

    hue_keys: list[str]
    style_key: str | None
    hue_levels: list[tuple[Any, ...]]
    style_levels: list[Any]
    lines: bool = False

    @classmethod
    def build(cls, df: pd.DataFrame, hue_keys: Sequence[str], style_key: str | None,
              lines: bool = False) -> _Encoding:
        hue_keys = list(hue_keys)
        if hue_keys:
            per_key = [_levels(df, k) for k in hue_keys]
            present = set(map(tuple, df[hue_keys].astype(object).itertuples(index=False)))
            hue_levels = [t for t in itertools.product(*per_key) if t in present]
        else:
            hue_levels = [()]
        style_levels = _levels(df, style_key) if style_key else []
        return cls(hue_keys, style_key, hue_levels, style_levels, lines)

    def _palette(self) -> list[Any]:
        n = max(len(self.hue_levels), 1)
        if not self.hue_keys:
            return [(0.2, 0.2, 0.2)]
        return list(sns.color_palette("colorblind" if n <= 10 else "husl", n))

    def hue_of(self, row: pd.Series | dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[k] for k in self.hue_keys)

    def _indices(self, hue_level: tuple[Any, ...], style_level: Any) -> tuple[int, int]:
        hi = self.hue_levels.index(hue_level) if hue_level in self.hue_levels else 0
        if self.style_key is None:
            return hi, hi
        si = self.style_levels.index(style_level) if style_level in self.style_levels else 0
        return hi, si

    def props(self, hue_level: tuple[Any, ...], style_level: Any = None) -> dict[str, Any]:
        """``color``, ``marker`` and ``linestyle`` for one group."""
        hi, si = self._indices(hue_level, style_level)
        return {"color": self._palette()[hi],
                "marker": _MARKERS[(hi if self.lines else si) % len(_MARKERS)],
                "linestyle": _LINESTYLES[si % len(_LINESTYLES)]}

    def handles(self, run: Run) -> tuple[list[Any], list[str]]:
        """Legend entries: a bold heading per key, then one entry per level."""
        handles: list[Any] = []
        labels: list[str] = []
        blank = Line2D([], [], linestyle="none", marker="none")
        no_style = self.style_key is None
        if self.hue_keys:
            handles.append(blank)
            labels.append(" · ".join(_key_label(run, k) for k in self.hue_keys))
            for level in self.hue_levels:
                hi, _ = self._indices(level, None)
                marker = _MARKERS[hi % len(_MARKERS)] if (self.lines or no_style) else "o"
                ls: Any = (_LINESTYLES[hi % len(_LINESTYLES)] if no_style else "-") \
                    if self.lines else "none"
                handles.append(Line2D([], [], color=self._palette()[hi], marker=marker,
                                      linestyle=ls, markersize=6))
                labels.append(_level_text(level))
        if self.style_key:
            handles.append(blank)
            labels.append(_key_label(run, self.style_key))
            for si, level in enumerate(self.style_levels):
                handles.append(Line2D(
                    [], [], color="0.35",
                    marker="none" if self.lines else _MARKERS[si % len(_MARKERS)],
                    linestyle=_LINESTYLES[si % len(_LINESTYLES)] if self.lines else "none",
                    markersize=6))
                labels.append(str(level))
        return handles, labels


# -------------------------------------------------------------------- layout


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _finish(fig: Figure, title: str, caption: str,
            legend: tuple[list[Any], list[str]] | None = None) -> None:
    """Title on top, legend on the right, caption in small type at the bottom."""
    fig.suptitle(title, fontsize=11, fontweight="bold")
    if legend is not None and legend[0]:
        leg = fig.legend(*legend, loc="outside right upper", frameon=False, fontsize=8)
        for text, handle in zip(leg.get_texts(), legend[0], strict=True):
            if isinstance(handle, Line2D) and handle.get_marker() in ("none", "None", None) \
                    and handle.get_linestyle() in ("none", "None"):
                text.set_fontweight("bold")
    width_in = fig.get_figwidth()
    lines = textwrap.wrap(caption, width=int(width_in * 15)) or [""]
    height_in = fig.get_figheight()
    frac = min(0.4, (len(lines) * 0.15 + 0.1) / height_in)
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=(0, frac, 1, 1 - frac))
    fig.text(0.01, frac - 0.02 / height_in, "\n".join(lines), ha="left", va="top",
             fontsize=7, color="0.25", linespacing=1.3, gid=_CAPTION_GID)


@contextlib.contextmanager
def caption_hidden(fig: Figure) -> Iterator[None]:
    """Temporarily drop the caption drawn in the figure (and the room kept for it).

    Why: the HTML report prints the caption as text under the image; drawing it
    twice would only repeat it in a smaller font.
    """
    texts = [t for t in fig.texts if t.get_gid() == _CAPTION_GID]
    layout = fig.get_layout_engine()
    engine = layout if isinstance(layout, ConstrainedLayoutEngine) else None
    old_rect = engine.get()["rect"] if engine is not None else None
    for t in texts:
        t.set_visible(False)
    if engine is not None:
        engine.set(rect=(0, 0, 1, 1))
    try:
        yield
    finally:
        for t in texts:
            t.set_visible(True)
        if engine is not None:
            engine.set(rect=old_rect)


def _panel_grid(fig: Figure, n: int, ncols: int = 3,
                sharex: bool = False, sharey: bool = False) -> list[Axes]:
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[:n]:
        # The last row may be partly empty, so every panel keeps its x tick labels.
        ax.tick_params(labelbottom=True)
    return list(axes[:n])


def _first_col(ax: Axes) -> bool:
    spec = ax.get_subplotspec()
    return spec is None or spec.is_first_col()


def _value_ticks(ax: Axes, values: Sequence[float]) -> None:
    """Ticks at the swept values themselves; a log axis for a geometric sweep.

    Why: a sweep over 5, 10, 20, 40 Mbit/s is read value by value, and on a
    log axis its points are evenly spaced, as the user chose them.
    """
    vals = np.unique(np.asarray(values, dtype=float))
    if vals.size >= 3 and vals.min() > 0 and vals.max() / vals.min() >= 8:
        ax.set_xscale("log")
    if vals.size <= 8:
        ax.set_xticks(vals)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.6g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(6))


def _style() -> Any:
    """Seaborn's whitegrid/paper look, scoped so the caller's rcParams are untouched."""
    rc = {**sns.axes_style("whitegrid"), **sns.plotting_context("paper"),
          "axes.edgecolor": "0.3", "grid.color": "0.88", "font.size": 9,
          "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
          "svg.hashsalt": "splitsim", "svg.fonttype": "none"}
    return mpl.rc_context(rc)


def _caption(run: Run, what: str, ci: bool = True) -> str:
    parts = [what.rstrip(".") + "."]
    if ci:
        parts.append(f"Bars/bands: {CONFIDENCE:.0%} Student-t CI across replications.")
    parts.append(f"Scenario '{run.name}', {run.replications} replication"
                 f"{'s' if run.replications != 1 else ''} per sweep point"
                 f" ({run.sweep_points} point{'s' if run.sweep_points != 1 else ''}).")
    return " ".join(parts)


# -------------------------------------------------------------- key roles


def _is_numeric_key(run: Run, df: pd.DataFrame, key: str) -> bool:
    levels = _levels(df, key)
    return len(levels) >= 2 and numeric_axis(pd.Series(levels, dtype=object)) is not None


def _roles(run: Run, df: pd.DataFrame, hue: str | None = None,
           exclude: Sequence[str] = ()) -> tuple[str | None, str | None, list[str]]:
    """(hue key, style key, remaining keys) for a plot of sweep points.

    The policy is the natural hue and the model variant (dense vs sparse) the
    natural style; otherwise the first categorical keys take these roles.
    """
    keys = [k for k in run.sweep_keys if k in df.columns and k not in exclude]
    categorical = [k for k in keys if not _is_numeric_key(run, df, k)]
    if hue is None:
        if "scheduler.policy" in keys:
            hue = "scheduler.policy"
        elif categorical:
            hue = categorical[0]
        elif keys:
            hue = keys[0]
    style: str | None = None
    if "model.variant" in keys and hue != "model.variant":
        style = "model.variant"
    else:
        style = next((k for k in categorical if k != hue), None)
    rest = [k for k in keys if k not in (hue, style)]
    return hue, style, rest


def _facets(df: pd.DataFrame, keys: Sequence[str]) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Split ``df`` into panels, one per combination of ``keys`` (at most 12)."""
    if not keys:
        return [({}, df)]
    out = []
    for level, part in df.groupby(list(keys), observed=True, sort=True):
        level_t = level if isinstance(level, tuple) else (level,)
        out.append((dict(zip(keys, level_t, strict=True)), part))
    return out[:_MAX_PANELS]


def _facet_title(run: Run, level: dict[str, Any]) -> str:
    return ", ".join(f"{_key_label(run, k)} = {v}" for k, v in level.items())


def _sweep_keys(run: Run) -> list[str]:
    return [k for k in run.sweep_keys if k in run.summary.columns]


def _metrics_present(run: Run, metrics: Sequence[str], drop_constant: bool = True) -> list[str]:
    """Metrics with data; by default without those equal at every sweep point.

    Why: a panel of a flat line (throughput = arrival rate, no deadlines set)
    says nothing about the sweep and pushes the informative panels apart.
    """
    s = run.summary
    keep = [m for m in metrics if m in s.columns and s[m].notna().any()]
    if not drop_constant:
        return keep
    keys = _sweep_keys(run)
    means = s.groupby(keys, observed=True)[keep].mean() if keys else s[keep].mean().to_frame().T
    spread = (means.max() - means.min()).abs()
    scale = means.abs().max().clip(lower=1e-300)
    return [m for m in keep if spread[m] > 1e-9 * scale[m]]


# ------------------------------------------------------------- trade-offs


def _tradeoff(run: Run, x: str, y: str, name: str, title: str, what: str,
              hue: str | None = None, connect: str | None = None) -> PlotResult:
    """Mean of ``y`` against mean of ``x`` per sweep point, CI bars both ways, Pareto front.

    ``connect`` (a numeric sweep key, e.g. an exit threshold) joins the points
    of each hue/style group in order of that key, showing the curve it traces.
    """
    keys = _sweep_keys(run)
    hue, style, rest = _roles(run, run.summary, hue, exclude=[connect] if connect else [])
    minimise = (x not in HIGHER_IS_BETTER, y not in HIGHER_IS_BETTER)
    wide = summarise_wide(run.summary, keys, [x, y], CONFIDENCE)
    xm, ym = f"{x}_mean", f"{y}_mean"
    wide["pareto"] = False
    panels = _facets(wide, rest)
    for _, part in panels:
        wide.loc[part.index, "pareto"] = pareto_front(part, xm, ym, minimise)
    enc = _Encoding.build(wide, [hue] if hue else [], style)
    panels = _facets(wide, rest)

    fig = _new_figure(7.5 if len(panels) == 1 else 10.0,
                      4.6 if len(panels) <= 3 else 3.4 * int(np.ceil(len(panels) / 3)) + 1)
    axes = _panel_grid(fig, len(panels), sharex=True, sharey=True)
    for ax, (level, part) in zip(axes, panels, strict=True):
        if connect is not None:
            inner = [k for k in (hue, style) if k]
            groups = [g for _, g in part.groupby(inner, observed=True)] if inner else [part]
            for g in groups:
                along = numeric_axis(g[connect].astype(object))
                g = g.assign(_x=along[0] if along else np.arange(len(g))).sort_values("_x")
                p = enc.props(enc.hue_of(g.iloc[0]), g.iloc[0][style] if style else None)
                ax.plot(g[xm], g[ym], color=p["color"], linestyle=p["linestyle"],
                        linewidth=1.0, alpha=0.7, zorder=1, gid=f"along-{connect}")
        front = front_line(part, xm, ym, minimise)
        if len(front) >= 1:
            ax.step(front[xm], front[ym], where="post", color="0.2", linewidth=1.2,
                    linestyle=(0, (4, 2)), zorder=1.5, gid="pareto-front")
        for _, row in part.iterrows():
            p = enc.props(enc.hue_of(row), row[style] if style else None)
            ax.errorbar(row[xm], row[ym],
                        xerr=np.nan_to_num(row[f"{x}_half_width"]),
                        yerr=np.nan_to_num(row[f"{y}_half_width"]),
                        color=p["color"], marker=p["marker"], markersize=7,
                        markeredgecolor="black" if row["pareto"] else "white",
                        markeredgewidth=1.2 if row["pareto"] else 0.6,
                        linestyle="none", elinewidth=1.0, capsize=2.5, zorder=3)
            if (connect and len(part) <= 3 * _POINT_LABEL_LIMIT) or (
                    hue and not connect and len(part) <= _POINT_LABEL_LIMIT):
                text = str(row[connect]) if connect else str(row[hue])
                ax.annotate(text, (row[xm], row[ym]), xytext=(5, 4),
                            textcoords="offset points", fontsize=6.5, color="0.25")
        ax.set_xlabel(_label(x, wide[f"{x}_ci_high"], ax.xaxis))
        ylabel = _label(y, wide[f"{y}_ci_high"], ax.yaxis)
        if _first_col(ax):
            ax.set_ylabel(ylabel)
        if level:
            ax.set_title(_facet_title(run, level))
    handles, labels = enc.handles(run)
    handles += [Line2D([], [], color="0.2", linewidth=1.2, linestyle=(0, (4, 2)),
                       marker="o", markerfacecolor="white", markeredgecolor="black")]
    labels += ["Pareto front"]
    better = ("lower" if minimise[0] else "higher", "lower" if minimise[1] else "higher")
    what = (f"{what} One point per sweep point; points ringed in black form the Pareto "
            f"front ({better[0]} {LABELS.get(x, (x,))[0].lower()} and {better[1]} "
            f"{LABELS.get(y, (y,))[0].lower()} are better)")
    if rest and len(_facets(wide, rest)) < wide.groupby(rest, observed=True).ngroups:
        what += f"; only the first {_MAX_PANELS} panels are shown"
    _finish(fig, title, _caption(run, what), (handles, labels))
    cols = [*keys, "n", xm, f"{x}_ci_low", f"{x}_ci_high", ym, f"{y}_ci_low", f"{y}_ci_high",
            "pareto"]
    return PlotResult(name, title, _caption(run, what), fig, wide[cols])


def latency_energy_tradeoff(run: Run, hue: str | None = None) -> PlotResult:
    """Device energy against mean latency for every sweep point, with the Pareto front."""
    return _tradeoff(run, "latency_mean_s", "device_energy_mean_j", "tradeoff_latency_energy",
                     "Latency–energy trade-off",
                     "Mean device energy per request against mean end-to-end latency.", hue)


def accuracy_latency_tradeoff(run: Run, hue: str | None = None) -> PlotResult:
    """Accuracy against mean latency; joins points along a swept exit threshold if any."""
    connect = next((k for k in _sweep_keys(run) if "threshold" in k.lower()
                    and _is_numeric_key(run, run.summary, k)), None)
    what = "Accuracy against mean end-to-end latency."
    if connect:
        what += (f" Lines join the values of {connect} (the numbers next to the points) "
                 "within each group.")
    return _tradeoff(run, "latency_mean_s", "accuracy", "tradeoff_accuracy_latency",
                     "Accuracy–latency trade-off", what, hue, connect=connect)


def metric_scatter(run: Run, x: str, y: str, hue: str | None = None) -> PlotResult:
    """Any metric against any other metric (``splitsim plot --x METRIC --y METRIC``)."""
    return _tradeoff(run, x, y, f"scatter_{_slug(y)}_vs_{_slug(x)}",
                     f"{LABELS.get(y, (y,))[0]} vs {LABELS.get(x, (x,))[0].lower()}",
                     f"{LABELS.get(y, (y,))[0]} against {LABELS.get(x, (x,))[0].lower()}.", hue)


# --------------------------------------------------------- sweep parameters


def metrics_vs_parameter(run: Run, key: str, metrics: Sequence[str] | None = None,
                         hue: str | None = None) -> PlotResult | None:
    """Each metric against one swept parameter: mean line with a CI band per group."""
    keys = _sweep_keys(run)
    metrics = _metrics_present(run, metrics or HEADLINE_METRICS, drop_constant=metrics is None)
    if not metrics:
        return None
    hue_key, style, rest = _roles(run, run.summary, hue, exclude=[key])
    hue_keys = [k for k in (hue_key, *rest) if k]
    long = summarise(run.summary, keys, metrics, CONFIDENCE)
    xnum, unit = numeric_axis(long[key].astype(object)) or (long[key].cat.codes, "")
    long[f"{key} [numeric]"] = xnum.to_numpy()
    enc = _Encoding.build(long, hue_keys, style, lines=True)
    n = len(metrics)
    ncols = 3 if n > 4 else 2
    fig = _new_figure(10.0 if ncols == 3 else 7.5, 2.6 * int(np.ceil(n / ncols)) + 0.9)
    axes = _panel_grid(fig, n, ncols=ncols, sharex=True)
    xcol = f"{key} [numeric]"
    group_keys = [k for k in keys if k != key]
    for ax, metric in zip(axes, metrics, strict=True):
        part = long[long["metric"] == metric]
        groups = part.groupby(group_keys, observed=True, sort=True) if group_keys \
            else [((), part)]
        for _, g in groups:
            g = g.sort_values(xcol)
            first = g.iloc[0]
            p = enc.props(enc.hue_of(first), first[style] if style else None)
            ax.fill_between(g[xcol], g["ci_low"], g["ci_high"], color=p["color"], alpha=0.18,
                            linewidth=0)
            ax.plot(g[xcol], g["mean"], color=p["color"], marker=p["marker"],
                    linestyle=p["linestyle"], markersize=4, linewidth=1.3)
        ax.set_ylabel(_label(metric, part["ci_high"], ax.yaxis))
        ax.set_xlabel(f"{key} ({unit})" if unit else key)
        _value_ticks(ax, long[xcol])
    title = f"Metrics against {_key_label(run, key)}"
    caption = _caption(run, f"Mean of each metric against the swept {key}")
    _finish(fig, title, caption, enc.handles(run) if hue_keys or style else None)
    return PlotResult(f"metrics_vs_{_slug(key)}", title, caption, fig,
                      long[[*keys, xcol, "metric", "mean", "ci_low", "ci_high", "n"]])


def metrics_by_point(run: Run, metrics: Sequence[str] | None = None,
                     hue: str | None = None) -> PlotResult | None:
    """Each metric per categorical sweep point (policies on x), CI error bars.

    Why: a sweep of only categorical keys (policy × variant) has no x axis to
    draw lines along; small multiples of point estimates compare the policies.
    """
    keys = _sweep_keys(run)
    metrics = _metrics_present(run, metrics or HEADLINE_METRICS, drop_constant=metrics is None)
    if not metrics:
        return None
    hue_key, style, rest = _roles(run, run.summary, hue)
    xkey = hue_key
    long = summarise(run.summary, keys, metrics, CONFIDENCE)
    enc = _Encoding.build(long, [xkey] if xkey else [], style)
    series_keys = [k for k in (style, *rest) if k]
    series = [t for t in itertools.product(*[_levels(long, k) for k in series_keys])] \
        if series_keys else [()]
    xlevels = _levels(long, xkey) if xkey else []
    n = len(metrics)
    ncols = 3 if n > 4 else 2
    fig = _new_figure(10.0 if ncols == 3 else 7.5, 2.8 * int(np.ceil(n / ncols)) + 1.2)
    axes = _panel_grid(fig, n, ncols=ncols, sharex=True)
    width = 0.7
    for ax, metric in zip(axes, metrics, strict=True):
        part = long[long["metric"] == metric]
        for si, s_level in enumerate(series):
            sel = part
            for k, v in zip(series_keys, s_level, strict=True):
                sel = sel[sel[k] == v]
            if sel.empty:
                continue
            offset = (si - (len(series) - 1) / 2) * width / max(len(series), 1)
            for _, row in sel.iterrows():
                xi = xlevels.index(row[xkey]) + offset
                p = enc.props((row[xkey],), row[style] if style else None)
                ax.errorbar(xi, row["mean"], yerr=np.nan_to_num(row["half_width"]),
                            color=p["color"], marker=p["marker"], markersize=5,
                            linestyle="none", capsize=2, elinewidth=1)
        ax.set_xticks(range(len(xlevels)))
        ax.set_xticklabels([str(v) for v in xlevels], rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(_label(metric, part["ci_high"], ax.yaxis))
        ax.grid(axis="x", visible=False)
    title = "Metrics per sweep point"
    what = "Mean of each metric per sweep point"
    if rest:
        what += f"; points side by side differ in {', '.join(rest)}"
    caption = _caption(run, what)
    _finish(fig, title, caption, enc.handles(run))
    return PlotResult("metrics_by_point", title, caption, fig,
                      long[[*keys, "metric", "mean", "ci_low", "ci_high", "n"]])


def latency_breakdown(run: Run) -> PlotResult:
    """Mean latency split into its stages (DESIGN §9), one stacked bar per sweep point.

    Works for a run without a sweep too (a single bar), which is why it is
    always drawn: it shows where the time goes.
    """
    keys = _sweep_keys(run)
    stages = [s for s in STAGE_METRICS if s in run.summary.columns]
    wide = summarise_wide(run.summary, keys, [*stages, "latency_mean_s"], CONFIDENCE)
    labels = [_level_text(tuple(r)) for r in wide[keys].itertuples(index=False)] if keys \
        else ["all replications"]
    n = len(wide)
    fig = _new_figure(7.5, min(0.32 * n + 2.2, 14.0))
    ax = fig.subplots()
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    palette = sns.color_palette("colorblind", len(stages))
    handles = []
    scale_values = wide["latency_mean_s_ci_high"].fillna(wide["latency_mean_s_mean"])
    for i, stage in enumerate(stages):
        vals = wide[f"{stage}_mean"].fillna(0.0).to_numpy()
        ax.barh(y, vals, left=left, color=palette[i], hatch=_HATCHES[i % len(_HATCHES)],
                edgecolor="white", linewidth=0.6, height=0.7)
        handles.append(Patch(facecolor=palette[i], hatch=_HATCHES[i % len(_HATCHES)],
                             edgecolor="white", label=LABELS[stage][0]))
        left += vals
    ax.errorbar(wide["latency_mean_s_mean"], y, xerr=np.nan_to_num(
        wide["latency_mean_s_half_width"]), fmt="none", ecolor="black", capsize=2.5,
        elinewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel(_label("latency_mean_s", scale_values, ax.xaxis))
    if keys:
        ax.set_ylabel(" · ".join(_key_label(run, k) for k in keys))
    ax.grid(axis="y", visible=False)
    title = "Where the time goes"
    caption = _caption(run, "Mean latency per request split into stages (a skipped stage "
                       "counts as zero); the black bar is the CI of the total mean latency")
    _finish(fig, title, caption, (handles, [str(h.get_label()) for h in handles]))
    data = wide[[*keys, "n", *[f"{s}_mean" for s in stages], "latency_mean_s_mean",
                 "latency_mean_s_ci_low", "latency_mean_s_ci_high"]]
    return PlotResult("latency_breakdown", title, caption, fig, data)


# ------------------------------------------------------------ per request


def _ecdf_points(values: np.ndarray, max_points: int = _CDF_POINTS) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Exact points (x, F(x)) of the empirical CDF, thinned to ``max_points`` quantiles."""
    v = np.sort(values[np.isfinite(values)])
    if v.size == 0:
        return np.array([]), np.array([])
    if v.size > max_points:
        ranks = np.ceil(np.linspace(1, max_points, max_points) / max_points * v.size)
        xs = np.unique(v[ranks.astype(int) - 1])
        xs = np.unique(np.concatenate([[v[0]], xs]))
    else:
        xs = np.unique(v)
    return xs, np.searchsorted(v, xs, side="right") / v.size


def latency_cdf(run: Run, hue: str | None = None) -> PlotResult | None:
    """Empirical CDF of per-request latency, one line per sweep point (requests.parquet)."""
    req = run.requests
    if req is None or "latency_s" not in req.columns:
        return None
    keys = [k for k in _sweep_keys(run) if k in req.columns]
    hue_key, style, rest = _roles(run, req, hue)
    rows = []
    groups = req.groupby(keys, observed=True, sort=True) if keys else [((), req)]
    for level, g in groups:
        level_t = level if isinstance(level, tuple) else (level,)
        xs, fs = _ecdf_points(g["latency_s"].to_numpy(dtype=float))
        rows.append(pd.DataFrame({**dict(zip(keys, level_t, strict=True)), "latency_s": xs,
                                  "cdf": fs}))
    data = pd.concat(rows, ignore_index=True)
    for k in keys:
        data[k] = pd.Categorical(data[k], categories=req[k].cat.categories, ordered=True) \
            if isinstance(req[k].dtype, pd.CategoricalDtype) else data[k]
    enc = _Encoding.build(data, [hue_key] if hue_key else [], style, lines=True)
    panels = _facets(data, rest)
    fig = _new_figure(7.5 if len(panels) == 1 else 10.0,
                      4.2 if len(panels) <= 3 else 3.2 * int(np.ceil(len(panels) / 3)) + 1)
    axes = _panel_grid(fig, len(panels), sharex=True, sharey=True)
    positive = data["latency_s"][data["latency_s"] > 0]
    log = bool(len(positive) and positive.max() / positive.min() > 50)
    for ax, (level, part) in zip(axes, panels, strict=True):
        inner = [k for k in (hue_key, style) if k]
        for _, g in (part.groupby(inner, observed=True, sort=True) if inner else [((), part)]):
            first = g.iloc[0]
            p = enc.props(enc.hue_of(first), first[style] if style else None)
            ax.step(np.r_[g["latency_s"].iloc[0], g["latency_s"]], np.r_[0.0, g["cdf"]],
                    where="post", color=p["color"], linestyle=p["linestyle"], linewidth=1.4,
                    marker=p["marker"], markevery=0.12, markersize=4.5)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(_label("latency_s", data["latency_s"], ax.xaxis))
        if _first_col(ax):
            ax.set_ylabel("Fraction of requests")
        ax.set_ylim(0, 1.02)
        if level:
            ax.set_title(_facet_title(run, level))
    title = "Latency distribution"
    caption = _caption(run, "Empirical CDF of end-to-end latency per request, pooled over "
                       "replications (after warm-up)", ci=False)
    _finish(fig, title, caption, enc.handles(run))
    return PlotResult("latency_cdf", title, caption, fig, data)


def split_over_time(run: Run, hue: str | None = None, max_requests: int = 400,
                    max_panels: int = 8) -> PlotResult | None:
    """The split each policy chose over time, under the uplink rate it faced.

    One replication (the first), one device (the first) and the first value
    of every sweep key other than the hue and style keys; one panel per
    policy × variant below a shared panel of the true uplink rate (under
    common random numbers every policy faced the same channel).  Groups whose
    split never changes are left out when others do change, and the time axis
    stops after ``max_requests`` decisions so single decisions stay visible.
    """
    req = run.requests
    if req is None or not {"split", "arrival_s"} <= set(req.columns):
        return None
    keys = [k for k in _sweep_keys(run) if k in req.columns]
    hue_key, style, rest = _roles(run, req, hue)
    sel = req
    notes = []
    if "replication" in sel.columns:
        rep = sel["replication"].min()
        sel = sel[sel["replication"] == rep]
        notes.append(f"replication {rep}")
    if "device" in sel.columns and sel["device"].nunique() > 1:
        dev = sel["device"].iloc[0]
        sel = sel[sel["device"] == dev]
        notes.append(f"device {dev}")
    for k in rest:
        first = _levels(sel, k)[0]
        sel = sel[sel[k] == first]
        notes.append(f"{_key_label(run, k)} = {first}")
    inner = [k for k in (hue_key, style) if k]
    groups = [(lv if isinstance(lv, tuple) else (lv,), g.sort_values("arrival_s"))
              for lv, g in (sel.groupby(inner, observed=True, sort=True) if inner
                            else [((), sel)])]
    varying = [(lv, g) for lv, g in groups if g["split"].nunique() > 1]
    dropped = [_level_text(lv) for lv, g in groups if g["split"].nunique() <= 1] \
        if varying else []
    groups = (varying or groups)[:max_panels]
    t_end = min(g["arrival_s"].iloc[min(max_requests, len(g)) - 1] for _, g in groups)
    parts = [g[g["arrival_s"] <= t_end] for _, g in groups]
    data = pd.concat(parts, ignore_index=True)
    cols = [*keys, *[c for c in ("replication", "device", "request", "arrival_s", "split",
                                 "exit", "uplink_rate_bps") if c in data.columns]]
    data = data[cols].reset_index(drop=True)
    enc = _Encoding.build(data, [hue_key] if hue_key else [], style, lines=True)
    has_rate = "uplink_rate_bps" in data.columns and data["uplink_rate_bps"].notna().any()
    n = len(parts) + int(has_rate)
    fig = _new_figure(7.5, 1.15 * n + 1.5)
    axes = list(fig.subplots(n, 1, sharex=True, squeeze=False,
                             height_ratios=[1.0] * n).ravel())
    if has_rate:
        ax_rate = axes.pop(0)
        rate = parts[0]
        ax_rate.step(rate["arrival_s"], rate["uplink_rate_bps"], where="post", color="0.2",
                     linewidth=1.1)
        ax_rate.set_ylabel(_label("uplink_rate_bps", rate["uplink_rate_bps"], ax_rate.yaxis)
                           .replace(" (", "\n("), fontsize=8)
        ax_rate.set_ylim(bottom=0)
        ax_rate.set_title("true uplink rate at each decision", fontsize=8, loc="left")
    lo, hi = int(data["split"].min()), int(data["split"].max())
    for ax, (level, g) in zip(axes, groups, strict=True):
        g = g[g["arrival_s"] <= t_end]
        first = g.iloc[0]
        p = enc.props(enc.hue_of(first), first[style] if style else None)
        ax.step(g["arrival_s"], g["split"], where="post", color=p["color"],
                linestyle=p["linestyle"], linewidth=1.2)
        ax.plot(g["arrival_s"], g["split"], linestyle="none", marker=p["marker"],
                color=p["color"], markersize=3)
        ax.set_ylim(lo - 0.5, hi + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        ax.set_ylabel("split", fontsize=8)
        ax.set_title(_level_text(level) or "all requests", fontsize=8, loc="left")
    axes[-1].set_xlabel(_label("arrival_s"))
    title = "Split decisions over time"
    what = (f"Split chosen per request (blocks run on the device; 0 = server-only) for "
            f"{', '.join(notes) or 'the run'}, up to {max_requests} requests per panel")
    if dropped:
        what += f". Not shown (split never changes): {', '.join(dropped)}"
    caption = _caption(run, what, ci=False)
    _finish(fig, title, caption)
    return PlotResult("split_over_time", title, caption, fig, data)


def split_histogram(run: Run, hue: str | None = None) -> PlotResult | None:
    """Fraction of requests at each split index, one panel per policy."""
    req = run.requests
    if req is None or "split" not in req.columns:
        return None
    hue_key, style, rest = _roles(run, req, hue)
    inner = [k for k in (hue_key, style) if k]
    counts = (req.groupby([*inner, "split"], observed=True, sort=True).size()
              .rename("count").reset_index())
    totals = counts.groupby(inner, observed=True)["count"].transform("sum") if inner \
        else counts["count"].sum()
    counts["fraction"] = counts["count"] / totals
    panels = _levels(counts, hue_key) if hue_key else [None]
    styles = _levels(counts, style) if style else [None]
    enc = _Encoding.build(counts, [hue_key] if hue_key else [], style)
    splits = np.arange(int(counts["split"].min()), int(counts["split"].max()) + 1)
    ncols = 2 if len(panels) > 3 else 1
    fig = _new_figure(7.5, 1.6 * int(np.ceil(len(panels) / ncols)) + 1.4)
    axes = _panel_grid(fig, len(panels), ncols=ncols, sharex=True, sharey=True)
    width = 0.8 / len(styles)
    for ax, level in zip(axes, panels, strict=True):
        part = counts if level is None else counts[counts[hue_key] == level]
        for si, s_level in enumerate(styles):
            sp = part if s_level is None else part[part[style] == s_level]
            frac = sp.set_index("split")["fraction"].reindex(splits, fill_value=0.0)
            p = enc.props((level,) if hue_key else (), s_level)
            ax.bar(splits + (si - (len(styles) - 1) / 2) * width, frac.to_numpy(), width=width,
                   color=p["color"], hatch=_HATCHES[si % len(_HATCHES)], edgecolor="white",
                   linewidth=0.5, label=str(s_level))
        ax.set_title(str(level) if level is not None else "all requests", fontsize=8)
        if _first_col(ax):
            ax.set_ylabel("Fraction of requests")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v * 100:.0f}%"))
        ax.grid(axis="x", visible=False)
        ax.set_xlabel(_label("split"))
    ax0 = axes[0]
    ax0.xaxis.set_major_locator(MaxNLocator(integer=True))
    legend = None
    if style:
        handles = [Line2D([], [], linestyle="none", marker="none")] + [
            Patch(facecolor="0.55", hatch=_HATCHES[i % len(_HATCHES)], edgecolor="white")
            for i in range(len(styles))]
        legend = (handles, [_key_label(run, style), *[str(s) for s in styles]])
    title = "Split chosen per request"
    what = "Fraction of requests at each split index (0 = server-only)"
    if rest:
        what += f", pooled over {', '.join(rest)} and replications"
    else:
        what += ", pooled over replications"
    caption = _caption(run, what, ci=False)
    _finish(fig, title, caption, legend)
    return PlotResult("split_histogram", title, caption, fig, counts)


# ---------------------------------------------------------- comparisons


def regret_figure(run: Run) -> PlotResult | None:
    """Each policy's regret against the hindsight oracle, with paired-t CI bars.

    Why: the oracle knows the channel and queues that actually occurred, so it
    bounds what any scheduler could achieve; the height of a bar is how much a
    real policy gives away.  One panel per metric (latency, device energy), a
    group of bars per point of the other grid keys, one bar per policy; the
    data are :func:`analysis.compare.regret_vs_oracle`.  ``None`` unless
    ``scheduler.policy`` is a grid key with ``oracle`` among its values.
    """
    keys = _sweep_keys(run)
    table = regret_vs_oracle(run.summary, keys, confidence=CONFIDENCE)
    if table.empty:
        return None
    others = [k for k in keys if k != POLICY_KEY]
    metrics = list(dict.fromkeys(table["metric"]))
    policies = list(dict.fromkeys(table["policy"]))
    points = (list(dict.fromkeys(map(tuple, table[others].astype(object)
                                     .itertuples(index=False)))) if others else [()])
    enc = _Encoding.build(run.summary, [POLICY_KEY], None)
    fig = _new_figure(7.5, 2.6 * len(metrics) + 1.6)
    axes = _panel_grid(fig, len(metrics), ncols=1)
    width = 0.8 / len(policies)
    handles: list[Any] = []
    for ax, metric in zip(axes, metrics, strict=True):
        part = table[table["metric"] == metric]
        for pi, policy in enumerate(policies):
            sel = part[part["policy"] == policy]
            xs, heights, errs = [], [], []
            for _, row in sel.iterrows():
                point = tuple(row[k] for k in others)
                xs.append(points.index(point) + (pi - (len(policies) - 1) / 2) * width)
                heights.append(row["regret"])
                errs.append(np.nan_to_num(row["half_width"]))
            color = enc.props((policy,))["color"]
            hatch = _HATCHES[pi % len(_HATCHES)]
            ax.bar(xs, heights, width=width, color=color, hatch=hatch, edgecolor="white",
                   linewidth=0.5)
            ax.errorbar(xs, heights, yerr=errs, fmt="none", ecolor="black", capsize=2.5,
                        elinewidth=1)
            if ax is axes[0]:
                handles.append(Patch(facecolor=color, hatch=hatch, edgecolor="white",
                                     label=_level_text(policy)))
        ax.axhline(0.0, color="0.2", linewidth=0.8)
        ax.set_xticks(range(len(points)))
        crowded = len(points) > 4
        ax.set_xticklabels([_level_text(p) if p else "all" for p in points], fontsize=7,
                           rotation=30 if crowded else 0, ha="right" if crowded else "center")
        name = LABELS.get(metric, (metric, ""))[0]
        scale_values = (part["regret"].abs() + part["half_width"].fillna(0.0)).to_numpy()
        unit_label = _label(metric, scale_values, ax.yaxis)
        ax.set_ylabel(f"Regret: {name.lower()}" + unit_label[len(name):], fontsize=8)
        ax.set_title(name, fontsize=8)
        ax.grid(axis="x", visible=False)
    if others:
        axes[-1].set_xlabel(" · ".join(_key_label(run, k) for k in others))
    title = "Regret against the hindsight oracle"
    what = (f"Each policy minus '{ORACLE}' (policy − oracle), paired by replication under "
            "common random numbers, for each point of the other grid keys. The oracle "
            "chooses every request's split and exit in hindsight, knowing the channel and "
            "queues that actually occurred: it is the hindsight lower bound for the "
            "scheduler's objective, so a bar above 0 is what a policy gives away by not "
            "knowing the future (in a metric the policy does not optimise, a bar may fall "
            "below 0)")
    caption = _caption(run, what).replace("across replications",
                                          "of the paired differences across replications")
    legend = ([Line2D([], [], linestyle="none", marker="none"), *handles],
              [_key_label(run, POLICY_KEY), *[str(h.get_label()) for h in handles]])
    _finish(fig, title, caption, legend)
    return PlotResult("regret_vs_oracle", title, caption, fig, table)


def decision_counts_table(run: Run) -> pd.DataFrame | None:
    """Fraction of requests at each split and each early exit per grid point.

    The tidy :func:`analysis.compare.decision_counts` of ``requests.parquet``
    (``None`` without it); :func:`plot_run` writes it as
    ``plots/decision_counts.csv`` next to the split histogram.
    """
    req = run.requests
    if req is None or not ({"split", "exit"} & set(req.columns)):
        return None
    return decision_counts(req, [k for k in run.sweep_keys if k in req.columns])


# ----------------------------------------------------------------- driver


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()


def build_figures(run: Run, x: str | None = None, y: str | None = None,
                  hue: str | None = None) -> list[PlotResult]:
    """The figures that fit ``run`` (or the one asked for with ``x``/``y``).

    Default set: latency breakdown (always); with ≥ 2 sweep points the
    latency–energy trade-off and, if accuracy differs between points, the
    accuracy–latency trade-off; each headline metric against every numeric
    swept parameter (or per sweep point when nothing numeric is swept); and
    with ``requests.parquet`` the latency CDF, split decisions over time and
    the split histogram; and, when ``scheduler.policy`` is a grid key that
    includes ``oracle``, each policy's regret against it.  ``hue`` overrides
    the key coloured in every figure.
    Giving ``x`` or ``y`` draws just that figure: ``y`` (a metric, default
    mean latency) against ``x`` (a sweep key → lines with CI bands; a metric →
    scatter with CI bars and Pareto front).
    """
    _check_args(run, x, y, hue)
    with _style():
        if x is not None or y is not None:
            return [_custom(run, x, y or "latency_mean_s", hue)]
        figures: list[PlotResult] = [latency_breakdown(run)]
        if run.sweep_points >= 2:
            figures.append(latency_energy_tradeoff(run, hue))
            acc = summarise(run.summary, _sweep_keys(run), ["accuracy"])["mean"]
            if acc.notna().any() and acc.max() - acc.min() > 1e-12:
                figures.append(accuracy_latency_tradeoff(run, hue))
            numeric = [k for k in _sweep_keys(run) if _is_numeric_key(run, run.summary, k)]
            candidates = [metrics_vs_parameter(run, key, hue=hue) for key in numeric]
            if not numeric:
                candidates.append(metrics_by_point(run, hue=hue))
            figures += [f for f in candidates if f is not None]
        for fn in (latency_cdf, split_over_time, split_histogram):
            result = fn(run, hue)
            if result is not None:
                figures.append(result)
        regret = regret_figure(run)
        if regret is not None:
            figures.append(regret)
        return figures


def _custom(run: Run, x: str | None, y: str, hue: str | None) -> PlotResult:
    keys = _sweep_keys(run)
    if x is None:
        numeric = [k for k in keys if _is_numeric_key(run, run.summary, k)]
        x = numeric[0] if numeric else (keys[0] if keys else None)
        if x is None:
            raise ValueError("this run has no sweep; give --x as a metric to plot against")
    if not run.summary[y].notna().any():
        raise ValueError(f"metric {y!r} has no values in this run")
    if x in keys:
        result = (metrics_vs_parameter(run, x, [y], hue=hue)
                  if _is_numeric_key(run, run.summary, x)
                  else metrics_by_point(run, [y], hue=hue if hue is not None else x))
        assert result is not None  # y has values, checked above
        return result
    return metric_scatter(run, x, y, hue)


def _check_args(run: Run, x: str | None, y: str | None, hue: str | None) -> None:
    keys = _sweep_keys(run)
    metrics = [m for m in SUMMARY_METRICS if m in run.summary.columns]
    if y is not None and y not in metrics:
        raise ValueError(f"--y must be a metric, one of: {', '.join(metrics)}; got {y!r}")
    if x is not None and x not in metrics and x not in keys:
        raise ValueError(f"--x must be a sweep key ({', '.join(keys) or 'none swept'}) or a "
                         f"metric ({', '.join(metrics)}); got {x!r}")
    if hue is not None and hue not in keys:
        raise ValueError(f"--hue must be a sweep key ({', '.join(keys) or 'none swept'}); "
                         f"got {hue!r}")


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` via a temporary file in the same directory and ``os.replace``.

    Why: a reader (the report, a browser, a second ``splitsim plot``) never
    sees a half-written file, and a crash leaves the old file intact.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(result: PlotResult, out_dir: Path, fmt: str = "png", dpi: int = 150) -> list[Path]:
    """Write ``<name>.<fmt>`` and ``<name>.csv`` into ``out_dir``; return both paths."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    fig_path = out_dir / f"{result.name}.{fmt}"
    csv_path = out_dir / f"{result.name}.csv"
    metadata: dict[str, Any] = {"Title": result.title}
    if fmt == "png":
        metadata["Description"] = result.caption
    with _style():
        atomic_write(fig_path, lambda fh: result.figure.savefig(
            fh, format=fmt, dpi=dpi, metadata=metadata))
    atomic_write(csv_path, lambda fh: fh.write(result.data.to_csv(index=False).encode()))
    result.paths = [fig_path, csv_path]
    return result.paths


def plot_run(run_dir: str | Path, x: str | None = None, y: str | None = None,
             hue: str | None = None, fmt: str = "png") -> list[Path]:
    """Draw the figures for a run directory into ``RUN_DIR/plots/``.

    Returns the figure paths (each has a ``.csv`` of its data beside it); the
    default set also writes ``decision_counts.csv`` (splits and exits per grid
    point) when ``requests.parquet`` exists.
    Raises ``ValueError`` for an unknown ``x``/``y``/``hue``/``fmt`` (the CLI's
    bad-input case) and :class:`analysis.load.RunDirError` for a directory that
    is not a finished run.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    run = load(run_dir)
    out_dir = Path(run_dir) / "plots"
    paths: list[Path] = []
    for result in build_figures(run, x=x, y=y, hue=hue):
        paths.append(save(result, out_dir, fmt)[0])
    if x is None and y is None:
        decisions = decision_counts_table(run)
        if decisions is not None:
            csv = decisions.to_csv(index=False).encode()
            atomic_write(out_dir / "decision_counts.csv", lambda fh: fh.write(csv))
    return paths


__all__ = [
    "FORMATS",
    "PlotResult",
    "accuracy_latency_tradeoff",
    "atomic_write",
    "build_figures",
    "decision_counts_table",
    "latency_breakdown",
    "latency_cdf",
    "latency_energy_tradeoff",
    "metric_scatter",
    "metrics_by_point",
    "metrics_vs_parameter",
    "plot_run",
    "regret_figure",
    "save",
    "split_histogram",
    "split_over_time",
]
