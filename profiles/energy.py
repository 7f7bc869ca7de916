"""Analytic per-block inference energy from operation and memory-access counts.

Why analytic: it needs no hardware, is the same on every machine, and makes the
effect of sparsity visible (fewer MACs and fewer weights fetched).  It is an
estimate for a simple accelerator, not a measurement of a phone; the scenario's
device power model remains what the simulator uses by default.

Constants: M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, energy per operation at 45 nm, 0.9 V:

==========  ==========  ==========
dtype       mult (pJ)   add (pJ)
==========  ==========  ==========
float32     3.7         0.9
float16     1.1         0.4
int8        0.2         0.03
==========  ==========  ==========

DRAM access: 640 pJ per 32-bit word read (same paper), i.e. 160 pJ per byte.

Model, per block:

* compute = non-zero MACs × (mult + add) + other ops (norm, activation,
  pooling, element-wise add) × add;
* memory = (weight bytes as stored, dense or CSR + input bytes read + output
  bytes written at the block boundary) × 160 pJ/B.  Activations inside a
  block are assumed to stay on chip; every weight is fetched once per
  inference (batch 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from profiles.dtypes import canonical_dtype

__all__ = ["DRAM_PJ_PER_BYTE", "HOROWITZ_45NM", "BlockEnergy", "block_energy"]

HOROWITZ_45NM: dict[str, tuple[float, float]] = {
    "float32": (3.7, 0.9),
    "float16": (1.1, 0.4),
    "bfloat16": (1.1, 0.4),  # no bf16 figure in the paper; fp16's is used
    "int8": (0.2, 0.03),
}
"""(multiply, add) energy in pJ per operation, Horowitz ISSCC 2014, 45 nm."""

DRAM_PJ_PER_BYTE = 640.0 / 4
"""DRAM read energy, 640 pJ per 32-bit word (Horowitz ISSCC 2014), per byte."""

SOURCE = ("analytic: Horowitz ISSCC 2014 45 nm energies (fp32 mult 3.7 pJ, add 0.9 pJ; "
          "fp16 1.1/0.4 pJ; int8 0.2/0.03 pJ; DRAM 640 pJ per 32-bit read); compute = "
          "nonzero_macs*(mult+add) + other_ops*add; memory = (stored weight bytes + block "
          "input bytes + block output bytes) * 160 pJ/B; activations inside a block on chip")


@dataclass(frozen=True)
class BlockEnergy:
    """Energy of one block in joules, split into arithmetic and DRAM traffic."""

    compute_j: float
    memory_j: float

    @property
    def total_j(self) -> float:
        return self.compute_j + self.memory_j


def block_energy(*, nonzero_macs: float, other_ops: float, weight_bytes: float,
                 input_bytes: float, output_bytes: float,
                 dtype: str = "float32") -> BlockEnergy:
    """Energy (J) of running one block once, per the model in the module docstring."""
    mult, add = HOROWITZ_45NM[canonical_dtype(dtype)]
    compute_pj = nonzero_macs * (mult + add) + other_ops * add
    memory_pj = (weight_bytes + input_bytes + output_bytes) * DRAM_PJ_PER_BYTE
    return BlockEnergy(compute_j=compute_pj * 1e-12, memory_j=memory_pj * 1e-12)
