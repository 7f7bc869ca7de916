"""The run directory: resolved scenario, tables and manifest, written atomically.

Why atomic: a run that is killed, or a disk that fills, must never leave a
half-written ``summary.parquet`` that looks complete.  Every file is written
to a temporary name in the same directory and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from simulator import __version__


class StoreError(OSError):
    """The run directory cannot be used (exists, unwritable, disk full)."""


def scenario_hash(raw: dict[str, Any]) -> str:
    """SHA-256 of the resolved scenario in canonical JSON: identifies what was run."""
    canonical = json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def prepare_run_dir(out: Path, force: bool) -> None:
    """Create ``out``; refuse an existing run directory unless ``force``."""
    if out.exists() and not out.is_dir():
        raise StoreError(f"--out {out}: exists and is not a directory")
    if (out / "manifest.json").exists() and not force:
        raise StoreError(f"--out {out}: already holds a run; choose another directory or "
                         f"pass --force to overwrite it")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StoreError(f"--out {out}: cannot write there ({exc.strerror or exc})") from exc


def write_atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """Call ``writer(tmp)`` then rename ``tmp`` to ``path``; clean up on failure."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text))


def write_table(path: Path, frame: pd.DataFrame) -> None:
    write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


def write_run(out: Path, *, raw: dict[str, Any], summary: pd.DataFrame,
              devices: pd.DataFrame, server: pd.DataFrame, requests: pd.DataFrame | None,
              manifest: dict[str, Any]) -> None:
    """Write every file of a finished run; the manifest last, as the completion mark."""
    try:
        write_text(out / "scenario.yaml", yaml.safe_dump(raw, sort_keys=False))
        write_table(out / "summary.parquet", summary)
        write_table(out / "devices.parquet", devices)
        write_table(out / "server.parquet", server)
        if requests is not None:
            write_table(out / "requests.parquet", requests)
        write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=str))
    except OSError as exc:
        raise StoreError(f"--out {out}: writing the results failed "
                         f"({exc.strerror or exc})") from exc


def base_manifest() -> dict[str, Any]:
    """Version and platform facts every manifest carries."""
    import numpy
    import simpy

    return {"splitsim_version": __version__, "python": platform.python_version(),
            "numpy": numpy.__version__, "simpy": simpy.__version__,
            "platform": platform.platform()}
