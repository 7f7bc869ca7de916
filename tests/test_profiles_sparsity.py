"""Predefined sparsity: Capogrosso et al. (FDL 2024) counts, masks, proportional MACs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from profiles import zoo  # noqa: E402
from profiles.build import profile_model  # noqa: E402
from profiles.model import ProfileError  # noqa: E402
from profiles.sparsity import apply_masks, balanced_mask, make_masks  # noqa: E402


def test_dense_mlp_800_3_3_10_has_2455_parameters():
    # Capogrosso et al. FDL 2024: 800*3+3 + 3*3+3 + 3*10+10 = 2,455 (biases counted)
    prof = profile_model("mlp:800-3-3-10", exits="parametric")
    assert prof["totals"]["params"] == 2455
    assert prof["totals"]["nonzero_params"] == 2455


def test_sparse_mlp_800_40_40_10_fan_out_2_9_10_has_2450_nonzero_parameters():
    # Capogrosso et al. FDL 2024: weights 800*2 + 40*9 + 40*10 = 2,360, plus 40+40+10 biases
    prof = profile_model("mlp:800-40-40-10", fan_out=[2, 9, 10], exits="parametric")
    assert prof["totals"]["nonzero_params"] == 2450
    assert prof["variant"] == "fanout-2-9-10"


def test_fan_out_2_9_10_gives_densities_005_0225_1():
    net = zoo.build("mlp:800-40-40-10")
    masks = make_masks(net.blocks, fan_out=[2, 9, 10])
    densities = [masks[n].density if n in masks else 1.0
                 for n in ("fc1.0", "fc2.0", "fc3.0")]
    assert densities == pytest.approx([0.05, 0.225, 1.0])


def test_capogrosso_storage_and_compute_reduction_exceeds_4x():
    # the paper claims >4x storage and compute reduction for its sparse configurations;
    # against the dense net of the same widths we find ~14x fewer non-zeros and MACs
    # (and ~10x less storage even with CSR indices).
    dense = profile_model("mlp:800-40-40-10", exits="parametric")["totals"]
    sparse = profile_model("mlp:800-40-40-10", fan_out=[2, 9, 10], exits="parametric")["totals"]
    assert dense["params"] / sparse["nonzero_params"] == pytest.approx(34090 / 2450)
    assert dense["macs"] / sparse["nonzero_macs"] == pytest.approx(34000 / 2360)
    assert dense["weight_bytes"] / sparse["weight_bytes"] > 4


def test_balanced_mask_has_fixed_fan_out_and_balanced_fan_in():
    mask = balanced_mask(n_out=40, n_in=800, fan_out=2, seed=3)
    assert (mask.sum(axis=0) == 2).all()  # every input feeds exactly 2 outputs
    fan_in = mask.sum(axis=1)
    assert fan_in.max() - fan_in.min() <= 1 and fan_in.sum() == 1600


def test_conv_output_channels_connect_to_a_fixed_subset_of_input_channels():
    conv = nn.Conv2d(16, 32, 3)
    masks = make_masks(nn.Sequential(conv), sparsity=0.75)
    lm = masks["0"]
    assert (lm.mask.sum(axis=1) == 4).all()  # each output channel reads 4 of 16 inputs
    apply_masks(nn.Sequential(conv), masks)
    kept = conv.weight.detach().abs().sum(dim=(2, 3)) > 0
    assert np.array_equal(kept.numpy(), lm.mask)  # whole kernels kept or removed


def test_masked_weights_stay_zero_through_training():
    net = nn.Sequential(nn.Linear(20, 10))
    masks = make_masks(net, sparsity=0.5)
    apply_masks(net, masks)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(5):
        loss = net(torch.randn(8, 20)).pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert int((net[0].weight != 0).sum()) == masks["0"].nonzero_weights == 100


@pytest.mark.parametrize(("sparsity", "density"), [(0.5, 0.5), (0.75, 0.25)])
def test_sparse_variant_nonzero_macs_in_proportion_to_density(sparsity, density):
    dense = profile_model("resnet18-cifar10", exits="parametric")
    sparse = profile_model("resnet18-cifar10", sparsity=sparsity, exits="parametric")
    assert sparse["totals"]["macs"] == dense["totals"]["macs"]
    assert sparse["totals"]["nonzero_macs"] / dense["totals"]["macs"] == pytest.approx(
        density, abs=0.01)
    for block in sparse["blocks"][1:-1]:  # the stem has 3 input channels: 1 or 2 of 3 kept
        assert block["nonzero_macs"] / block["macs"] == pytest.approx(density, abs=0.005)
    # the 512→10 classifier keeps the nearest whole fan-out: 3 or 5 of 10 outputs per input
    head = sparse["blocks"][-1]
    assert head["nonzero_macs"] / head["macs"] == pytest.approx(density, abs=0.05)
    assert sparse["totals"]["energy_j"] < dense["totals"]["energy_j"]


def test_depthwise_convolutions_stay_dense():
    with torch.device("meta"):
        net = zoo.build("mobilenet_v2")
    masks = make_masks(net.blocks, sparsity=0.75)
    depthwise = [n for n, m in net.blocks.named_modules()
                 if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1]
    assert depthwise and not set(depthwise) & set(masks)


def test_fan_out_list_must_match_the_layers():
    net = zoo.build("mlp:800-40-40-10")
    with pytest.raises(ProfileError, match="3 conv/linear layers"):
        make_masks(net.blocks, fan_out=[2, 9])
