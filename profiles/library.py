"""The shipped profile library: ``load_profile(name, variant)`` without torch.

Why: a user with no torch installed must still be able to simulate VGG-16 split
after block 7 at 75% sparsity.  Profiles are JSON files in
``profiles/library/`` named ``<name>__<variant>.json`` and regenerated with
``python -m profiles.build_library``; this module only reads them, so it
imports nothing but the standard library and ``profiles.model``.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from profiles.model import ModelProfile, ProfileError, load_profile_file

__all__ = ["LIBRARY_DIR", "list_profiles", "load_profile", "profile_path"]

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
"""Where the shipped profile files live."""

_SEP = "__"


def _key(name: str) -> str:
    """File-name form of a profile name (``mlp:800-3-3-10`` → ``mlp-800-3-3-10``)."""
    return name.strip().lower().replace(":", "-").replace("/", "-")


def list_profiles() -> list[tuple[str, list[str]]]:
    """Every shipped profile as ``(name, [variants])``, sorted; ``dense`` first."""
    found: dict[str, list[str]] = {}
    for path in sorted(LIBRARY_DIR.glob(f"*{_SEP}*.json")):
        name, _, variant = path.stem.partition(_SEP)
        found.setdefault(name, []).append(variant)
    return [(name, sorted(vs, key=lambda v: (v != "dense", v))) for name, vs in
            sorted(found.items())]


def profile_path(name: str, variant: str = "dense") -> Path:
    """The file of ``(name, variant)``; ProfileError listing what exists if unknown."""
    available = dict(list_profiles())
    key = _key(name)
    if key not in available:
        listing = "; ".join(f"{n} [{', '.join(v)}]" for n, v in available.items())
        close = difflib.get_close_matches(key, list(available), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ProfileError(f"unknown profile '{name}'{hint}. Available profiles: {listing}")
    if variant not in available[key]:
        raise ProfileError(f"profile '{name}' has no variant '{variant}'; its variants: "
                           f"{', '.join(available[key])}")
    return LIBRARY_DIR / f"{key}{_SEP}{variant}.json"


def load_profile(name: str, variant: str = "dense") -> ModelProfile:
    """Load a shipped profile by name and variant (``dense``, ``sparse-50``, …)."""
    return load_profile_file(profile_path(name, variant))
