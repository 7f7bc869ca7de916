"""splitsim: discrete-event simulation of split computing with early exits.

``simulator.run(scenario_or_path, **overrides)`` runs a scenario from Python
and returns a ``RunResult`` (see ``simulator.api``); it is imported on first
use, so ``import simulator.units`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["RunResult", "__version__", "run"]

if TYPE_CHECKING:
    from simulator.api import RunResult, run


def __getattr__(name: str) -> Any:
    if name in ("run", "RunResult"):
        from simulator import api

        return getattr(api, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
