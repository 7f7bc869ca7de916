"""The table a person reads at the end of ``splitsim run``.

Mean ± the 95% Student-t half-width across replications for the numbers
people compare first: latency, device energy and accuracy.
"""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from simulator.precision import mean_half_width

SHOWN = (("latency_mean_s", "latency (ms)", 1e3), ("latency_p95_s", "p95 latency (ms)", 1e3),
         ("device_energy_mean_j", "energy (mJ)", 1e3), ("accuracy", "accuracy (%)", 1e2))


def summary_table(summary: pd.DataFrame, sweep_keys: list[str], title: str) -> Table:
    """One row per sweep point; cells are mean ± 95% CI half-width."""
    table = Table(title=title, title_justify="left")
    for key in sweep_keys:
        table.add_column(key)
    table.add_column("reps", justify="right")
    for _, label, _ in SHOWN:
        table.add_column(label, justify="right")
    groups = summary.groupby(sweep_keys, sort=False, dropna=False) if sweep_keys \
        else [((), summary)]
    for key_values, group in groups:
        key_values = key_values if isinstance(key_values, tuple) else (key_values,)
        cells = [str(v) for v in key_values] + [str(len(group))]
        for column, _, scale in SHOWN:
            mean, half, _ = mean_half_width(group[column].to_numpy())
            cells.append(_format(mean * scale, half * scale))
        table.add_row(*cells)
    return table


def _format(mean: float, half: float) -> str:
    if math.isnan(mean):
        return "–"
    digits = 3 if abs(mean) < 10 else 1
    return f"{mean:.{digits}f}" if math.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"
