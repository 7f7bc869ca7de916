"""Figure for SplitEE / I-SplitEE (Bajpai et al. 2023, 2024): regret and accuracy over time.

    python scenarios/papers/bajpai2023_splitee/figure.py RUN_DIR [--out FILE]

RUN_DIR is a finished run of splitee.yaml made with --save-requests.

The cost of a request is SplitEE's reward negated (simulator/schedulers/splitee.py),
with the scenario's λ (`scheduler.lambda`), o and α:

    cost = −(C_b − λ·b)            it left at the exit after block b on the device
    cost = −(C_L − λ·L)            it ran device-only to the final layer (split L)
    cost = −(C_L − λ·s − o)        it was offloaded after s blocks (s = 0: −(C_L − o))

For the bandits' arms this is exactly their reward; for the baselines it is the same
formula applied to what they did.  requests.parquet does not store confidences, so each
request's confidences C (every exit and the final layer) are re-drawn exactly as the
engine draws them (simulator.exits.draw_exits on the replication's EXITS stream) and
checked against the recorded exits and correctness.  The regret of a policy after t
requests is Σ_{k≤t} (cost_k − cost of the best fixed arm on request k), the best fixed
arm (split 1, 2 or L, exit at the split with threshold α) chosen in hindsight per
replication; curves are means over replications.  "random-arm (offline)" plays a
uniformly random arm per request (numpy default_rng([seed, replication])), scored on the
same re-drawn samples without a simulation run (its cost needs only the confidences).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from profiles.library import load_profile
from simulator.exits import draw_exits
from simulator.seeds import Component, stream


def confidences(scenario: dict, replication: int):
    m = scenario["model"]
    model = load_profile(m["profile"], m.get("variant", "dense"))
    draws = draw_exits(model, int(scenario["horizon"]["requests"]),
                       stream(int(scenario["seed"]), replication, Component.EXITS))
    exit_blocks = [i + 1 for i, b in enumerate(model.blocks) if b.exit is not None]
    return draws, exit_blocks, model.depth


def costs(run_dir: Path) -> tuple[pd.DataFrame, dict]:
    scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text())
    sch = scenario["scheduler"]
    lam, o = float(sch.get("lambda", 0.1)), float(sch.get("o", 0.3))
    alpha = float(sch.get("alpha", 0.8))
    req = pd.read_parquet(run_dir / "requests.parquet")
    req = req.sort_values(["case", "replication", "request"])
    out, randomised = [], set()
    for (case, rep), g in req.groupby(["case", "replication"], sort=False):
        draws, exit_blocks, depth = confidences(scenario, int(rep))
        col = {b: j for j, b in enumerate(exit_blocks)}
        rid = g["request"].to_numpy()
        conf, right = draws.confidence[rid], draws.correct[rid]
        c_final = conf[:, -1]
        split, ex = g["split"].to_numpy(), g["exit"].to_numpy()
        j = np.array([col.get(b, -1) for b in ex])
        if (ex[ex != -1] > split[ex != -1]).any():
            raise ValueError(f"{case}: a server-side exit; the SplitEE cost is not defined for it")
        if not np.array_equal(right[np.arange(len(g)), j], g["correct"].to_numpy()):
            raise ValueError(f"{case} r{rep}: re-drawn samples do not match the run")
        c_exit = conf[np.arange(len(g)), j]
        cost = np.where(ex != -1, -(c_exit - lam * ex),
                        np.where(split == depth, -(c_final - lam * depth),
                                 -(c_final - lam * split - o)))
        arms = {}
        for b in exit_blocks:
            cb = conf[:, col[b]]
            arms[b] = np.where(cb >= alpha, -(cb - lam * b), -(c_final - lam * b - o))
        arms[depth] = -(c_final - lam * depth)
        best = min(arms, key=lambda a: arms[a].mean())
        if rep not in randomised:  # the uniformly random arm, scored offline on the same samples
            randomised.add(rep)
            rng = np.random.default_rng([int(scenario["seed"]), int(rep)])
            keys = sorted(arms)
            pick = rng.integers(0, len(keys), len(g))
            r_cost = np.choose(pick, [arms[a] for a in keys])
            r_right = np.choose(pick, [np.where(conf[:, col[a]] >= alpha, right[:, col[a]],
                                                right[:, -1]) if a in col else right[:, -1]
                                       for a in keys])
            out.append(pd.DataFrame({
                "case": "random-arm (offline)", "replication": rep, "t": np.arange(1, len(g) + 1),
                "cost": r_cost, "best_arm": best, "regret": np.cumsum(r_cost - arms[best]),
                "accuracy": np.cumsum(r_right) / np.arange(1, len(g) + 1)}))
        out.append(pd.DataFrame({
            "case": case, "replication": rep, "t": np.arange(1, len(g) + 1), "cost": cost,
            "best_arm": best, "regret": np.cumsum(cost - arms[best]),
            "accuracy": np.cumsum(g["correct"].to_numpy()) / np.arange(1, len(g) + 1)}))
    return pd.concat(out, ignore_index=True), {"lambda": lam, "o": o, "alpha": alpha}


def draw(c: pd.DataFrame, params: dict, out: Path) -> None:
    mean = c.groupby(["case", "t"], sort=False)[["regret", "accuracy"]].mean().reset_index()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for case, g in mean.groupby("case", sort=False):
        ls = "--" if case == "i-splitee" else (":" if "offline" in case else "-")
        axes[0].plot(g["t"], g["regret"], ls, label=case)
        axes[1].plot(g["t"], g["accuracy"], ls, label=case)
    axes[0].set(xlabel="requests", ylabel="cumulative regret",
                title=f"regret vs best fixed arm (λ={params['lambda']}, o={params['o']}, "
                      f"α={params['alpha']})")
    axes[1].set(xlabel="requests", ylabel="running accuracy", title="accuracy over time")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    c, params = costs(a.run_dir)
    out = a.out or a.run_dir / "plots" / "splitee_regret.png"
    draw(c, params, out)
    last = c.groupby(["case", "replication"], sort=False).last()
    per = c.groupby(["case", "replication"], sort=False)["cost"].mean().rename("mean_cost")
    tab = pd.concat([last[["regret", "accuracy", "best_arm"]], per], axis=1)
    tab = tab.groupby("case", sort=False).agg(
        mean_cost=("mean_cost", "mean"), final_regret=("regret", "mean"),
        regret_sd=("regret", "std"), accuracy=("accuracy", "mean"),
        best_arm=("best_arm", lambda s: ",".join(map(str, sorted(set(s))))))
    print(tab.round(4).to_string())
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
