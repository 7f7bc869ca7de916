"""Cuts: every tensor crossing a cut, its bytes per dtype, natural bottlenecks."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from profiles.dtypes import dtype_bytes  # noqa: E402
from profiles.graph import trace  # noqa: E402
from profiles.model import ProfileError  # noqa: E402
from profiles.zoo import BasicBlock  # noqa: E402


def _hand_net() -> nn.Sequential:
    """3x16x16 → conv3x3(8)+pool → 8x8x8 → conv1x1(4) → 4x8x8 → linear → 10."""
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU()),
        nn.Sequential(nn.Flatten(), nn.Linear(256, 10)),
    )


def test_block_cut_bytes_of_a_hand_built_net():
    g = trace(_hand_net(), (3, 16, 16))
    # by hand: input 3*16*16 = 768 elements; after block 1: 8*8*8 = 512; block 2: 4*8*8 = 256;
    # block 3: 10 logits
    assert g.input_numel == 768
    assert [g.block_output_numel(b) for b in (-1, 0, 1, 2)] == [768, 512, 256, 10]


@pytest.mark.parametrize(("dtype", "size"), [("float32", 4), ("fp16", 2), ("int8", 1)])
def test_cut_bytes_scale_with_dtype(dtype, size):
    from profiles.build import profile_model

    prof = profile_model("mlp:64-32-16-10", dtype=dtype, exits="parametric")
    assert prof["input_bytes"] == 64 * size
    assert [b["output_bytes"] for b in prof["blocks"]] == [32 * size, 16 * size, 10 * size]
    assert prof["totals"]["weight_bytes"] == prof["totals"]["params"] * size


def test_unknown_dtype_is_rejected():
    with pytest.raises(ProfileError, match="int4"):
        dtype_bytes("int4")


def test_cut_inside_a_residual_block_carries_two_tensors():
    block = BasicBlock(16, 16)  # identity shortcut
    g = trace(nn.Sequential(block), (16, 8, 8))
    relu_after_conv1 = next(c for c in g.cuts() if c.after_node == "_0_relu")
    # the branch (16x8x8 after conv1/bn1/relu) and the shortcut (the block input)
    assert len(relu_after_conv1.tensors) == 2
    assert relu_after_conv1.numel == 2 * 16 * 8 * 8
    assert relu_after_conv1.nbytes("float16") == 2 * 16 * 8 * 8 * 2
    # after the add only one tensor is left
    after_block = g.crossing_after_block(0)
    assert len(after_block) == 1


def test_projection_shortcut_cut_carries_input_and_projection():
    g = trace(nn.Sequential(BasicBlock(8, 16, stride=2)), (8, 8, 8))
    cut = next(c for c in g.cuts() if c.after_node == "_0_downsample_1")
    # shortcut computed first (16x4x4), the block input (8x8x8) is still needed by conv1
    assert cut.numel == 16 * 4 * 4 + 8 * 8 * 8


def test_natural_bottleneck_flags_cuts_smaller_than_the_input():
    from profiles.build import profile_model

    prof = profile_model("mlp:64-128-16-10", exits="parametric")
    flags = [b["natural_bottleneck"] for b in prof["blocks"]]
    # 128 > 64 inputs: no; 16 < 64: yes; the last block sends nothing (device-only)
    assert flags == [False, True, False]


def test_nodes_are_attributed_to_their_blocks():
    g = trace(_hand_net(), (3, 16, 16))
    assert [len(g.nodes_of_block(b)) for b in range(3)] == [3, 2, 2]


def test_untraceable_model_gives_a_profile_error():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(ProfileError, match=r"torch\.fx"):
        trace(nn.Sequential(Branchy()), (4,))
