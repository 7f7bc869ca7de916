"""Vectorised per-split predictions of latency and device energy.

Why one module: every model-based policy (Neurosurgeon, dynamic split,
deadline, energy under SLO) needs the same arithmetic — for each split
``s = 0..L``, how long the device computes, how many bytes go up, how long
the server computes and what the radio costs.  Computing it once per device
as numpy arrays makes a decision a handful of vector operations.

Predictions ignore early exits (the backbone up to the split and from it) and
use the nominal (mean) service times; the engine draws the randomness.
Units: s, bit/s, byte, FLOP, W, J.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profiles.model import ModelProfile


@dataclass(frozen=True)
class RadioPower:
    """Transmit power ``P = a·rate + b`` (W, with ``a`` in W per bit/s).

    A constant power is ``a = 0``.  Huang et al. (MobiSys 2012) measured
    LTE uplink at a = 438.39 mW/Mbps, b = 1288.04 mW.
    """

    a_w_per_bps: float = 0.0
    b_w: float = 0.0

    def watts(self, rate_bps: float | np.ndarray) -> float | np.ndarray:
        if self.a_w_per_bps == 0.0:
            return self.b_w
        return self.a_w_per_bps * rate_bps + self.b_w


@dataclass(frozen=True)
class SystemModel:
    """One device's view of the system, as arrays indexed by split ``s = 0..L``."""

    depth: int
    device_flops: np.ndarray      # FLOP run on the device for split s (backbone)
    server_flops: np.ndarray      # FLOP run on the server for split s (backbone)
    up_bytes: np.ndarray          # bytes crossing the cut (0 for device-only)
    down_bytes: np.ndarray        # result bytes sent back (0 for device-only)
    natural_bottlenecks: tuple[int, ...]  # splits at natural bottlenecks, plus 0 and L
    exit_blocks: tuple[int, ...]  # 1-based blocks with an exit head
    device_speed_flops: float
    server_speed_flops: float
    server_workers: int
    compute_power_w: float
    idle_power_w: float
    radio: RadioPower
    rtt_s: float

    @classmethod
    def build(cls, model: ModelProfile, *, device_speed: float, server_speed: float,
              server_workers: int, compute_power_w: float, idle_power_w: float,
              radio: RadioPower, rtt_s: float) -> SystemModel:
        flops = np.array([2.0 * b.effective_macs for b in model.blocks])
        device = np.concatenate([[0.0], np.cumsum(flops)])
        total = device[-1]
        up = np.array([model.input_bytes] + [b.output_bytes for b in model.blocks[:-1]] + [0.0])
        down = np.full(model.depth + 1, model.downlink_bytes)
        down[-1] = 0.0
        natural = sorted({0, model.depth} | {i + 1 for i, b in enumerate(model.blocks)
                                             if b.natural_bottleneck})
        return cls(depth=model.depth, device_flops=device, server_flops=total - device,
                   up_bytes=up, down_bytes=down, natural_bottlenecks=tuple(natural),
                   exit_blocks=model.exit_blocks, device_speed_flops=device_speed,
                   server_speed_flops=server_speed, server_workers=server_workers,
                   compute_power_w=compute_power_w, idle_power_w=idle_power_w, radio=radio,
                   rtt_s=rtt_s)

    def latency(self, uplink_bps: float, downlink_bps: float,
                server_backlog_s: float) -> np.ndarray:
        """Predicted latency (s) of each split, excluding the device queue."""
        offload = np.arange(self.depth + 1) < self.depth
        device_s = self.device_flops / self.device_speed_flops
        network_s = (_transfer_s(self.up_bytes, uplink_bps)
                     + _transfer_s(self.down_bytes, downlink_bps) + self.rtt_s)
        server_s = server_backlog_s + self.server_flops / self.server_speed_flops
        return device_s + np.where(offload, network_s + server_s, 0.0)

    def energy(self, uplink_bps: float, downlink_bps: float,
               server_backlog_s: float) -> np.ndarray:
        """Predicted device energy (J) of each split: compute + transmit + idle waiting."""
        offload = np.arange(self.depth + 1) < self.depth
        compute_j = self.compute_power_w * self.device_flops / self.device_speed_flops
        tx_s = _transfer_s(self.up_bytes, uplink_bps)
        tx_j = float(self.radio.watts(uplink_bps)) * tx_s if np.isfinite(uplink_bps) else 0 * tx_s
        wait_s = (server_backlog_s + self.server_flops / self.server_speed_flops
                  + _transfer_s(self.down_bytes, downlink_bps) + self.rtt_s)
        return compute_j + np.where(offload, tx_j + self.idle_power_w * wait_s, 0.0)


def _transfer_s(nbytes: np.ndarray, rate_bps: float) -> np.ndarray:
    """Transmission time of each payload at a constant rate (0 on an ideal link)."""
    if not np.isfinite(rate_bps):
        return np.zeros_like(nbytes)
    if rate_bps <= 0:
        return np.where(nbytes > 0, np.inf, 0.0)
    return 8.0 * nbytes / rate_bps
