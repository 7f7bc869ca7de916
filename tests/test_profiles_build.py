"""profile_model: the profile contract, users' own modules, clear errors, --measure."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from profiles.build import main, profile_model, variant_name  # noqa: E402
from profiles.model import ProfileError, load_profile_file, profile_from_dict  # noqa: E402

USER_MODULE = textwrap.dedent("""
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, head):
            super().__init__()
            self.blocks = nn.Sequential()
            self.blocks.add_module("features", nn.Sequential(nn.Conv2d(1, 4, 3), head))
            self.blocks.add_module("classifier", nn.Sequential(nn.Flatten(), nn.LazyLinear(3)))
            self.exits = nn.ModuleDict({"features": nn.Sequential(
                nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))})
            self.input_shape = (1, 6, 6)

    def good():
        net = Net(nn.ReLU())
        net.blocks(torch.zeros(1, 1, 6, 6))  # materialise the lazy layer
        return net

    def upsampling():
        return nn.Sequential(nn.Upsample(scale_factor=2)), (1, 4, 4)
""")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_nets"


def test_users_module_function_is_profiled(user_module):
    prof = profile_model(f"{user_module}:good")
    assert [b["name"] for b in prof["blocks"]] == ["features", "classifier"]
    # conv 1→4, 3x3 on 6x6 → 4x4x4: 64 outputs * 9 MACs; linear 64 → 3
    assert [b["macs"] for b in prof["blocks"]] == [64 * 9, 64 * 3]
    assert prof["blocks"][0]["exit"]["macs"] == 4 * 3
    assert prof["blocks"][0]["output_bytes"] == 64 * 4


def test_unknown_layer_error_names_the_layer_type(user_module):
    with pytest.raises(ProfileError, match="Upsample"):
        profile_model(f"{user_module}:upsampling")


def test_missing_function_is_a_profile_error(user_module):
    with pytest.raises(ProfileError, match="no function 'nope'"):
        profile_model(f"{user_module}:nope")


def test_profile_has_every_field_of_the_contract():
    prof = profile_model("resnet18-cifar10", sparsity=0.5)
    for key in ("name", "variant", "input_shape", "dtype", "input_bytes", "totals", "blocks",
                "provenance"):
        assert key in prof
    for key in ("macs", "flops", "params", "nonzero_params", "nonzero_macs", "weight_bytes"):
        assert key in prof["totals"]
    for key in ("name", "macs", "nonzero_macs", "params", "nonzero_params", "output_bytes",
                "natural_bottleneck", "energy_j"):
        assert key in prof["blocks"][0]
    assert prof["variant"] == "sparse-50"
    assert profile_from_dict(prof).exit_blocks == (3, 5, 7)


def test_variant_names():
    assert variant_name() == "dense"
    assert variant_name(0.75) == "sparse-75"
    assert variant_name(0.875) == "sparse-87.5"
    assert variant_name(fan_out=[2, 9, 10]) == "fanout-2-9-10"


def test_sparsity_and_fan_out_are_exclusive():
    with pytest.raises(ProfileError, match="not both"):
        profile_model("mlp:800-40-40-10", sparsity=0.5, fan_out=[2, 9, 10])


def test_measure_records_per_block_latency():
    prof = profile_model("mlp:64-32-16-10", measure=True, exits="parametric")
    assert all(b["latency_s"] > 0 for b in prof["blocks"])
    assert prof["blocks"][0]["exit"]["latency_s"] > 0
    assert prof["provenance"]["latency"].startswith("measured")


def test_command_line_writes_a_loadable_profile(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["mlp:800-40-40-10", "--fan-out", "2,9,10", "--out", str(out)]) == 0
    assert load_profile_file(out).totals["nonzero_params"] == 2450
    assert main(["resnet51"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_a_user_network_is_credited_as_such_in_provenance(monkeypatch) -> None:
    from pathlib import Path

    from profiles.build import profile_model

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "examples"
                                    / "my_network"))
    prof = profile_model("tiny_net:build")
    assert prof["provenance"]["architecture"].startswith("user network from 'tiny_net:build'")
    assert "profiles.zoo" not in prof["provenance"]["architecture"]
