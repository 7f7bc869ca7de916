"""Figure for Bakhtiarnia et al. (2022): the split dynamic-split chooses, and its latency
against fixed splits, as the uplink rate and the server's background load change.

    python scenarios/papers/bakhtiarnia2022_dynamic_split/figure.py RUN_DIR [--out FILE]

RUN_DIR is a finished run of dynamic_split.yaml.  Writes RUN_DIR/plots/dynamic_split.png
(or --out) and prints the table behind it (mean over replications).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

RATE, LOAD = "channel.uplink.rate", "server.background.rate"
BG_WORK_S = 10e9 / 1e12  # one background job: 10 GFLOP on the 1 TFLOPS server


def number(value) -> float:
    """'16 Mbps' -> 16.0, '50/s' -> 50.0 (the scenario's own units)."""
    return float(str(value).split()[0].split("/")[0])


def table(run_dir: Path) -> pd.DataFrame:
    s = pd.read_parquet(run_dir / "summary.parquet")
    s["rate_mbps"] = s[RATE].map(number)
    s["rho_bg"] = (s[LOAD].map(number) * BG_WORK_S).round(2)
    return (s.groupby(["case", "rho_bg", "rate_mbps"])[["latency_mean_s", "split_mean"]]
            .mean().reset_index())


def draw(t: pd.DataFrame, out: Path) -> None:
    loads = sorted(t["rho_bg"].unique())
    fig, axes = plt.subplots(1, 1 + len(loads), figsize=(4.2 * (1 + len(loads)), 3.6))
    dyn = t[t["case"] == "dynamic-split"]
    for rho, g in dyn.groupby("rho_bg"):
        axes[0].plot(g["rate_mbps"], g["split_mean"], marker="o", label=f"background ρ={rho:g}")
    axes[0].set(xscale="log", xlabel="uplink rate (Mbit/s)", ylabel="mean split (blocks on device)",
                title="split chosen by dynamic-split")
    axes[0].set_xticks(sorted(t["rate_mbps"].unique()),
                       [f"{r:g}" for r in sorted(t["rate_mbps"].unique())])
    axes[0].legend(fontsize=8)
    for ax, rho in zip(axes[1:], loads, strict=True):
        for case, g in t[t["rho_bg"] == rho].groupby("case", sort=False):
            ax.plot(g["rate_mbps"], g["latency_mean_s"] * 1e3, marker="o", label=case,
                    lw=2.5 if case == "dynamic-split" else 1)
        ax.set(xscale="log", yscale="log", xlabel="uplink rate (Mbit/s)",
               ylabel="mean latency (ms)", title=f"latency, background ρ={rho:g}")
        ax.set_xticks(sorted(t["rate_mbps"].unique()),
                      [f"{r:g}" for r in sorted(t["rate_mbps"].unique())])
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    t = table(a.run_dir)
    out = a.out or a.run_dir / "plots" / "dynamic_split.png"
    draw(t, out)
    wide = t.pivot_table(index=["rho_bg", "rate_mbps"], columns="case",
                         values=["split_mean", "latency_mean_s"])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(wide.round(3).to_string())
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
