"""Model zoo: published MAC and parameter counts, cross-checked with torch's counter."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from profiles import zoo  # noqa: E402
from profiles.count import count_blocks, flop_counter_macs  # noqa: E402
from profiles.graph import trace  # noqa: E402
from profiles.model import ProfileError  # noqa: E402

# (model, published MACs, published params, where the numbers are published)
PUBLISHED = [
    # torchvision model card AlexNet_Weights.IMAGENET1K_V1: 0.71 GFLOPS (multiply-adds), 61.1M
    ("alexnet", 0.71e9, 61.1e6),
    # Simonyan & Zisserman ICLR 2015, Table 2: 138M params; torchvision card: 15.47 GFLOPS
    ("vgg16", 15.5e9, 138e6),
    # He et al. CVPR 2016, Table 1: 1.8e9 FLOPs (multiply-adds); torchvision card: 11.7M params
    ("resnet18", 1.8e9, 11.7e6),
    # torchvision card ResNet50_Weights.IMAGENET1K_V1 (v1.5): 4.09 GFLOPS, 25.6M params
    ("resnet50", 4.1e9, 25.6e6),
    # Sandler et al. CVPR 2018, Table 4: 300M multiply-adds; torchvision card: 3.5M params
    ("mobilenet_v2", 300e6, 3.5e6),
    # Tan & Le ICML 2019, Table 2: 0.39B FLOPs (multiply-adds), 5.3M params
    ("efficientnet_b0", 0.39e9, 5.3e6),
]


def _counts(name: str) -> tuple[int, int]:
    with torch.device("meta"):
        net = zoo.build(name)
    blocks = count_blocks(trace(net.blocks, net.input_shape), net.blocks)
    return sum(b.macs for b in blocks), sum(b.params for b in blocks)


@pytest.mark.parametrize(("name", "macs", "params"), PUBLISHED)
def test_imagenet_model_matches_published_counts_within_2_percent(name, macs, params):
    got_macs, got_params = _counts(name)
    assert got_macs == pytest.approx(macs, rel=0.02)
    assert got_params == pytest.approx(params, rel=0.02)


@pytest.mark.parametrize("name", [p[0] for p in PUBLISHED] + ["resnet18-cifar10", "digits-cnn",
                                                              "mlp:800-40-40-10"])
def test_own_counter_equals_torch_flop_counter(name):
    with torch.device("meta"):
        net = zoo.build(name)
    ours = sum(b.macs for b in count_blocks(trace(net.blocks, net.input_shape), net.blocks))
    assert ours == flop_counter_macs(net.blocks, net.input_shape)


def test_exact_parameter_counts_equal_torchvision_reference_implementations():
    # torchvision's num_params for the same architectures (model cards)
    assert _counts("resnet50")[1] == 25_557_032
    assert _counts("vgg16")[1] == 138_357_544
    assert _counts("mobilenet_v2")[1] == 3_504_872
    assert _counts("efficientnet_b0")[1] == 5_288_548


def test_resnet18_cifar10_counts():
    # CIFAR ResNet-18 (3x3 stem, no max-pool, 10 classes): 11,173,962 params, 0.56 GMACs
    macs, params = _counts("resnet18-cifar10")
    assert params == 11_173_962
    assert macs == pytest.approx(0.556e9, rel=0.01)


def test_every_zoo_model_runs_its_exit_heads():
    net = zoo.build("digits-cnn")
    outs = net.forward_all(torch.zeros(2, *net.input_shape))
    assert [tuple(o.shape) for o in outs] == [(2, 10)] * 3
    assert list(net.exits) == ["conv1", "conv2"]


def test_mlp_spec_parses_widths_into_blocks():
    net = zoo.build("mlp:800-3-3-10")
    assert list(net.blocks._modules) == ["fc1", "fc2", "fc3"]
    assert net.input_shape == (800,)


def test_unknown_model_error_names_the_choices():
    with pytest.raises(ProfileError, match="resnet50"):
        zoo.build("resnet51")
