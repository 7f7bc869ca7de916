"""Turn a model into a profile file (DESIGN.md §9): the profiler's one entry point.

``profile_model("resnet50")`` builds the zoo model, traces it, counts every
block, finds the tensors crossing every block boundary, adds exit heads and
their behaviour, the analytic energy, and (with ``measure=True``) measured
latencies, and returns the JSON-ready dict.  Every number's origin is written
in ``provenance``.

Units: MACs, FLOPs and ops are counts (1 MAC = 2 FLOPs); sizes are bytes at the
profile's ``dtype``; energies are joules; latencies seconds.

Extra keys beyond §9 (ignored by ``profile_from_dict``): per block ``flops``,
``other_ops``, ``weight_bytes`` (as stored: CSR for masked layers),
``weight_bytes_dense``, ``energy_j`` (+ compute/memory parts),
``output_tensors`` (shapes crossing the cut), ``latency_s`` (measured only);
per exit ``params``, ``other_ops``, ``energy_j``; top level ``num_classes``,
``sparsity``.

Run as ``python -m profiles.build MODEL [--sparsity F | --fan-out 2,9,10]
[--dtype float16] [--measure] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from profiles import zoo
from profiles.count import count_blocks, count_module
from profiles.dtypes import canonical_dtype, dtype_bytes
from profiles.energy import SOURCE as ENERGY_SOURCE
from profiles.energy import block_energy
from profiles.exits import parametric_exits, published_top1, train_and_trace
from profiles.graph import trace
from profiles.model import ProfileError, profile_from_dict
from profiles.sparsity import make_masks

__all__ = ["dumps_profile", "profile_model", "variant_name", "write_profile"]


def variant_name(sparsity: float | None = None, fan_out: Sequence[int] | None = None) -> str:
    """``dense``, ``sparse-75`` (75% of weights removed) or ``fanout-2-9-10``."""
    if fan_out is not None:
        return "fanout-" + "-".join(str(int(f)) for f in fan_out)
    if sparsity is None or sparsity == 0:
        return "dense"
    pct = round(sparsity * 100, 4)
    return f"sparse-{int(pct)}" if pct == int(pct) else f"sparse-{pct:g}"


def _is_user_model(model: str) -> bool:
    """``package.module:function`` names a user's network; ``mlp:…`` is a zoo MLP."""
    return ":" in model and not model.startswith("mlp")


def _build_net(model: str, meta: bool, seed: int) -> zoo.EarlyExitNet:
    """Zoo nets are built on the ``meta`` device when only shapes are needed (fast,
    no memory); a user's function is always called normally."""
    torch.manual_seed(seed)
    if meta and not _is_user_model(model):
        with torch.device("meta"):
            return zoo.build(model)
    return zoo.build(model)


def _round(x: float, digits: int = 6) -> float:
    """Round to ``digits`` significant digits (keeps files small and diffs stable)."""
    return float(f"{x:.{digits}g}")


def profile_model(model: str, sparsity: float | None = None,
                  fan_out: list[int] | None = None, dtype: str = "float32",
                  measure: bool = False, *, exits: str = "auto", seed: int = 0,
                  epochs: int = 20) -> dict[str, Any]:
    """Profile ``model`` and return the profile JSON dict (DESIGN.md §9).

    ``model``: a zoo name (``profiles.zoo.ZOO``), ``mlp:800-3-3-10``, or a user's
    ``package.module:function`` (see ``profiles.zoo``).  ``sparsity`` is the
    fraction of weights removed by a predefined mask; ``fan_out`` gives one
    fan-out per conv/linear layer instead.  ``dtype`` sets the bytes of
    activations and weights.  ``exits``: ``"auto"`` trains and traces the model
    when it has a shipped dataset (digits nets, seconds), otherwise parametric;
    ``"trace"`` insists on a trace; ``"parametric"`` never trains.
    """
    dtype = canonical_dtype(dtype)
    nbytes = dtype_bytes(dtype)
    if exits not in ("auto", "trace", "parametric"):
        raise ProfileError(f"exits must be auto, trace or parametric, got '{exits}'")
    net = _build_net(model, meta=True, seed=seed)
    want_trace = exits == "trace" or (exits == "auto" and net.dataset is not None)
    if exits == "trace" and net.dataset is None:
        raise ProfileError(f"model '{model}' has no shipped dataset to train on; use "
                           f"parametric exits")
    masks = ({} if sparsity is None and fan_out is None
             else make_masks(net.blocks, sparsity=sparsity, fan_out=fan_out, seed=seed))

    graph = trace(net.blocks, net.input_shape)
    counts = count_blocks(graph, net.blocks, masks, dtype)
    input_bytes = graph.input_numel * nbytes
    total_nz_macs = sum(c.nonzero_macs for c in counts) or 1

    trained = None
    latencies = None
    if want_trace or measure:
        real = _build_net(model, meta=False, seed=seed)
        if want_trace:
            trained = train_and_trace(real, masks, epochs=epochs, seed=seed)
        if measure:
            from profiles.measure import measure_latency
            latencies = measure_latency(real)

    final_acc, final_src = (published_top1(net.model_name) if trained is None
                            else (trained.accuracy[-1], "measured: " + trained.source))
    exit_names = list(net.exits.keys())
    cum = 0
    fractions = {}
    for c in counts:
        cum += c.nonzero_macs
        fractions[c.name] = cum / total_nz_macs
    param_models = parametric_exits([fractions[n] for n in exit_names], final_acc,
                                    net.num_classes or 10)

    blocks: list[dict[str, Any]] = []
    prev_bytes = input_bytes
    last = len(counts) - 1
    for i, c in enumerate(counts):
        tensors = graph.crossing_after_block(i)
        out_bytes = graph.numel_of(tensors) * nbytes
        stored = c.weight_bytes_sparse if masks else c.weight_bytes_dense
        energy = block_energy(nonzero_macs=c.nonzero_macs, other_ops=c.other_ops,
                              weight_bytes=stored, input_bytes=prev_bytes,
                              output_bytes=out_bytes, dtype=dtype)
        entry: dict[str, Any] = {
            "name": c.name, "macs": c.macs, "nonzero_macs": c.nonzero_macs,
            "flops": 2 * c.macs, "other_ops": c.other_ops,
            "params": c.params, "nonzero_params": c.nonzero_params,
            "weight_bytes": stored, "weight_bytes_dense": c.weight_bytes_dense,
            "output_bytes": out_bytes,
            "output_tensors": [list(graph.dag.nodes[t]["shape"] or ()) for t in tensors],
            "natural_bottleneck": bool(i < last and out_bytes < input_bytes),
            "energy_j": _round(energy.total_j), "energy_compute_j": _round(energy.compute_j),
            "energy_memory_j": _round(energy.memory_j),
        }
        if latencies is not None:
            entry["latency_s"] = _round(latencies.blocks[i], 4)
        if c.name in net.exits:
            shape = graph.dag.nodes[tensors[-1]]["shape"][1:]
            head = count_module(net.exits[c.name], shape)
            head_energy = block_energy(nonzero_macs=head["macs"], other_ops=head["other_ops"],
                                       weight_bytes=head["params"] * nbytes,
                                       input_bytes=0, output_bytes=0, dtype=dtype)
            ex: dict[str, Any] = {"macs": head["macs"], "other_ops": head["other_ops"],
                                  "params": head["params"],
                                  "energy_j": _round(head_energy.total_j)}
            if trained is None:
                ex["model"] = param_models[exit_names.index(c.name)]
            if latencies is not None:
                ex["latency_s"] = _round(latencies.exits[c.name], 4)
            entry["exit"] = ex
        blocks.append(entry)
        prev_bytes = out_bytes

    totals = {
        "macs": sum(c.macs for c in counts),
        "flops": 2 * sum(c.macs for c in counts),
        "nonzero_macs": sum(c.nonzero_macs for c in counts),
        "other_ops": sum(c.other_ops for c in counts),
        "params": sum(c.params for c in counts),
        "nonzero_params": sum(c.nonzero_params for c in counts),
        "weight_bytes": sum(b["weight_bytes"] for b in blocks),
        "weight_bytes_dense": sum(c.weight_bytes_dense for c in counts),
        "energy_j": _round(sum(b["energy_j"] for b in blocks)),
    }
    variant = variant_name(sparsity, fan_out)
    layer_density: dict[str, float] = {}
    for c in counts:
        layer_density.update(c.layers)
    if trained is not None:
        exits_src = ("trace: " + trained.source
                     + f"; exit accuracies {trained.accuracy} (last = final layer)")
    else:
        exits_src = ("parametric (no trained weights): final accuracy "
                     f"{final_acc} from {final_src}; exit accuracy assumed to rise from "
                     "chance to the final accuracy as sqrt(share of backbone MACs before the "
                     "exit); not measured")
        if masks:
            exits_src += "; the sparse variant is assumed as accurate as the dense one"
    provenance: dict[str, Any] = {
        "generator": f"profiles.build.profile_model({model!r}, sparsity={sparsity}, "
                     f"fan_out={fan_out}, dtype={dtype!r}, seed={seed}); torch "
                     f"{torch.__version__.split('+')[0]}",
        "architecture": (f"user network from '{model}' (its own weights, as the function "
                         "built them)" if _is_user_model(model) else
                         f"profiles.zoo '{model}' (own definition, untrained weights unless "
                         "the exits say otherwise)"),
        "counts": "analytic: profiles.count rules over the torch.fx graph (MACs of conv/linear "
                  "= what torch.utils.flop_counter counts / 2; other_ops = norm/activation/"
                  "pool/add); params include biases and norm parameters",
        "cuts": "torch.fx graph as a networkx DAG: output_bytes = every tensor made before "
                f"the cut and used after it, at {dtype} ({nbytes} B/element); "
                "natural_bottleneck = cut smaller than the input (Bakhtiarnia et al. 2022)",
        "sparsity": ("none (dense)" if not masks else
                     "predefined (fixed before training; Dey et al. 2019, Capogrosso et al. "
                     "2024): balanced fan-out masks; conv masks per (output, input) channel; "
                     "weight_bytes stores masked layers in CSR"),
        "exits": exits_src,
        "energy": ENERGY_SOURCE,
        "latency": ("not measured (use measure=True / --measure)" if latencies is None
                    else latencies.source),
    }
    shapes_out = graph.dag.nodes[graph.crossing_after_block(last)[-1]]["shape"]
    profile: dict[str, Any] = {
        "name": net.model_name if model in zoo.ZOO or model.startswith("mlp") else model,
        "variant": variant,
        "input_shape": list(net.input_shape),
        "dtype": dtype,
        "input_bytes": input_bytes,
        "num_classes": net.num_classes or (shapes_out[-1] if shapes_out else 0),
        "totals": totals,
        "blocks": blocks,
        "final": {"accuracy": round(float(final_acc), 4), "concentration": 6.0},
        "provenance": provenance,
    }
    if masks or fan_out is not None:
        profile["sparsity"] = {
            "removed_fraction": sparsity, "fan_out": list(fan_out) if fan_out else None,
            "seed": seed, "layer_density": layer_density,
            "nonzero_param_fraction": round(totals["nonzero_params"] / totals["params"], 6),
            "nonzero_mac_fraction": round(totals["nonzero_macs"] / max(totals["macs"], 1), 6),
        }
    if trained is not None:
        profile["exit_trace"] = {"exit_blocks": list(trained.exit_blocks),
                                 "confidence": trained.confidence,
                                 "correct": trained.correct, "source": trained.source}
    profile_from_dict(profile, source=f"profile of {model}")  # the contract holds
    return profile


def dumps_profile(profile: dict[str, Any]) -> str:
    """JSON text with one trace sample per line (readable, diff-friendly, small)."""
    trace_raw = profile.get("exit_trace")
    shell = profile if not trace_raw else {
        **profile, "exit_trace": {**trace_raw, "confidence": "@CONF@", "correct": "@CORR@"}}
    # lists of plain values (shapes, names) on one line
    text = re.sub(r"\[[^\[\]{}]*\]", lambda m: re.sub(r"\s*\n\s*", " ", m.group(0))
                  .replace("[ ", "[").replace(" ]", "]"), json.dumps(shell, indent=1))
    if not trace_raw:
        return text + "\n"
    for key, rows in (("@CONF@", trace_raw["confidence"]), ("@CORR@", trace_raw["correct"])):
        body = ",\n   ".join(json.dumps(r, separators=(",", ":")) for r in rows)
        text = text.replace(f'"{key}"', "[\n   " + body + "\n  ]")
    return text + "\n"


def write_profile(profile: dict[str, Any], path: str | Path) -> Path:
    """Write ``profile`` as JSON to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_profile(profile))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m profiles.build MODEL ...``: print or write one profile."""
    ap = argparse.ArgumentParser(prog="python -m profiles.build", description=__doc__)
    ap.add_argument("model")
    ap.add_argument("--sparsity", type=float, default=None,
                    help="fraction of weights removed by a predefined mask (0.75 keeps 25%%)")
    ap.add_argument("--fan-out", default=None, help="comma-separated fan-out per layer")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--measure", action="store_true")
    ap.add_argument("--exits", default="auto", choices=["auto", "trace", "parametric"])
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    try:
        fan = [int(f) for f in args.fan_out.split(",")] if args.fan_out else None
        prof = profile_model(args.model, sparsity=args.sparsity, fan_out=fan,
                             dtype=args.dtype, measure=args.measure, exits=args.exits)
    except (ProfileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        write_profile(prof, args.out)
    else:
        sys.stdout.write(dumps_profile(prof))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
