"""A fixed-split policy that fails on purpose, for the fault-tolerance tests.

At split ``fail_split`` it fails the way ``SPLITSIM_TEST_FAULT`` says:
``raise`` (a bug in the plug-in) or ``kill`` (its worker process dies, as
under the OOM killer); unset, it behaves.  Reading the fault from the
environment lets a test fix the "bug" and then ``--resume``.
"""

from __future__ import annotations

import os
import signal

from pydantic import BaseModel, ConfigDict

from simulator.schedulers import Decision, Observation, Scheduler


class FaultParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    split: int = 0
    fail_split: int = 1


class FaultyFixedSplit(Scheduler):
    """Always ``split``; fails at ``fail_split`` when told to."""

    Params = FaultParams

    def decide(self, obs: Observation) -> Decision:
        fault = os.environ.get("SPLITSIM_TEST_FAULT", "")
        if self.params.split == self.params.fail_split and obs.request >= 50:
            if fault == "raise":
                raise ZeroDivisionError("simulated plug-in bug")
            if fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
        return Decision(split=self.params.split)
