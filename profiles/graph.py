"""torch.fx trace → networkx DAG → the tensors that cross each cut.

Why a graph and not just "the output of block i": a cut is a set of edges, and
in networks with skip connections more than one tensor can cross it (a cut
inside a residual block carries both the branch and the shortcut).  The
device must send *all* of them, so the payload of a split is the sum of the
sizes of every tensor produced before the cut and consumed after it.

The DAG's nodes are the fx nodes (names as fx gives them), in fx execution
order (a topological order); each node records the block it belongs to (from
fx's ``nn_module_stack``), its output shape and element count.  Sizes are in
bytes at a chosen dtype (:data:`DTYPE_BYTES`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from profiles.dtypes import DTYPE_BYTES, canonical_dtype, dtype_bytes
from profiles.model import ProfileError

__all__ = ["DTYPE_BYTES", "Cut", "ModelGraph", "canonical_dtype", "dtype_bytes", "trace"]

@dataclass(frozen=True)
class Cut:
    """A cut after ``position`` in execution order and the tensors that cross it."""

    position: int
    after_node: str
    block: int
    tensors: tuple[str, ...]
    numel: int

    def nbytes(self, dtype: str = "float32") -> int:
        return self.numel * dtype_bytes(dtype)


def _numel(meta: object) -> int | None:
    """Element count of a ``tensor_meta`` (summed over tuple outputs), None if no tensor."""
    if meta is None:
        return None
    shape = getattr(meta, "shape", None)
    if shape is not None:
        n = 1
        for d in shape:
            n *= int(d)
        return n
    if isinstance(meta, list | tuple):
        parts = [_numel(m) for m in meta]
        vals = [p for p in parts if p is not None]
        return sum(vals) if vals else None
    return None


class ModelGraph:
    """The traced backbone as a DAG with per-node block, shape and size.

    Block indices: ``-1`` for the input, ``0..L-1`` for the blocks, ``L`` for the
    graph's output node (what leaves the last block goes "to the output").
    """

    def __init__(self, gm: fx.GraphModule, block_names: Sequence[str],
                 input_shape: Sequence[int]) -> None:
        self.gm = gm
        self.block_names = list(block_names)
        self.input_shape = tuple(input_shape)
        self.dag = nx.DiGraph()
        self.order: list[str] = []
        self._index: dict[str, int] = {}
        index_of_block = {n: i for i, n in enumerate(self.block_names)}
        last_block = 0
        pending_attr: list[fx.Node] = []
        for node in gm.graph.nodes:
            if node.op == "placeholder":
                block = -1
            elif node.op == "output":
                block = len(self.block_names)
            elif node.op == "get_attr":
                pending_attr.append(node)
                block = last_block  # refined below: the block of its first user
            else:
                stack = node.meta.get("nn_module_stack") or {}
                if stack:
                    path = next(iter(stack.values()))[0]
                    top = str(path).split(".")[0]
                    if top not in index_of_block:
                        raise ProfileError(f"node '{node.name}' belongs to module '{path}', "
                                           f"which is not one of the blocks")
                    block = index_of_block[top]
                else:
                    block = last_block
                if block < last_block:
                    raise ProfileError(f"blocks must run in order: node '{node.name}' of "
                                       f"block '{self.block_names[block]}' runs after block "
                                       f"'{self.block_names[last_block]}'")
                last_block = block
            meta = node.meta.get("tensor_meta")
            shape = tuple(int(d) for d in meta.shape) if hasattr(meta, "shape") else None
            self._index[node.name] = len(self.order)
            self.order.append(node.name)
            self.dag.add_node(node.name, op=node.op, target=str(node.target), block=block,
                              shape=shape, numel=_numel(meta), fx_node=node)
            for src in node.all_input_nodes:
                self.dag.add_edge(src.name, node.name)
        for node in pending_attr:
            users = sorted((self.dag.nodes[u.name]["block"] for u in node.users), default=0)
            self.dag.nodes[node.name]["block"] = users[0] if users else 0
        inputs = [n for n in self.order if self.dag.nodes[n]["op"] == "placeholder"]
        if len(inputs) != 1:
            raise ProfileError(f"the backbone must take exactly one input tensor, it takes "
                               f"{len(inputs)}")
        self.input_node = inputs[0]

    # ----------------------------------------------------------------- queries

    @property
    def input_numel(self) -> int:
        return int(self.dag.nodes[self.input_node]["numel"] or 0)

    def block_of(self, node: str) -> int:
        return int(self.dag.nodes[node]["block"])

    def nodes_of_block(self, block: int) -> list[str]:
        return [n for n in self.order if self.block_of(n) == block]

    def _tensor_nodes(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.dag.nodes[n]["numel"] is not None]

    def crossing_after_position(self, position: int) -> list[str]:
        """Tensors produced at or before ``position`` (execution order) and used after it."""
        return self._tensor_nodes(
            n for n in self.order[:position + 1]
            if any(self._index[s] > position for s in self.dag.successors(n)))

    def crossing_after_block(self, block: int) -> list[str]:
        """Tensors crossing the cut after block ``block`` (``-1``: before the first block).

        Every tensor made in blocks ``≤ block`` (or the input) that a later block,
        or the output, consumes.
        """
        return self._tensor_nodes(
            n for n in self.order if self.block_of(n) <= block
            and any(self.block_of(s) > block for s in self.dag.successors(n)))

    def numel_of(self, nodes: Iterable[str]) -> int:
        return sum(int(self.dag.nodes[n]["numel"] or 0) for n in nodes)

    def block_output_numel(self, block: int) -> int:
        """Elements crossing the cut after ``block`` (the payload of split ``block+1``)."""
        return self.numel_of(self.crossing_after_block(block))

    def cuts(self) -> list[Cut]:
        """Every cut between two consecutive nodes in execution order, finest grain.

        Useful to look for cuts inside blocks (and to see the residual blocks'
        two-tensor cuts); the simulator's split points are the block boundaries.
        """
        out = []
        for pos, name in enumerate(self.order[:-1]):
            if self.dag.nodes[name]["op"] in ("output",):
                continue
            tensors = self.crossing_after_position(pos)
            out.append(Cut(position=pos, after_node=name, block=self.block_of(name),
                           tensors=tuple(tensors), numel=self.numel_of(tensors)))
        return out


def trace(backbone: nn.Module, input_shape: Sequence[int],
          block_names: Sequence[str] | None = None) -> ModelGraph:
    """Trace ``backbone`` (an ``nn.Sequential`` of blocks) with fx and propagate shapes.

    Shapes come from running the traced graph once on a batch of one, on the
    device that holds the parameters (``meta`` works and allocates nothing).
    """
    try:
        gm = fx.symbolic_trace(backbone)
    except Exception as exc:  # fx raises many kinds (TraceError, TypeError, ...)
        raise ProfileError(f"torch.fx cannot trace the model ({type(exc).__name__}: {exc}); "
                           f"blocks must avoid data-dependent control flow") from exc
    try:
        device = next(backbone.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    example = torch.zeros((1, *input_shape), device=device)
    with torch.no_grad():
        try:
            ShapeProp(gm).propagate(example)
        except Exception as exc:
            raise ProfileError(f"running the model on an input of shape {tuple(input_shape)} "
                               f"failed: {type(exc).__name__}: {exc}") from exc
    names = list(block_names) if block_names is not None else [
        n for n, _ in backbone.named_children()]
    return ModelGraph(gm, names, input_shape)
