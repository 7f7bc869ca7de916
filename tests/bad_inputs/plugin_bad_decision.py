"""Scheduler plug-ins that import fine but decide what the engine cannot carry out.

These errors can only show at run time, inside a worker process: the engine
checks every Decision and must stop the run with a message naming the policy.
"""

from simulator.schedulers import Decision, Scheduler


class TooDeep(Scheduler):
    """Always asks for split 99, whatever the model's depth."""

    def decide(self, obs):
        return Decision(split=99)


class NotADecision(Scheduler):
    """Returns a plain dict instead of a Decision."""

    def decide(self, obs):
        return {"split": 1}


class WrongThresholds(Scheduler):
    """Returns three thresholds although the model has one exit head."""

    def decide(self, obs):
        return Decision(split=1, thresholds=(0.5, 0.6, 0.7))


class NotAScheduler:
    """Has decide() but does not subclass simulator.schedulers.Scheduler."""

    def decide(self, obs):
        return Decision(split=0)
