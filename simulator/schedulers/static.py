"""Static policies: the baselines every comparison needs.

They ignore the observation, so their decisions depend only on the request
itself; that also makes them the reference for the queueing-theory checks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from simulator.schedulers.base import Decision, Observation, Scheduler


class DeviceOnly(Scheduler):
    """Run the whole network on the device (split = L); nothing is sent."""

    def decide(self, obs: Observation) -> Decision:
        return Decision(split=self.system.depth)

    def fixed_decision(self) -> Decision:
        return Decision(split=self.system.depth)


class ServerOnly(Scheduler):
    """Upload the raw input and run everything on the server (split = 0)."""

    def decide(self, obs: Observation) -> Decision:
        return Decision(split=0)

    def fixed_decision(self) -> Decision:
        return Decision(split=0)


class FixedSplitParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    split: int = Field(ge=0, description="Blocks run on the device (0 = server-only, "
                                         "L = device-only).")


class FixedSplit(Scheduler):
    """Always cut after the same block."""

    Params = FixedSplitParams

    def prepare(self, system, rng) -> None:
        super().prepare(system, rng)
        if self.params.split > system.depth:
            raise ValueError(f"scheduler.split = {self.params.split} is out of range: this "
                             f"model has {system.depth} blocks, so split must be in "
                             f"0..{system.depth}")

    def decide(self, obs: Observation) -> Decision:
        return Decision(split=self.params.split)

    def fixed_decision(self) -> Decision:
        return Decision(split=self.params.split)


class RandomSplit(Scheduler):
    """A uniform baseline: every split ``0..L`` equally likely, from the policy's own stream.

    Exit thresholds are the scenario's.  Its stream is the device's POLICY
    stream, so it draws the same splits at every sweep point.
    """

    def decide(self, obs: Observation) -> Decision:
        return Decision(split=int(self.rng.integers(0, self.system.depth + 1)))
