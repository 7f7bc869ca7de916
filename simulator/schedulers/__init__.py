"""Scheduler registry: names → classes, plus third-party plug-ins.

Like gymnasium's registry: ``make(name, params)`` builds a policy from a
registered name, a dotted path ``package.module:Class``, or an entry point in
the group ``splitsim.schedulers``.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import inspect
import traceback
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path

from simulator.schedulers.base import (
    Decision,
    Hindsight,
    Observation,
    Outcome,
    Scheduler,
    ServerView,
)
from simulator.schedulers.deadline import Deadline, EnergySLO
from simulator.schedulers.dynamic import DynamicSplit
from simulator.schedulers.early_exit import EarlyExit
from simulator.schedulers.neurosurgeon import Neurosurgeon
from simulator.schedulers.oracle import Oracle
from simulator.schedulers.splitee import ISplitEE, SplitEE, SplitEES
from simulator.schedulers.static import DeviceOnly, FixedSplit, RandomSplit, ServerOnly

REGISTRY: dict[str, type[Scheduler]] = {
    "device-only": DeviceOnly,
    "server-only": ServerOnly,
    "fixed-split": FixedSplit,
    "random": RandomSplit,
    "neurosurgeon": Neurosurgeon,
    "dynamic-split": DynamicSplit,
    "early-exit": EarlyExit,
    "splitee": SplitEE,
    "splitee-s": SplitEES,
    "i-splitee": ISplitEE,
    "deadline": Deadline,
    "energy-slo": EnergySLO,
    "oracle": Oracle,
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
        except Exception as exc:  # the plug-in's own code may raise anything
            raise PluginError(f"cannot import scheduler plug-in module '{module_name}': "
                              f"{_import_failure(exc, module_name)}") from exc
        cls = getattr(module, attr, None)
        if cls is None:
            found = sorted(k for k, v in vars(module).items() if isinstance(v, type)
                           and issubclass(v, Scheduler) and v is not Scheduler)
            raise PluginError(f"module '{module_name}' has no attribute '{attr}'; its "
                              f"Scheduler subclasses: {', '.join(found) or 'none'}")
    else:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            close = difflib.get_close_matches(name, list(REGISTRY), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise PluginError(f"unknown scheduler '{name}'{hint}; registered: "
                              f"{', '.join(sorted(REGISTRY))}, or give a plug-in as "
                              f"'package.module:Class'")
        try:
            cls = found[0].load()
        except Exception as exc:
            raise PluginError(f"cannot load scheduler plug-in '{name}' (entry point "
                              f"{found[0].value}): {_import_failure(exc, name)}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
        raise PluginError(f"'{name}' is not a subclass of simulator.schedulers.Scheduler")
    return cls


def _import_failure(exc: Exception, module_name: str) -> str:
    """Why a plug-in module failed to import, with its file and line when known."""
    if isinstance(exc, ModuleNotFoundError) and exc.name == module_name:
        return f"{exc} (install it, or add the directory that holds it to PYTHONPATH)"
    if isinstance(exc, ImportError):
        return str(exc)
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}, line {frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def parameter_names(cls: type[Scheduler]) -> set[str]:
    """The keys a scenario may use for ``cls``'s parameters (field names and aliases)."""
    return {f.alias or name for name, f in cls.Params.model_fields.items()}


def known_parameters() -> set[str]:
    """Parameter names of every registered policy (see SchedulerSpec)."""
    return {name for cls in REGISTRY.values() for name in parameter_names(cls)}


__all__ = ["REGISTRY", "Decision", "Hindsight", "Observation", "Outcome", "PluginError",
           "Scheduler", "ServerView", "known_parameters", "parameter_names", "resolve"]


def plugin_code_digests(policies: Iterable[str]) -> dict[str, str]:
    """SHA-256 of the source file of each plug-in policy among ``policies``.

    Why: a run resumed after a plug-in's code changed would mix results of two
    different policies under one name; the run store keeps these digests and
    warns when they differ.  Registered policies are part of splitsim's own
    version and are left out; a class without a readable source file gets
    ``"unknown"``.
    """
    digests = {}
    for name in sorted(set(policies) - set(REGISTRY)):
        try:
            source = inspect.getsourcefile(resolve(name))
            digests[name] = hashlib.sha256(Path(source).read_bytes()).hexdigest() \
                if source else "unknown"
        except (OSError, TypeError):
            digests[name] = "unknown"
    return digests
