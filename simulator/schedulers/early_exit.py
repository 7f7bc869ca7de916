"""Early exits with fixed confidence thresholds (BranchyNet: Teerapittayanon, McDanel,
Kung, ICPR 2016), on top of any split policy.

Exact semantics, per request:

1. The split is the decision of the wrapped policy ``split_policy`` (any
   registered policy that does not choose thresholds itself: ``device-only``,
   ``server-only``, ``fixed-split``, ``neurosurgeon``, ``dynamic-split``,
   ``energy-slo``, ``random``, or a plug-in), built from the same
   ``scheduler:`` block, so its own parameters (``objective``, ``split``, …)
   apply.  The wrapped policy predicts with these exits on (the shared cost
   model's exit outlook), so e.g. Neurosurgeon accounts for requests that
   leave before the cut.
2. The thresholds are ``scheduler.thresholds`` when the scenario sets any,
   otherwise ``default_threshold`` for every head.  A request leaves at the
   first head (block order) whose confidence reaches its threshold.
3. ``exits_on: all`` keeps the heads on both sides of the cut (server-side
   heads shorten the server's work); ``exits_on: device`` turns the heads
   after the cut off, so an offloaded request always gets the final layer's
   answer.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Literal

from pydantic import Field, field_validator

from simulator.schedulers.base import (
    Decision,
    Observation,
    Outcome,
    Scheduler,
    StrictParams,
    thresholds_or_default,
)


class EarlyExitParams(StrictParams):
    split_policy: str = Field(default="neurosurgeon", description=(
        "Policy that picks the split (a registered name or module:Class); it must not "
        "choose thresholds itself."))
    default_threshold: float = Field(default=0.8, ge=0.0, le=1.0, description=(
        "Threshold of every head when scheduler.thresholds is not set."))
    exits_on: Literal["all", "device"] = Field(default="all", description=(
        "all: heads on both sides of the cut; device: heads after the cut off."))
    split_policy_params: dict[str, Any] = Field(default_factory=dict, description=(
        "Filled from the scheduler block: the wrapped policy's parameters."))

    @field_validator("split_policy")
    @classmethod
    def _wrappable(cls, name: str) -> str:
        from simulator.schedulers import PluginError, resolve

        try:
            inner = resolve(name)
        except PluginError as exc:
            raise ValueError(str(exc)) from exc
        if inner.sets_thresholds or inner.clairvoyant or getattr(inner, "wraps", None):
            raise ValueError(f"split_policy '{name}' chooses exits itself (or sees the "
                             f"future); early-exit wraps split-only policies")
        return name


class EarlyExit(Scheduler):
    """The wrapped policy's split with fixed per-head thresholds."""

    Params = EarlyExitParams
    sets_thresholds = True
    #: The parameter naming the wrapped policy (see ``SchedulerSpec``).
    wraps = "split_policy"

    def prepare(self, system, rng) -> None:
        from simulator.schedulers import resolve

        super().prepare(system, rng)
        thresholds = thresholds_or_default(system, self.params.default_threshold)
        self.thresholds = thresholds
        inner_cls = resolve(self.params.split_policy)
        self.inner = inner_cls(inner_cls.Params.model_validate(self.params.split_policy_params))
        # The wrapped policy predicts with exactly these exits.
        self.inner.prepare(replace(system, thresholds=thresholds, _cache={},
                                   exits_device_side=self.params.exits_on == "device"), rng)
        blocks = system.exit_blocks
        self._device_side = [tuple(t if b <= s else math.inf for t, b in zip(
            thresholds, blocks, strict=True)) for s in range(system.depth + 1)]

    def decide(self, obs: Observation) -> Decision:
        split = self.inner.decide(obs).split
        if self.params.exits_on == "device":
            return Decision(split=split, thresholds=self._device_side[split])
        return Decision(split=split, thresholds=self.thresholds)

    def fixed_decision(self) -> Decision | None:
        """Fixed when the wrapped policy's split is (the thresholds always are)."""
        inner = self.inner.fixed_decision()
        if inner is None:
            return None
        if self.params.exits_on == "device":
            return Decision(split=inner.split, thresholds=self._device_side[inner.split])
        return Decision(split=inner.split, thresholds=self.thresholds)

    def update(self, outcome: Outcome) -> None:
        self.inner.update(outcome)
