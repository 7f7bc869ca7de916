"""Counting: MACs, other operations, parameters, non-zeros and storage per block.

Why our own counter: the simulator needs counts *per block* and *per
predefined-sparse mask*, which no off-the-shelf counter gives.  Counting walks
the fx graph (``profiles.graph``) node by node with one rule per layer type:

=====================  =============================================  ==========
layer                  MACs                                           other ops
=====================  =============================================  ==========
Conv (any dim/groups)  out elements × in_channels/groups × kernel     –
ConvTranspose          in elements × out_channels/groups × kernel     –
Linear / F.linear      out elements × in_features                     –
matmul / bmm / mm      out elements × inner dimension                 –
BatchNorm              –                                              2 / elem
LayerNorm, GroupNorm,  –                                              5 / elem
InstanceNorm
activations            –                                              1 / elem
max / avg pool         –                                              out × kernel
adaptive pool, mean    –                                              in elements
add, mul, sub, div     –                                              1 / elem
reshape, flatten, cat, –                                              0
dropout, identity
=====================  =============================================  ==========

MACs are the multiply-accumulates of convolutions and matrix products: the
quantity papers publish and ``torch.utils.flop_counter`` counts (as 2 FLOPs
per MAC; bias additions are not counted by either).  Normalisation,
activation, pooling and element-wise additions are reported separately as
``other_ops`` (BN counts 2 because at inference it is a per-channel scale and
shift).  A layer type without a rule raises :class:`ProfileError` naming it,
rather than silently counting zero.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from profiles.dtypes import dtype_bytes
from profiles.graph import ModelGraph, trace
from profiles.model import ProfileError
from profiles.sparsity import LayerMask

__all__ = ["BlockCount", "NodeCount", "count_blocks", "count_graph", "count_module",
           "flop_counter_macs"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONVT = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_NORM5 = (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)
_ACT = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU,
        nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Mish,
        nn.Softmax, nn.LogSoftmax, nn.Softplus)
_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
_ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
             nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_FREE = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity,
         nn.Flatten, nn.Unflatten)

_ELEMENTWISE_FN = {operator.add, operator.iadd, operator.sub, operator.isub, operator.mul,
                   operator.imul, operator.truediv, operator.itruediv, torch.add, torch.sub,
                   torch.mul, torch.div, torch.relu, torch.relu_, torch.sigmoid, torch.tanh,
                   F.relu, F.relu6, F.silu, F.gelu, F.sigmoid, F.hardswish, F.hardsigmoid,
                   F.leaky_relu, F.elu, F.softmax, F.log_softmax, torch.softmax, torch.exp,
                   torch.neg, operator.neg}
_FREE_FN = {torch.flatten, torch.reshape, torch.cat, torch.concat, torch.stack, torch.squeeze,
            torch.unsqueeze, torch.transpose, torch.permute, torch.chunk, torch.split,
            operator.getitem, getattr, F.dropout, torch.narrow, F.pad, torch.clone}
_MATMUL_FN = {torch.matmul, operator.matmul, torch.bmm, torch.mm}
_POOL_REDUCE_FN = {torch.mean, torch.sum, F.adaptive_avg_pool2d, F.adaptive_avg_pool1d,
                   F.adaptive_max_pool2d}
_ELEMENTWISE_METHOD = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "relu",
                       "relu_", "sigmoid", "sigmoid_", "tanh", "exp", "softmax", "neg"}
_FREE_METHOD = {"view", "reshape", "flatten", "size", "contiguous", "permute", "transpose",
                "squeeze", "unsqueeze", "expand", "expand_as", "chunk", "split", "dim",
                "clone", "view_as", "t", "type_as", "to", "float", "detach"}
_REDUCE_METHOD = {"mean", "sum", "amax", "max"}


@dataclass(frozen=True)
class NodeCount:
    """Counts of one fx node: dense MACs, MACs left by the sparse mask, other ops."""

    node: str
    block: int
    layer: str
    macs: int
    nonzero_macs: int
    other_ops: int


@dataclass
class BlockCount:
    """Everything counted for one block.  Bytes of weights at the profile dtype."""

    name: str
    macs: int = 0
    nonzero_macs: int = 0
    other_ops: int = 0
    params: int = 0
    nonzero_params: int = 0
    weight_bytes_dense: int = 0
    weight_bytes_sparse: int = 0
    layers: dict[str, float] = field(default_factory=dict)  # per-layer density (masked ones)


def _shape(node: Any) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return tuple(int(d) for d in meta.shape) if hasattr(meta, "shape") else None


def _numel(shape: Sequence[int] | None) -> int:
    return math.prod(shape) if shape is not None else 0


def _first_tensor_arg(node: fx.Node) -> tuple[int, ...] | None:
    for a in node.args:
        s = _shape(a)
        if s is not None:
            return s
    return None


def _module_rule(mod: nn.Module, node: fx.Node) -> tuple[int, int]:
    """(MACs, other ops) of a leaf module call."""
    out = _numel(_shape(node))
    inp = _first_tensor_arg(node)
    if isinstance(mod, _CONV):
        return out * (mod.in_channels // mod.groups) * math.prod(mod.kernel_size), 0
    if isinstance(mod, _CONVT):
        return _numel(inp) * (mod.out_channels // mod.groups) * math.prod(mod.kernel_size), 0
    if isinstance(mod, nn.Linear):
        return out * mod.in_features, 0
    if isinstance(mod, _BN):
        return 0, 2 * out
    if isinstance(mod, _NORM5):
        return 0, 5 * out
    if isinstance(mod, _ACT):
        return 0, out
    if isinstance(mod, _POOL):
        k = mod.kernel_size
        taps = math.prod(k) if isinstance(k, tuple) else k ** (len(inp or (0, 0, 0, 0)) - 2)
        return 0, out * taps
    if isinstance(mod, _ADAPTIVE):
        return 0, _numel(inp)
    if isinstance(mod, _FREE):
        return 0, 0
    raise ProfileError(f"profiles.count: no counting rule for layer type "
                       f"'{type(mod).__name__}' (module '{node.target}'); supported: conv, "
                       f"linear, norm, pooling, activations, dropout, flatten")


def _function_rule(node: fx.Node) -> tuple[int, int]:
    """(MACs, other ops) of a call_function / call_method node."""
    out_shape = _shape(node)
    out = _numel(out_shape)
    fn = node.target
    if node.op == "call_function":
        name = getattr(fn, "__name__", str(fn))
        if fn in _FREE_FN:
            return 0, 0
        if fn in _ELEMENTWISE_FN:
            return 0, out
        if fn in _POOL_REDUCE_FN:
            return 0, _numel(_first_tensor_arg(node))
        if fn in _MATMUL_FN:
            a = _shape(node.args[0])
            return (out * a[-1] if a else 0), 0
        if fn is F.linear:
            w = _shape(node.args[1]) if len(node.args) > 1 else None
            return (out * w[-1] if w else 0), 0
        raise ProfileError(f"profiles.count: no counting rule for function '{name}' "
                           f"(node '{node.name}')")
    method = str(fn)
    if method in _FREE_METHOD:
        return 0, 0
    if method in _ELEMENTWISE_METHOD:
        return 0, out
    if method in _REDUCE_METHOD:
        return 0, _numel(_first_tensor_arg(node))
    raise ProfileError(f"profiles.count: no counting rule for tensor method '.{method}()' "
                       f"(node '{node.name}')")


def count_graph(graph: ModelGraph, masks: Mapping[str, LayerMask] | None = None
                ) -> list[NodeCount]:
    """Count every compute node of ``graph``; masked layers get density × MACs non-zero.

    Because a channel mask keeps whole kernels, a masked convolution's non-zero
    MACs are exactly (output positions) × (kept weights): density × MACs.
    """
    masks = masks or {}
    modules = dict(graph.gm.named_modules())
    out = []
    for name in graph.order:
        node: fx.Node = graph.dag.nodes[name]["fx_node"]
        if node.op in ("placeholder", "output", "get_attr"):
            continue
        if node.op == "call_module":
            mod = modules[str(node.target)]
            macs, other = _module_rule(mod, node)
            layer = type(mod).__name__
            lm = masks.get(str(node.target))
            nz = macs if lm is None else round(macs * lm.density)
        else:
            macs, other = _function_rule(node)
            layer = getattr(node.target, "__name__", str(node.target))
            nz = macs
        out.append(NodeCount(node=name, block=graph.block_of(name), layer=layer,
                             macs=int(macs), nonzero_macs=int(nz), other_ops=int(other)))
    return out


def _index_bytes(columns: int) -> int:
    """Bytes of a CSR column index able to address ``columns`` columns."""
    return 1 if columns <= 2 ** 8 else 2 if columns <= 2 ** 16 else 4


def csr_bytes(lm: LayerMask, value_bytes: int) -> int:
    """Storage of a masked weight in CSR: values + column indices + row pointers.

    Rows are output channels, columns ``in_channels/groups × kernel``; row
    pointers are 32-bit.  The narrowest index type that fits is used.
    """
    rows, cols = lm.shape[0], lm.shape[1] * lm.kernel
    nnz = lm.nonzero_weights
    return nnz * value_bytes + nnz * _index_bytes(cols) + (rows + 1) * 4


def _param_counts(block: nn.Module, prefix: str, masks: Mapping[str, LayerMask],
                  value_bytes: int, into: BlockCount) -> None:
    for qual, mod in block.named_modules():
        full = f"{prefix}.{qual}" if qual else prefix
        lm = masks.get(full)
        for pname, p in mod.named_parameters(recurse=False):
            n = p.numel()
            into.params += n
            into.weight_bytes_dense += n * value_bytes
            if lm is not None and pname == "weight":
                into.nonzero_params += lm.nonzero_weights
                into.weight_bytes_sparse += csr_bytes(lm, value_bytes)
                into.layers[full] = round(lm.density, 6)
            else:
                into.nonzero_params += n
                into.weight_bytes_sparse += n * value_bytes


def count_blocks(graph: ModelGraph, backbone: nn.Module,
                 masks: Mapping[str, LayerMask] | None = None,
                 dtype: str = "float32") -> list[BlockCount]:
    """Per-block MACs, non-zero MACs, other ops, params, non-zeros and weight storage.

    Parameters are those of each block's modules (biases and norm parameters
    included, as the published counts do); ``weight_bytes_sparse`` stores masked
    weights in CSR and everything else dense.
    """
    masks = masks or {}
    value_bytes = dtype_bytes(dtype)
    children = dict(backbone.named_children())
    counts = [BlockCount(name=n) for n in graph.block_names]
    for nc in count_graph(graph, masks):
        if 0 <= nc.block < len(counts):
            c = counts[nc.block]
            c.macs += nc.macs
            c.nonzero_macs += nc.nonzero_macs
            c.other_ops += nc.other_ops
    for c in counts:
        _param_counts(children[c.name], c.name, masks, value_bytes, c)
    return counts


def count_module(module: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """Totals of a whole (small) module, e.g. an exit head on a block's output shape."""
    wrapper = nn.Sequential()
    wrapper.add_module("m", module)
    graph = trace(wrapper, input_shape)
    nodes = count_graph(graph)
    params = sum(p.numel() for p in module.parameters())
    return {"macs": sum(n.macs for n in nodes), "other_ops": sum(n.other_ops for n in nodes),
            "params": params}


def flop_counter_macs(module: nn.Module, input_shape: Sequence[int]) -> int:
    """MACs by ``torch.utils.flop_counter`` (FLOPs / 2): the independent cross-check."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    x = torch.zeros((1, *input_shape), device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(x)
    return counter.get_total_flops() // 2
