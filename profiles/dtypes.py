"""Element sizes of the dtypes a profile can be computed at (torch-free).

Why separate: the cut payload (``profiles.graph``), the weight storage
(``profiles.count``) and the energy model (``profiles.energy``) all scale with
the same bytes per element, and the energy model should not need torch.
"""

from __future__ import annotations

from profiles.model import ProfileError

__all__ = ["DTYPE_BYTES", "canonical_dtype", "dtype_bytes"]

DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
"""Bytes per element (int8: quantised weights and activations)."""

_ALIASES = {"fp32": "float32", "float": "float32", "fp16": "float16", "half": "float16",
            "bf16": "bfloat16"}


def canonical_dtype(dtype: str) -> str:
    """The canonical name of ``dtype`` (``fp16`` → ``float16``); unknown → ProfileError."""
    key = _ALIASES.get(dtype, dtype)
    if key not in DTYPE_BYTES:
        raise ProfileError(f"unknown dtype '{dtype}'; choose one of "
                           f"{', '.join(DTYPE_BYTES)} (or fp32, fp16)")
    return key


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of ``dtype``."""
    return DTYPE_BYTES[canonical_dtype(dtype)]
