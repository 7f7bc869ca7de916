"""A scheduler plug-in that cannot be imported: it needs a package that is not installed."""

import splitsim_no_such_dependency  # noqa: F401

from simulator.schedulers import Decision, Scheduler


class Policy(Scheduler):
    def decide(self, obs):
        return Decision(split=0)
