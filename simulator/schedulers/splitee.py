"""SplitEE, SplitEE-S and I-SplitEE: UCB1 bandits over the splitting layer, unsupervised.

SplitEE (Bajpai, Trivedi, Yadav, Hanawal, "SplitEE: Early Exit in Deep
Neural Networks with Split Computing", AIMLSystems 2023, arXiv:2309.09195;
authors' code github.com/Div290/SplitEE).  The arms are the splitting
layers ``i`` that carry an exit head, plus ``L`` (everything on the
device).  A request played on arm ``i`` runs blocks ``1..i`` and the exit
at ``i``; if that exit's confidence ``C_i ≥ α`` the request ends there,
otherwise it is offloaded and the server runs the rest to the final layer.
No labels are used; the reward is

    r(i) = C_i − λ·γ_i              if C_i ≥ α   (answered on the device)
    r(i) = C_L − λ·γ_i − o          otherwise    (offloaded; C_L from the server)
    r(L) = C_L − λ·γ_L                           (device-only)

with ``γ_i`` the computation of arm ``i`` — the number of blocks run
(``compute_cost: layers``, the paper's ``λ·i``) or the device FLOP of the
split scaled to the same range (``compute_cost: flops``: ``L·F_i/F_L``) —
and ``o`` the offloading cost.  Arms are chosen by UCB1,
``argmax Q(i) + c·sqrt(ln t / N(i))``, after each arm has been played once.

SplitEE-S (same paper, "with side information"): the exit heads below the
chosen split also run (observe-only: their threshold is above any
confidence, and their FLOP are paid), so every arm ``j < i`` gets a reward
sample too, as in the authors' ``splitee_s.py``.  When a side arm would
have offloaded (``C_j < α``) but the request ended at ``i`` — so ``C_L`` was
never computed — ``C_i`` stands in for ``C_L`` (the device never sees the
final layer's confidence of a request that left early; the authors' code
reads it from the offline evaluation table instead).

I-SplitEE (Bajpai, Jaiswal, Hanawal, "I-SplitEE: Image classification in
Split Computing DNNs with Early Exits", ICC 2024, arXiv:2401.10541;
authors' code github.com/Div290/I-SplitEE ``ucb_org.py``): the variant for
distorted / shifting inputs, with exits after every few blocks (the
model's exit heads).  Cost per block ``γ`` and a trade-off weight ``μ``:
``r(i) = C_i − μ·γ·i`` if ``C_i ≥ α``, else ``C_L − μ·(γ·i + o)``, and
``r(L) = C_L − μ·γ·L``; side observations as SplitEE-S.

Defaults follow the authors' code: SplitEE λ = 0.1 per block, c = 1;
I-SplitEE γ = 0.1, μ = 1, α = 0.5, o = 0.5, c = 1.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from simulator.costs import OBSERVE_ONLY
from simulator.schedulers.base import Decision, Observation, Outcome, Scheduler, StrictParams


class SplitEEParams(StrictParams):
    lam: float = Field(default=0.1, ge=0.0, alias="lambda", description=(
        "λ: cost of the device's computation per block (per unit of γ_i)."))
    o: float = Field(default=0.3, ge=0.0, description="Offloading cost o.")
    alpha: float = Field(default=0.8, ge=0.0, le=1.0, description=(
        "α: confidence threshold of the exit at the split."))
    c: float = Field(default=1.0, ge=0.0, description="UCB1 exploration constant.")
    compute_cost: Literal["layers", "flops"] = Field(default="layers", description=(
        "γ_i: blocks run (the paper) or device FLOP scaled to 0..L."))
    server_only_arm: bool = Field(default=False, description=(
        "Also offer split 0 (upload the input; reward C_L − o)."))


class ISplitEEParams(StrictParams):
    gamma: float = Field(default=0.1, ge=0.0, description="γ: processing cost per block.")
    mu: float = Field(default=1.0, ge=0.0, description=(
        "μ: weight of cost against confidence."))
    alpha: float = Field(default=0.5, ge=0.0, le=1.0, description=(
        "α: confidence threshold of the exit at the split."))
    o: float = Field(default=0.5, ge=0.0, description="Offloading cost o.")
    c: float = Field(default=1.0, ge=0.0, description="UCB1 exploration constant.")


class SplitEE(Scheduler):
    """UCB1 over splitting layers with the exit at the split (no side information)."""

    Params = SplitEEParams
    sets_thresholds = True
    side_information = False

    # -------------------------------------------------------------- set-up

    def _costs(self) -> tuple[float, float, float, str, bool]:
        """(λ, o, α, compute_cost, server_only_arm) in SplitEE's terms."""
        p = self.params
        return p.lam, p.o, p.alpha, p.compute_cost, p.server_only_arm

    def prepare(self, system, rng) -> None:
        super().prepare(system, rng)
        lam, o, alpha, compute_cost, server_only = self._costs()
        self.lam, self.o, self.alpha = lam, o, alpha
        depth = system.depth
        arms = sorted(set(system.exit_blocks) | {depth} | ({0} if server_only else set()))
        self.arms = np.asarray(arms)
        self.arm_of = {s: k for k, s in enumerate(arms)}
        self.head_of = {b: j for j, b in enumerate(system.exit_blocks)}
        flops = system.device_flops
        if compute_cost == "flops" and flops[-1] > 0:
            gamma = depth * flops[self.arms] / flops[-1]
        else:
            gamma = self.arms.astype(float)
        self.compute = lam * gamma   # λ·γ_i per arm
        n_heads = len(system.exit_blocks)
        self.decisions = []
        for s in arms:
            t = [math.inf] * n_heads
            for j, b in enumerate(system.exit_blocks):
                if b == s and s < depth:
                    t[j] = alpha
                elif b < s and self.side_information:
                    t[j] = OBSERVE_ONLY
            self.decisions.append(Decision(split=int(s), thresholds=tuple(t)))
        k = len(arms)
        self.counts = np.zeros(k)     # reward samples per arm
        self.sums = np.zeros(k)
        self.pulls = np.zeros(k, int)  # decisions per arm (outcomes may be pending)
        self.t = 0

    # -------------------------------------------------------------- acting

    def choose(self) -> int:
        """Index of the arm to play: each once first, then UCB1."""
        fresh = np.flatnonzero(self.pulls == 0)
        if fresh.size:
            return int(fresh[0])
        n = self.counts
        if not (n > 0).any():  # every arm played, no outcome back yet
            return int(np.argmin(self.pulls))
        with np.errstate(divide="ignore", invalid="ignore"):
            index = self.sums / n + self.params.c * np.sqrt(math.log(max(self.t, 1)) / n)
        index[n == 0] = -np.inf
        return int(np.argmax(index))

    def decide(self, obs: Observation) -> Decision:
        arm = self.choose()
        self.pulls[arm] += 1
        self.t += 1
        return self.decisions[arm]

    # -------------------------------------------------------------- learning

    def reward(self, arm: int, c_split: float, c_final: float) -> float:
        """SplitEE's reward of ``arm`` for a request whose exit at the split said
        ``c_split`` and whose final layer said ``c_final``."""
        s = self.arms[arm]
        if s == self.system.depth:
            return c_final - self.compute[arm]
        if s == 0:
            return c_final - self.o
        if c_split >= self.alpha:
            return c_split - self.compute[arm]
        return c_final - self.compute[arm] - self.o

    def update(self, outcome: Outcome) -> None:
        arm = self.arm_of.get(outcome.split)
        if arm is None:
            return
        heads = outcome.head_confidences
        split = outcome.split
        c_split = (heads[self.head_of[split]] if split in self.head_of and heads
                   else outcome.confidence)
        reached_final = outcome.exit_block == -1
        c_final = outcome.final_confidence if reached_final else outcome.confidence
        self._add(arm, self.reward(arm, c_split, c_final))
        if not self.side_information:
            return
        for other in range(arm):  # arms below the split: their heads ran observe-only
            s = int(self.arms[other])
            c_other = heads[self.head_of[s]] if s in self.head_of and heads else math.nan
            if s != 0 and math.isnan(c_other):
                continue
            self._add(other, self.reward(other, c_other, c_final))

    def _add(self, arm: int, reward: float) -> None:
        self.counts[arm] += 1
        self.sums[arm] += reward

    @property
    def means(self) -> np.ndarray:
        """Empirical mean reward per arm (NaN before its first sample)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sums / self.counts


class SplitEES(SplitEE):
    """SplitEE with side information: arms below the chosen split learn too."""

    side_information = True


class ISplitEE(SplitEE):
    """I-SplitEE: SplitEE-S with cost per block γ, trade-off μ (reward C − μ·(γ·i + o))."""

    Params = ISplitEEParams
    side_information = True

    def _costs(self) -> tuple[float, float, float, str, bool]:
        p = self.params
        return p.mu * p.gamma, p.mu * p.o, p.alpha, "layers", False
