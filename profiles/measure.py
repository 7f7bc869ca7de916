"""Measured per-block latency on the local CPU/GPU (``--measure``).

Why optional: measured times depend on this machine, its load and its threads,
so they are not reproducible; the analytic counts are.  When asked for, each
block (and exit head) is run on its real input shape with batch 1, a few
warm-up runs are discarded, and the median of the timed runs is recorded in
seconds; ``provenance.latency`` names the machine.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass

import torch

from profiles.zoo import EarlyExitNet

__all__ = ["Latencies", "measure_latency"]


@dataclass(frozen=True)
class Latencies:
    """Median seconds per block and per exit head (keyed by block name)."""

    blocks: list[float]
    exits: dict[str, float]
    source: str


def _time(fn: object, x: torch.Tensor, repeats: int, warmup: int) -> float:
    call = fn  # an nn.Module
    for _ in range(warmup):
        call(x)  # type: ignore[operator]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call(x)  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_latency(net: EarlyExitNet, repeats: int = 10, warmup: int = 2,
                    device: str = "cpu") -> Latencies:
    """Time every block and exit head of ``net`` (real weights needed, not ``meta``).

    Dense kernels are used even for predefined-sparse variants: PyTorch's dense
    convolutions do not skip zeros, which is exactly why the simulator has a
    separate sparse-kernel efficiency knob.
    """
    net = net.to(device).eval()
    x = torch.randn((1, *net.input_shape), device=device)
    blocks, exits = [], {}
    with torch.no_grad():
        for name, block in net.blocks.named_children():
            blocks.append(_time(block, x, repeats, warmup))
            x = block(x)
            if name in net.exits:
                exits[name] = _time(net.exits[name], x, repeats, warmup)
    source = (f"measured: median of {repeats} runs after {warmup} warm-up, batch 1, "
              f"torch {torch.__version__} on {device} ({platform.processor() or platform.machine()}"
              f", {torch.get_num_threads()} threads)")
    return Latencies(blocks=blocks, exits=exits, source=source)
