"""Figure and table for Capogrosso et al. (FDL 2024): dense vs predefined-sparse networks.

    python scenarios/papers/capogrosso2024_sparse/figure.py RUN_DIR [--out FILE]
    python scenarios/papers/capogrosso2024_sparse/figure.py --table-only

The table (storage and compute of every shipped profile against its dense version) is
read from profiles/library/*.json (their `totals`); no run is needed for it.  With a
RUN_DIR of sparse_split_ee.yaml it also draws mean latency and device energy per
variant × policy (RUN_DIR/plots/sparse_latency_energy.png) and prints them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

LIBRARY = Path(__file__).resolve().parents[3] / "profiles" / "library"
# The dense model each variant is compared with (the 800-40-40-10 MLP's sparse variant is
# also set against the dense 800-3-3-10 of about the same parameter count, as in the paper).
BASE = {"mlp-800-40-40-10": "mlp-800-40-40-10"}


def storage_table(library: Path = LIBRARY) -> pd.DataFrame:
    rows = []
    for f in sorted(library.glob("*.json")):
        d = json.loads(f.read_text())
        t = d["totals"]
        rows.append({"model": d["name"], "variant": d["variant"], "params": t["params"],
                     "nonzero_params": t["nonzero_params"], "weight_bytes": t["weight_bytes"],
                     "macs": t["macs"], "nonzero_macs": t["nonzero_macs"]})
    df = pd.DataFrame(rows)
    dense = df[df["variant"] == "dense"].set_index("model")
    out = df[df["variant"] != "dense"].copy()
    base = dense.loc[out["model"].map(lambda m: BASE.get(m, m))].reset_index(drop=True)
    out = out.reset_index(drop=True)
    out["params_x"] = base["nonzero_params"] / out["nonzero_params"]
    out["storage_x"] = base["weight_bytes"] / out["weight_bytes"]
    out["macs_x"] = base["nonzero_macs"] / out["nonzero_macs"]
    return out


def run_table(run_dir: Path) -> pd.DataFrame:
    s = pd.read_parquet(run_dir / "summary.parquet")
    keys = ["model.variant", "scheduler.policy"]
    g = s.groupby(keys, sort=False)
    mean = g[["latency_mean_s", "device_energy_mean_j", "accuracy", "exit_rate",
              "offload_rate", "split_mean"]].mean()
    n = g.size()
    half = g[["latency_mean_s", "device_energy_mean_j"]].sem().mul(
        [_t(k) for k in n], axis=0).add_suffix("_ci")
    return mean.join(half).reset_index()


def _t(n: int) -> float:
    from scipy.stats import t
    return float(t.ppf(0.975, n - 1)) if n > 1 else float("nan")


def draw(t: pd.DataFrame, out: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    policies = list(dict.fromkeys(t["scheduler.policy"]))
    variants = list(dict.fromkeys(t["model.variant"]))
    w = 0.8 / len(variants)
    for k, v in enumerate(variants):
        g = t[t["model.variant"] == v].set_index("scheduler.policy").loc[policies]
        x = [i + (k - (len(variants) - 1) / 2) * w for i in range(len(policies))]
        axes[0].bar(x, g["latency_mean_s"] * 1e3, w, yerr=g["latency_mean_s_ci"] * 1e3, label=v)
        axes[1].bar(x, g["device_energy_mean_j"] * 1e3, w,
                    yerr=g["device_energy_mean_j_ci"] * 1e3, label=v)
    for ax, lab in zip(axes, ["mean latency (ms)", "device energy per request (mJ)"], strict=True):
        ax.set_xticks(range(len(policies)), policies)
        ax.set_ylabel(lab)
        ax.legend(fontsize=8)
    axes[0].set_title("end-to-end latency (95% CI)")
    axes[1].set_title("device energy (95% CI)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path | None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, nargs="?")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args(argv)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(storage_table().round(2).to_string(index=False))
        if a.table_only or a.run_dir is None:
            return None
        t = run_table(a.run_dir)
        print(t.round(4).to_string(index=False))
    out = a.out or a.run_dir / "plots" / "sparse_latency_energy.png"
    draw(t, out)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
