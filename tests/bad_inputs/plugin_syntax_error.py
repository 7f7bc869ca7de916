"""A scheduler plug-in with a syntax error (excluded from ruff in pyproject.toml)."""

from simulator.schedulers import Decision, Scheduler


class Policy(Scheduler):
    def decide(self, obs)
        return Decision(split=0)
