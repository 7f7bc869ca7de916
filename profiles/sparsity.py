"""Predefined sparsity: connection masks fixed *before* training.

Why: predefined-sparse networks (Dey et al., IEEE JETCAS 2019; Capogrosso et al.,
FDL 2024) remove a fixed fraction of connections by construction, with every
neuron keeping the same number of connections, so that compute and storage
shrink predictably and the hardware sees a regular pattern.  The simulator
only needs the resulting counts (non-zero MACs and parameters per block),
but the same masks are used to train the small digits nets whose exit traces
ship in the library.

Conventions (the ones that reproduce the published numbers):

* Linear layer ``n_in → n_out`` with *fan-out* ``f``: every input neuron
  connects to exactly ``f`` outputs, and the in-degrees are balanced (they
  differ by at most one).  Its density is ``f / n_out``.  ``fan_out=[2, 9, 10]``
  on ``mlp:800-40-40-10`` gives densities 0.05, 0.225 and 1.0.
* Convolution: the pattern is on *channels*: each output channel connects to
  a fixed subset of the input channels of its group (all kernel taps of a kept
  channel pair are kept).  With a density ``d`` each output channel keeps
  ``max(1, round(d · c_in_per_group))`` input channels (halves up); a fan-out given for a
  convolution is the number of output channels each input channel feeds.
  Depthwise convolutions (one input channel per group) cannot be thinned and
  stay dense.
* Biases and normalisation parameters are never masked.

A mask is a boolean ``numpy`` array of shape ``(out_channels, in_channels /
groups)``: channel-level for convolutions, element-level for linear layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from profiles.model import ProfileError

__all__ = ["LayerMask", "apply_masks", "balanced_mask", "make_masks", "maskable_layers"]


@dataclass(frozen=True)
class LayerMask:
    """The fixed connection pattern of one layer, kept symbolic until needed.

    Per group, either every input feeds ``k`` outputs (``per="input"``: a fan-out)
    or every output reads ``k`` inputs (``per="output"``: a fan-in); ``kernel``
    is the number of taps per kept (output, input) pair (1 for linear layers).
    Counts are exact without building the boolean matrix, which matters for
    layers like VGG's fc6 (25088 × 4096); :attr:`mask` builds it on demand.
    """

    n_out: int  # outputs (channels) per group
    n_in: int  # inputs (channels) per group
    k: int
    per: str = "input"
    groups: int = 1
    kernel: int = 1
    seed: int = 0

    @property
    def density(self) -> float:
        """Fraction of weights kept (the same as the fraction of MACs kept)."""
        return self.k / (self.n_out if self.per == "input" else self.n_in)

    @property
    def nonzero_weights(self) -> int:
        pairs = self.n_in * self.k if self.per == "input" else self.n_out * self.k
        return self.groups * pairs * self.kernel

    @property
    def shape(self) -> tuple[int, int]:
        """(out channels, in channels per group) of the full mask."""
        return self.n_out * self.groups, self.n_in

    @property
    def mask(self) -> np.ndarray:
        """Boolean ``(out, in/groups)`` matrix: True where a connection is kept."""
        parts = []
        for g in range(self.groups):
            if self.per == "input":
                parts.append(balanced_mask(self.n_out, self.n_in, self.k, self.seed + g))
            else:
                parts.append(balanced_mask(self.n_in, self.n_out, self.k, self.seed + g).T)
        return np.concatenate(parts, axis=0)


def balanced_mask(n_out: int, n_in: int, fan_out: int, seed: int = 0) -> np.ndarray:
    """Mask where each of ``n_in`` inputs feeds exactly ``fan_out`` of ``n_out`` outputs.

    Inputs are dealt out round-robin over a random permutation of the outputs,
    so each output receives ``n_in·fan_out/n_out`` connections (±1): the
    regular structure of Dey et al.  Seeded: the mask is part of the design.
    """
    if not 1 <= fan_out <= n_out:
        raise ProfileError(f"fan-out {fan_out} must be between 1 and the {n_out} outputs")
    rng = np.random.default_rng(seed)
    out_perm = rng.permutation(n_out)
    in_perm = rng.permutation(n_in)
    mask = np.zeros((n_out, n_in), dtype=bool)
    slots = np.arange(n_in)[:, None] * fan_out + np.arange(fan_out)[None, :]
    mask[out_perm[slots % n_out], in_perm[:, None]] = True
    return mask


def maskable_layers(backbone: nn.Module) -> list[tuple[str, nn.Module]]:
    """Convolutions and linear layers in definition order, by qualified name."""
    return [(n, m) for n, m in backbone.named_modules()
            if isinstance(m, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d)]


def _nearest(x: float) -> int:
    """Nearest count ≥ 1, halves rounded up (so 2.5 connections → 3, not Python's 2)."""
    return max(1, int(np.floor(x + 0.5)))


def _layer_mask(module: nn.Module, *, density: float | None, fan_out: int | None,
                seed: int) -> LayerMask | None:
    """The mask for one layer, or ``None`` when the layer stays dense."""
    if isinstance(module, nn.Linear):
        n_out, n_in, groups, kernel = module.out_features, module.in_features, 1, 1
    else:
        assert isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d)
        n_out, n_in = module.out_channels, module.in_channels
        groups = module.groups
        kernel = int(np.prod(module.kernel_size))
    out_g, in_g = n_out // groups, n_in // groups
    common = {"n_out": out_g, "n_in": in_g, "groups": groups, "kernel": kernel, "seed": seed}
    if fan_out is not None:
        if not 1 <= fan_out <= out_g:
            raise ProfileError(f"fan-out {fan_out} is not between 1 and {out_g} outputs")
        return None if fan_out == out_g else LayerMask(k=fan_out, per="input", **common)
    assert density is not None
    if in_g < 2 or density >= 1.0:
        return None  # depthwise: one input channel per output, nothing to remove
    if isinstance(module, nn.Linear):
        k = _nearest(density * out_g)  # outputs fed by each input (fan-out)
        return None if k == out_g else LayerMask(k=k, per="input", **common)
    k = _nearest(density * in_g)  # input channels read by each output channel
    return None if k == in_g else LayerMask(k=k, per="output", **common)


def make_masks(backbone: nn.Module, *, sparsity: float | None = None,
               fan_out: Sequence[int] | None = None, seed: int = 0) -> dict[str, LayerMask]:
    """Predefined-sparse masks for every convolution and linear layer of ``backbone``.

    ``sparsity`` is the fraction of weights removed (0.75 keeps 25%), applied to
    each layer as a density ``1 - sparsity``; ``fan_out`` gives one fan-out per
    layer in definition order instead.  Returns ``{qualified name: LayerMask}``
    for the layers that are actually thinned (dense layers are absent).
    """
    layers = maskable_layers(backbone)
    if (sparsity is None) == (fan_out is None):
        raise ProfileError("give either a sparsity fraction or a fan-out list, not both")
    masks: dict[str, LayerMask] = {}
    if fan_out is not None:
        if len(fan_out) != len(layers):
            raise ProfileError(f"--fan-out has {len(fan_out)} values but the model has "
                               f"{len(layers)} conv/linear layers: "
                               f"{[n for n, _ in layers]}")
        for i, ((name, mod), f) in enumerate(zip(layers, fan_out, strict=True)):
            m = _layer_mask(mod, density=None, fan_out=int(f), seed=seed + 1000 * i)
            if m is not None:
                masks[name] = m
        return masks
    assert sparsity is not None
    if not 0.0 <= sparsity < 1.0:
        raise ProfileError(f"sparsity must be in [0, 1) (fraction of weights removed), "
                           f"got {sparsity}")
    for i, (name, mod) in enumerate(layers):
        m = _layer_mask(mod, density=1.0 - sparsity, fan_out=None, seed=seed + 1000 * i)
        if m is not None:
            masks[name] = m
    return masks


def apply_masks(backbone: nn.Module, masks: dict[str, LayerMask]) -> list[object]:
    """Zero the masked weights in place and keep them zero during training.

    A gradient hook multiplies each masked weight's gradient by its mask, so
    plain SGD/Adam (without weight decay) never revives a removed connection.
    Returns the hook handles (call ``.remove()`` to detach them).
    """
    import torch

    handles = []
    modules = dict(backbone.named_modules())
    for name, lm in masks.items():
        weight = modules[name].weight
        full = torch.as_tensor(lm.mask, dtype=weight.dtype)
        full = full.reshape(full.shape + (1,) * (weight.dim() - 2)).expand_as(weight).clone()
        with torch.no_grad():
            weight.mul_(full)
        handles.append(weight.register_hook(lambda g, f=full: g * f))
    return handles
