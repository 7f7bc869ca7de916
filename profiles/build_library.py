"""Regenerate ``profiles/library/*.json``: ``python -m profiles.build_library``.

Why a script: the library is derived data; anyone can rebuild it from the zoo
definitions and check that the files in the repository are what the code
produces (the digits traces are seeded; training runs on one CPU thread).
``--only NAME`` rebuilds one model's files.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from profiles.build import profile_model, variant_name, write_profile
from profiles.library import LIBRARY_DIR

__all__ = ["LIBRARY", "main"]

_LEVELS: list[dict[str, object]] = [{}, {"sparsity": 0.5}, {"sparsity": 0.75}]

LIBRARY: list[tuple[str, list[dict[str, object]]]] = [
    ("alexnet", _LEVELS),
    ("vgg16", _LEVELS),
    ("resnet18", _LEVELS),
    ("resnet50", _LEVELS),
    ("mobilenet_v2", _LEVELS),
    ("efficientnet_b0", _LEVELS),
    ("resnet18-cifar10", _LEVELS),
    ("digits-cnn", _LEVELS),
    ("digits-mlp", _LEVELS),
    # Capogrosso et al. (FDL 2024): the dense 800-3-3-10 and the predefined-sparse
    # 800-40-40-10 with fan-out 2, 9, 10 have about the same parameter count.
    ("mlp:800-3-3-10", [{}]),
    ("mlp:800-40-40-10", [{}, {"fan_out": [2, 9, 10]}]),
]
"""(model, list of profile_model keyword sets): every file the library ships."""


def _file_name(model: str, variant: str) -> str:
    return f"{model.replace(':', '-')}__{variant}.json"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m profiles.build_library", description=__doc__)
    ap.add_argument("--only", action="append", default=None,
                    help="rebuild only this model (repeatable)")
    args = ap.parse_args(argv)
    LIBRARY_DIR.mkdir(parents=True, exist_ok=True)
    for model, settings in LIBRARY:
        if args.only and model not in args.only:
            continue
        for kw in settings:
            t0 = time.perf_counter()
            prof = profile_model(model, **kw)  # type: ignore[arg-type]
            variant = variant_name(kw.get("sparsity"), kw.get("fan_out"))  # type: ignore[arg-type]
            path = write_profile(prof, LIBRARY_DIR / _file_name(model, variant))
            print(f"{path.name:45s} {path.stat().st_size / 1024:7.1f} KiB "
                  f"{time.perf_counter() - t0:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
