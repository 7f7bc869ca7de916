"""A scheduler plug-in whose module fails while it is imported."""

from simulator.schedulers import Decision, Scheduler

LIMITS = {"split": 2}
DEFAULT_SPLIT = LIMITS["max_split"]  # KeyError at import time


class Policy(Scheduler):
    def decide(self, obs):
        return Decision(split=DEFAULT_SPLIT)
