"""A single self-contained HTML page for a run directory.

Why: a person opening a run wants the answer first (figures, the table of
sweep points with confidence intervals, the Pareto set) and the evidence
after (the scenario exactly as run, where the model profiles came from, the
manifest).  One file with the figures embedded as base64 PNG, inline CSS and
no script or external resource can be mailed, archived with a paper, or
opened offline years later and look the same.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.compare import (
    ORACLE,
    POLICY_KEY,
    decision_counts,
    decision_table,
    has_oracle,
    regret_vs_oracle,
)
from analysis.load import SUMMARY_METRICS, Run, load
from analysis.pareto import pareto_front
from analysis.plots import (
    CONFIDENCE,
    HIGHER_IS_BETTER,
    LABELS,
    PlotResult,
    _display_unit,
    _style,
    atomic_write,
    build_figures,
    caption_hidden,
)
from analysis.stats import paired_difference, summarise_wide

#: Metrics shown in the main table (all metrics are in the collapsible full table).
TABLE_METRICS: tuple[str, ...] = (
    "latency_mean_s",
    "latency_p95_s",
    "device_energy_mean_j",
    "accuracy",
    "offload_rate",
    "split_mean",
    "deadline_miss_rate",
)

_CSS = """
:root { --fg:#1d232a; --muted:#5b6672; --line:#d9dee3; --accent:#0b6e99; --bg:#ffffff;
        --soft:#f5f7f9; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:var(--bg);
       font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
       sans-serif; }
header { background:#12344d; color:#fff; padding:28px 0 22px; }
header h1 { margin:0 0 4px; font-size:26px; font-weight:650; }
header p { margin:0; color:#c9d6e2; }
main, .wrap { max-width:1200px; margin:0 auto; padding:0 24px; }
nav { border-bottom:1px solid var(--line); background:var(--soft); }
nav a { display:inline-block; padding:10px 12px 10px 0; margin-right:12px; color:var(--accent);
        text-decoration:none; font-size:14px; }
nav a:hover { text-decoration:underline; }
h2 { font-size:20px; margin:36px 0 10px; padding-bottom:4px; border-bottom:2px solid var(--line); }
h3 { font-size:16px; margin:24px 0 8px; }
.facts { display:flex; flex-wrap:wrap; gap:12px; margin:20px 0 4px; }
.fact { background:var(--soft); border:1px solid var(--line); border-radius:8px;
        padding:10px 14px; min-width:130px; }
.fact b { display:block; font-size:20px; }
.fact span { color:var(--muted); font-size:13px; }
figure { margin:22px 0; padding:14px; border:1px solid var(--line); border-radius:8px;
         background:#fff; }
figure img { display:block; max-width:100%; height:auto; margin:0 auto; }
figcaption { color:var(--muted); font-size:13.5px; margin-top:8px; }
figcaption b { color:var(--fg); }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; font-size:13.5px; margin:8px 0 16px; width:auto; }
th, td { border-bottom:1px solid var(--line); padding:5px 10px; text-align:right;
         vertical-align:top; white-space:nowrap; }
th { background:var(--soft); font-weight:600; position:sticky; top:0; white-space:normal;
     min-width:5.5em; }
th.key, td.key { text-align:left; }
tbody tr:nth-child(even) td { background:#fafbfc; }
tr.front td { background:#eef7ee !important; }
td.note, p.note { color:var(--muted); }
.badge { display:inline-block; font-size:11px; padding:1px 6px; border-radius:9px;
         background:#2e7d32; color:#fff; }
pre { background:var(--soft); border:1px solid var(--line); border-radius:6px; padding:12px 14px;
      overflow-x:auto; font-size:12.5px; line-height:1.45; }
details { margin:10px 0; }
summary { cursor:pointer; color:var(--accent); }
footer { color:var(--muted); font-size:12.5px; margin:40px 0 30px; border-top:1px solid var(--line);
         padding-top:10px; }
@media print { nav { display:none; } figure { break-inside:avoid; } }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_number(x: float, decimals: int) -> str:
    return f"{x:.{max(decimals, 0)}f}"


def format_ci(mean: float, half_width: float, metric: str, values: Iterable[float]) -> str:
    """"mean ± half width unit" in a readable unit, rounded to the CI's precision.

    The half width keeps two significant digits and the mean is rounded to the
    same decimal place, so no digit is shown that the data cannot support.
    ``values`` (SI) pick the display unit shared by a whole column.
    """
    kind = LABELS.get(metric, (metric, ""))[1]
    scale, unit = _display_unit(kind, list(values))
    suffix = f" {unit}" if unit else ""
    if mean is None or not math.isfinite(mean):
        return "–"
    m = mean * scale
    if half_width is None or not math.isfinite(half_width):
        return f"{m:.4g}{suffix}"
    hw = abs(half_width * scale)
    if hw == 0:
        return f"{m:.4g} ± 0{suffix}"
    decimals = max(0, 1 - math.floor(math.log10(hw)))
    return f"{_fmt_number(m, decimals)} ± {_fmt_number(hw, decimals)}{suffix}"


def _metric_header(metric: str) -> str:
    name = LABELS.get(metric, (metric, ""))[0]
    return f'{_e(name)}<br><small><code>{_e(metric)}</code></small>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], key_cols: int = 0,
           row_classes: Sequence[str] | None = None, table_id: str = "") -> str:
    """An HTML table; header and cells are already-escaped HTML."""
    out = [f'<div class="scroll"><table{f" id={chr(34)}{table_id}{chr(34)}" if table_id else ""}>',
           "<thead><tr>"]
    out += [f'<th class="key">{h}</th>' if i < key_cols else f"<th>{h}</th>"
            for i, h in enumerate(header)]
    out.append("</tr></thead><tbody>")
    for r, row in enumerate(rows):
        cls = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        out.append(f"<tr{cls}>" + "".join(
            f'<td class="key">{c}</td>' if i < key_cols else f"<td>{c}</td>"
            for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _png(result: PlotResult, dpi: int = 130) -> str:
    buf = io.BytesIO()
    with _style(), caption_hidden(result.figure):
        result.figure.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figures_html(figures: Sequence[PlotResult]) -> str:
    parts = []
    for i, fig in enumerate(figures, start=1):
        parts.append(
            f'<figure id="fig-{_e(fig.name)}"><img alt="{_e(fig.title)}" '
            f'src="data:image/png;base64,{_png(fig)}">'
            f"<figcaption><b>Figure {i}. {_e(fig.title)}.</b> {_e(fig.caption)}</figcaption>"
            "</figure>")
    return "\n".join(parts)


def _points_table(run: Run, wide: pd.DataFrame, metrics: Sequence[str],
                  front: pd.Series | None) -> str:
    keys = run.sweep_keys
    header = [_e(k) for k in keys] + ["n"] + [_metric_header(m) for m in metrics]
    if front is not None:
        header.append("Pareto")
    rows, classes = [], []
    for idx, row in wide.iterrows():
        cells = [_e(row[k]) for k in keys] + [_e(int(row["n"]))]
        for m in metrics:
            cells.append(_e(format_ci(row[f"{m}_mean"], row[f"{m}_half_width"], m,
                                      wide[f"{m}_mean"])))
        on_front = front is not None and bool(front.loc[idx])
        if front is not None:
            cells.append('<span class="badge">front</span>' if on_front else "")
        rows.append(cells)
        classes.append("front" if on_front else "")
    return _table(header, rows, key_cols=len(keys), row_classes=classes)


def _pareto_section(run: Run, wide: pd.DataFrame) -> tuple[str, pd.Series | None]:
    """Pareto sets for latency–energy and, where accuracy varies, accuracy–latency.

    Fronts are computed per combination of the sweep keys that are not
    categorical choices (e.g. per uplink rate): comparing operating points
    across different channels would not be a choice the user can make.
    """
    if run.sweep_points < 2:
        return "<p class=\"note\">A single operating point: no trade-off to show.</p>", None
    from analysis.plots import _roles  # the same key roles as the figures

    _, _, rest = _roles(run, run.summary)
    parts, energy_front = [], None
    pairs = [("latency_mean_s", "device_energy_mean_j")]
    acc = wide.get("accuracy_mean")
    if acc is not None and acc.notna().any() and acc.max() - acc.min() > 1e-12:
        pairs.append(("latency_mean_s", "accuracy"))
    for x, y in pairs:
        if f"{x}_mean" not in wide or f"{y}_mean" not in wide:
            continue
        minimise = (x not in HIGHER_IS_BETTER, y not in HIGHER_IS_BETTER)
        mask = pd.Series(False, index=wide.index)
        groups = wide.groupby(rest, observed=True) if rest else [((), wide)]
        for _, part in groups:
            mask.loc[part.index] = pareto_front(part, f"{x}_mean", f"{y}_mean", minimise)
        if energy_front is None:
            energy_front = mask
        on = wide[mask]
        title = f"{LABELS[y][0]} vs {LABELS[x][0].lower()}"
        note = (f"{len(on)} of {len(wide)} sweep points are Pareto-optimal "
                f"({'lower' if minimise[0] else 'higher'} {LABELS[x][0].lower()} and "
                f"{'lower' if minimise[1] else 'higher'} {LABELS[y][0].lower()} are better"
                + (f"; fronts computed separately for each {', '.join(rest)}" if rest else "")
                + ").")
        header = [_e(k) for k in run.sweep_keys] + [_metric_header(x), _metric_header(y)]
        rows = [[_e(r[k]) for k in run.sweep_keys]
                + [_e(format_ci(r[f"{m}_mean"], r[f"{m}_half_width"], m, wide[f"{m}_mean"]))
                   for m in (x, y)] for _, r in on.iterrows()]
        parts.append(f"<h3>{_e(title)}</h3><p>{_e(note)}</p>"
                     + _table(header, rows, key_cols=len(run.sweep_keys)))
    return "\n".join(parts), energy_front


def _paired_section(run: Run) -> str:
    """Each policy minus a reference policy, paired by replication (common random numbers).

    Used when the run has no oracle; with one, :func:`_regret_section` shows
    the same differences against it, with the oracle's own values.
    """
    key = "scheduler.policy"
    if key not in run.sweep_keys or run.replications < 2:
        return ""
    levels = list(run.summary[key].cat.categories) \
        if isinstance(run.summary[key].dtype, pd.CategoricalDtype) \
        else list(dict.fromkeys(run.summary[key]))
    if len(levels) < 2:
        return ""
    ref = "oracle" if "oracle" in levels else levels[0]
    others = [k for k in run.sweep_keys if k != key]
    header = [_e(k) for k in others] + ["policy", "metric", "difference (policy − "
                                        f"{_e(ref)})", "pairs", "unpaired ± (Welch)"]
    rows = []
    for metric in ("latency_mean_s", "device_energy_mean_j"):
        if metric not in run.summary.columns:
            continue
        for policy in levels:
            if policy == ref:
                continue
            diff = paired_difference(run.summary, key, policy, ref, metric, by=others,
                                     confidence=CONFIDENCE)
            for _, d in diff.iterrows():
                rows.append([_e(d[k]) for k in others] + [
                    _e(policy), _e(LABELS[metric][0]),
                    _e(format_ci(d["mean"], d["half_width"], metric, [abs(d["mean"])])),
                    _e(int(d["n"])),
                    _e(format_ci(d["mean"], d["unpaired_half_width"], metric,
                                 [abs(d["mean"])]).split(" ± ")[-1]
                       if math.isfinite(d["unpaired_half_width"]) else "–")])
    if not rows:
        return ""
    return ("<h2 id=\"paired\">Paired comparisons</h2>"
            f"<p>Each policy minus <b>{_e(ref)}</b>, paired by replication: under common random "
            "numbers replication <i>r</i> of every policy sees the same arrivals and channel, so "
            f"the {CONFIDENCE:.0%} paired-t interval is usually much narrower than the interval "
            "for independent samples (last column, for comparison). An interval that excludes "
            "0 is a difference the replications resolve.</p>"
            + _table(header, rows, key_cols=len(others) + 2))


def _regret_section(run: Run) -> str:
    """Each policy minus the oracle (the hindsight bound), paired by replication."""
    keys = run.sweep_keys
    if run.replications < 2 or not has_oracle(run.summary, keys):
        return ""
    table = regret_vs_oracle(run.summary, keys, confidence=CONFIDENCE)
    if table.empty:
        return ""
    others = [k for k in keys if k != POLICY_KEY]
    header = [_e(k) for k in others] + [
        "policy", "metric", "regret (policy − oracle)", "relative to oracle", "policy mean",
        "oracle mean", "pairs", "unpaired ± (Welch)"]
    rows = []
    for _, d in table.iterrows():
        metric = d["metric"]
        scale = [abs(d["regret"])]
        means = [d["policy_mean"], d["oracle_mean"]]
        rel = d["relative_regret"]
        rows.append([_e(d[k]) for k in others] + [
            _e(d["policy"]), _e(LABELS.get(metric, (metric, ""))[0]),
            _e(format_ci(d["regret"], d["half_width"], metric, scale)),
            _e(f"{rel:+.1%}" if math.isfinite(rel) else "–"),
            _e(format_ci(d["policy_mean"], math.nan, metric, means)),
            _e(format_ci(d["oracle_mean"], math.nan, metric, means)),
            _e(int(d["n"])),
            _e(format_ci(d["regret"], d["unpaired_half_width"], metric, scale)
               .split(" ± ")[-1] if math.isfinite(d["unpaired_half_width"]) else "–")])
    return ("<h2 id=\"regret\">Regret against the oracle</h2>"
            f"<p>Each policy minus <b>{_e(ORACLE)}</b>, the hindsight lower bound: the oracle "
            "chooses every request's split and exit knowing the channel and queues that "
            "actually occurred, so the regret is what a real policy gives away by not knowing "
            "the future (in a metric a policy does not optimise it may be negative). Under "
            "common random numbers replication <i>r</i> of every policy sees the same arrivals "
            f"and channel, so the difference is paired by replication and its {CONFIDENCE:.0%} "
            "paired-t interval is usually much narrower than the interval for independent "
            "samples (last column, for comparison); one row per point of the other grid keys. "
            "An interval that excludes 0 is a difference the replications resolve. Written as "
            "<code>plots/regret_vs_oracle.csv</code> by <code>splitsim plot</code>.</p>"
            + _table(header, rows, key_cols=len(others) + 2))


def _decisions_section(run: Run) -> str:
    """Share of requests at each split and at each early exit, per grid point."""
    req = run.requests
    if req is None:
        return ""
    keys = [k for k in run.sweep_keys if k in req.columns]
    counts = decision_counts(req, keys)
    if counts.empty:
        return ""
    table = decision_table(counts, keys)
    blocks = [c for c in table.columns if c not in (*keys, "requests")]
    header = [_e(k) for k in keys] + ["requests"] + [_e(c) for c in blocks]
    rows = [[_e(r[k]) for k in keys] + [_e(f"{int(r['requests']):,}")]
            + [_e(f"{r[c]:.1%}") if r[c] > 0 else "·" for c in blocks]
            for _, r in table.iterrows()]
    return ("<h2 id=\"decisions\">Decisions</h2>"
            "<p>Share of requests at each split (<i>split b</i>: the first <i>b</i> blocks "
            "run on the device, 0 = server-only) and at each early exit (<i>exit b</i>: the "
            "request left at the exit after block <i>b</i>; <i>no exit</i>: it reached the "
            "final classifier), from <code>requests.parquet</code>, pooled over replications "
            "and devices; each group of columns adds up to 100% per row. The split histogram "
            "above shows the same split shares. Written as "
            "<code>plots/decision_counts.csv</code> by <code>splitsim plot</code>.</p>"
            + _table(header, rows, key_cols=len(keys)))


def _value_html(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"<pre>{_e(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>"
    return _e(value)


def _mapping_table(data: dict[str, Any]) -> str:
    rows = [[f"<code>{_e(k)}</code>", _value_html(v)] for k, v in data.items()]
    return _table(["key", "value"], rows, key_cols=2)


def _profiles_html(profiles: Any) -> str:
    """Provenance of the model profiles, as recorded in the manifest's ``profiles``."""
    if not profiles:
        return ("<p class=\"note\">The manifest records no model profiles "
                "(e.g. an inline model).</p>")
    if isinstance(profiles, dict):
        items = list(profiles.items())
    elif isinstance(profiles, list):
        items = [(p.get("name", f"profile {i}") if isinstance(p, dict) else f"profile {i}", p)
                 for i, p in enumerate(profiles, start=1)]
    else:
        return f"<pre>{_e(profiles)}</pre>"
    parts = []
    for name, info in items:
        parts.append(f"<h3>{_e(name)}</h3>")
        parts.append(_mapping_table(info) if isinstance(info, dict) else _value_html(info))
    return "\n".join(parts)


def _facts(run: Run) -> str:
    s = run.summary
    facts: list[tuple[object, str]] = [(run.sweep_points, "sweep points"),
                                       (run.replications, "replications each")]
    if "requests" in s.columns:
        facts.append((f"{int(s['requests'].sum()):,}", "requests simulated"))
    if "seed" in run.manifest:
        facts.append((run.manifest["seed"], "root seed"))
    if "wall_time_s" in run.manifest:
        facts.append((f"{float(run.manifest['wall_time_s']):.1f} s", "wall time"))
    return '<div class="facts">' + "".join(
        f'<div class="fact"><b>{_e(v)}</b><span>{_e(t)}</span></div>' for v, t in facts) + "</div>"


def render_report(run: Run, figures: Sequence[PlotResult] | None = None) -> str:
    """The report page for ``run`` as an HTML string (see :func:`write_report`)."""
    if figures is None:
        figures = build_figures(run)
    keys = run.sweep_keys
    metrics_all = [m for m in SUMMARY_METRICS if m in run.summary.columns and m != "requests"]
    wide = summarise_wide(run.summary, keys, metrics_all, CONFIDENCE)
    shown = [m for m in TABLE_METRICS if m in metrics_all and wide[f"{m}_mean"].notna().any()]
    pareto_html, front = _pareto_section(run, wide)
    regret_html = _regret_section(run)
    paired_html = "" if regret_html else _paired_section(run)
    decisions_html = _decisions_section(run)
    version = run.manifest.get("version", "")
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = [("figures", "Figures"), ("points", "Sweep points"), ("pareto", "Pareto set")]
    if regret_html:
        nav.append(("regret", "Regret vs oracle"))
    if paired_html:
        nav.append(("paired", "Paired comparisons"))
    if decisions_html:
        nav.append(("decisions", "Decisions"))
    nav += [("scenario", "Scenario"), ("profiles", "Profiles"), ("manifest", "Manifest")]
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(run.name)} · splitsim report</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header><div class="wrap"><h1>{_e(run.name)}</h1>'
        f"<p>splitsim {_e(version)} run report · {_e(run.path.resolve())}</p></div></header>",
        '<nav><div class="wrap">' + "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in nav)
        + "</div></nav>",
        "<main>",
        _facts(run),
        '<h2 id="figures">Figures</h2>',
        _figures_html(figures),
        '<h2 id="points">Sweep points</h2>',
        f"<p>Mean ± half width of the {CONFIDENCE:.0%} Student-t confidence interval across "
        "replications (n = replications with a value). Highlighted rows are on the "
        "latency–energy Pareto front.</p>",
        _points_table(run, wide, shown, front),
        "<details><summary>All metrics</summary>",
        _points_table(run, wide, metrics_all, None),
        "</details>",
        '<h2 id="pareto">Pareto set</h2>',
        pareto_html,
        regret_html,
        paired_html,
        decisions_html,
        '<h2 id="scenario">Scenario</h2>',
        "<p>The resolved scenario exactly as run (<code>scenario.yaml</code>).</p>",
        f"<pre>{_e(run.scenario_text)}</pre>",
        '<h2 id="profiles">Profile provenance</h2>',
        _profiles_html(run.manifest.get("profiles")),
        '<h2 id="manifest">Manifest</h2>',
        _mapping_table({k: v for k, v in run.manifest.items() if k != "profiles"})
        if run.manifest else '<p class="note">No manifest.json in this run.</p>',
        f"<footer>Generated {_e(generated)} by <code>analysis.report</code> from "
        f"<code>{_e(run.path.name)}</code>. Self-contained: no scripts, no external "
        "resources.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(body)


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``out``) atomically and return its path.

    Raises :class:`analysis.load.RunDirError` (a ``ValueError``) if
    ``run_dir`` is not a finished run.
    """
    run = load(run_dir)
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    page = render_report(run)
    atomic_write(path, lambda fh: fh.write(page.encode("utf-8")))
    return path
