"""Scheduler registry: names → classes, plus third-party plug-ins.

Like gymnasium's registry: ``make(name, params)`` builds a policy from a
registered name, a dotted path ``package.module:Class``, or an entry point in
the group ``splitsim.schedulers``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from simulator.schedulers.base import Decision, Observation, Outcome, Scheduler
from simulator.schedulers.neurosurgeon import Neurosurgeon
from simulator.schedulers.static import DeviceOnly, FixedSplit, ServerOnly

REGISTRY: dict[str, type[Scheduler]] = {
    "device-only": DeviceOnly,
    "server-only": ServerOnly,
    "fixed-split": FixedSplit,
    "neurosurgeon": Neurosurgeon,
}

ENTRY_POINT_GROUP = "splitsim.schedulers"


class PluginError(ValueError):
    """A policy name that cannot be resolved to a Scheduler class."""


def resolve(name: str) -> type[Scheduler]:
    """The class behind ``name``: registered, ``module:Class``, or an entry point."""
    if name in REGISTRY:
        return REGISTRY[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise PluginError(f"cannot import scheduler plug-in module '{module_name}': "
                              f"{exc}") from exc
        cls = getattr(module, attr, None)
        if cls is None:
            raise PluginError(f"module '{module_name}' has no attribute '{attr}'")
    else:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise PluginError(f"unknown scheduler '{name}'; registered: "
                              f"{', '.join(sorted(REGISTRY))}, or give a plug-in as "
                              f"'package.module:Class'")
        cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
        raise PluginError(f"'{name}' is not a subclass of simulator.schedulers.Scheduler")
    return cls


def known_parameters() -> set[str]:
    """Parameter names of every registered policy (see SchedulerSpec)."""
    return {field for cls in REGISTRY.values() for field in cls.Params.model_fields}


__all__ = ["REGISTRY", "Decision", "Observation", "Outcome", "PluginError", "Scheduler",
           "known_parameters", "resolve"]
