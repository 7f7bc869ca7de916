"""Analytic energy: Horowitz ISSCC 2014 45 nm constants, per block in the profile."""

from __future__ import annotations

import pytest

from profiles.energy import DRAM_PJ_PER_BYTE, block_energy


def test_fp32_mac_costs_mult_plus_add():
    # Horowitz ISSCC 2014: fp32 mult 3.7 pJ + fp32 add 0.9 pJ = 4.6 pJ per MAC
    e = block_energy(nonzero_macs=1e6, other_ops=0, weight_bytes=0, input_bytes=0,
                     output_bytes=0, dtype="float32")
    assert e.compute_j == pytest.approx(4.6e-6)
    assert e.memory_j == 0


def test_dram_traffic_costs_640_pj_per_32_bit_word():
    # Horowitz ISSCC 2014: 640 pJ per 32-bit DRAM read = 160 pJ/byte
    assert DRAM_PJ_PER_BYTE == 160
    e = block_energy(nonzero_macs=0, other_ops=0, weight_bytes=1000, input_bytes=200,
                     output_bytes=800, dtype="float32")
    assert e.memory_j == pytest.approx(2000 * 160e-12)


def test_int8_arithmetic_is_cheaper_than_fp16_and_fp32():
    kw = {"nonzero_macs": 1e6, "other_ops": 1e4, "weight_bytes": 0, "input_bytes": 0,
          "output_bytes": 0}
    fp32, fp16, int8 = (block_energy(dtype=d, **kw).total_j
                        for d in ("float32", "float16", "int8"))
    assert int8 < fp16 < fp32
    assert int8 == pytest.approx(1e6 * 0.23e-12 + 1e4 * 0.03e-12)


def test_profile_records_energy_per_block_and_in_totals():
    pytest.importorskip("torch")
    from profiles.build import profile_model

    prof = profile_model("mlp:64-32-10", exits="parametric")
    fc1 = prof["blocks"][0]
    # by hand: 64*32 MACs * 4.6 pJ + 32 ReLUs * 0.9 pJ;
    # DRAM: (64*32+32 weights)*4 B + 64*4 B in + 32*4 B out, at 160 pJ/B
    compute = 64 * 32 * 4.6e-12 + 32 * 0.9e-12
    memory = ((64 * 32 + 32) * 4 + 64 * 4 + 32 * 4) * 160e-12
    assert fc1["energy_j"] == pytest.approx(compute + memory, rel=1e-5)
    assert prof["totals"]["energy_j"] == pytest.approx(
        sum(b["energy_j"] for b in prof["blocks"]), rel=1e-5)
    assert "Horowitz" in prof["provenance"]["energy"]
