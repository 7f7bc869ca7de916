"""Neurosurgeon picks the brute-force best split for what it observes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import replicate

from simulator.costs import RadioPower, SystemModel
from simulator.scenario import InlineModel
from simulator.schedulers import Observation, resolve

# Five blocks with a bottleneck after block 3 (the payload shrinks to 2 KiB).
BLOCKS = [("conv1", 0.4e9, 262144), ("conv2", 0.8e9, 131072), ("conv3", 0.8e9, 2048),
          ("fc1", 1.0e9, 16384), ("fc2", 0.01e9, 40)]
INPUT_BYTES = 150528


def system(device_speed=20e9, server_speed=2e12, rtt=0.03) -> SystemModel:
    model = InlineModel(input_bytes=INPUT_BYTES, blocks=[
        {"name": n, "flops": f, "output_bytes": b} for n, f, b in BLOCKS]).to_profile()
    return SystemModel.build(model, device_speed=device_speed, server_speed=server_speed,
                             server_workers=1, compute_power_w=3.0, idle_power_w=0.3,
                             radio=RadioPower(0.438e-6, 1.288), rtt_s=rtt)


def brute_force_latency(split: int, rate: float, backlog: float, sysm: SystemModel) -> float:
    """Latency of one split, written out the long way from the block table."""
    device = sum(f for _, f, _ in BLOCKS[:split]) / sysm.device_speed_flops
    if split == len(BLOCKS):
        return device
    sent = INPUT_BYTES if split == 0 else BLOCKS[split - 1][2]
    server = sum(f for _, f, _ in BLOCKS[split:]) / sysm.server_speed_flops
    result = BLOCKS[-1][2]
    return device + 8 * sent / rate + backlog + server + 8 * result / 50e6 + sysm.rtt_s


def brute_force_energy(split: int, rate: float, backlog: float, sysm: SystemModel) -> float:
    device_s = sum(f for _, f, _ in BLOCKS[:split]) / sysm.device_speed_flops
    if split == len(BLOCKS):
        return 3.0 * device_s
    sent = INPUT_BYTES if split == 0 else BLOCKS[split - 1][2]
    tx = 8 * sent / rate
    waiting = (backlog + sum(f for _, f, _ in BLOCKS[split:]) / sysm.server_speed_flops
               + 8 * BLOCKS[-1][2] / 50e6 + sysm.rtt_s)
    return 3.0 * device_s + (0.438e-6 * rate + 1.288) * tx + 0.3 * waiting


def decide(objective: str, rate: float, backlog: float, sysm: SystemModel) -> int:
    cls = resolve("neurosurgeon")
    policy = cls(cls.Params(objective=objective))
    policy.prepare(sysm, np.random.default_rng(0))
    obs = Observation(now_s=0.0, device=0, request=0, uplink_rate_bps=rate,
                      downlink_rate_bps=50e6, rtt_s=sysm.rtt_s, server_backlog_s=backlog,
                      device_queue=0, deadline_s=None)
    return policy.decide(obs).split


@pytest.mark.parametrize(("rate", "backlog"), list(itertools.product(
    [0.5e6, 2e6, 8e6, 20e6, 100e6, 1e9], [0.0, 0.05, 0.5])))
@pytest.mark.parametrize(("objective", "cost"), [("latency", brute_force_latency),
                                                 ("energy", brute_force_energy)])
def test_choice_is_the_brute_force_optimum(rate, backlog, objective, cost) -> None:
    sysm = system()
    costs = [cost(s, rate, backlog, sysm) for s in range(len(BLOCKS) + 1)]
    chosen = decide(objective, rate, backlog, sysm)
    assert costs[chosen] == pytest.approx(min(costs), rel=1e-12)


def test_the_split_moves_with_the_rate() -> None:
    sysm = system()
    assert decide("latency", 0.2e6, 0.0, sysm) == len(BLOCKS)   # slow link: stay local
    assert decide("latency", 5e6, 0.0, sysm) == 3               # the 2 KiB bottleneck
    assert decide("latency", 10e9, 0.0, sysm) == 0              # fast link: offload all
    assert decide("latency", 10e9, 10.0, sysm) == len(BLOCKS)   # busy server: stay local


def test_in_the_engine_it_never_loses_to_both_static_extremes(scenario_file) -> None:
    # On a constant link the prediction is exact but for the queues, so its mean latency
    # is no worse than the better of device-only and server-only.
    text = f"""\
    name: ns
    seed: 3
    replications: 1
    horizon: {{requests: 3000, warmup: 100}}
    model: {{input_bytes: {INPUT_BYTES}, blocks: [{", ".join(
        f"{{name: {n}, flops: {f}, output_bytes: {b}}}" for n, f, b in BLOCKS)}]}}
    devices: [{{name: d, compute: {{speed: 20 GFLOPS}}, workload: {{rate: 4/s}}}}]
    channel: {{uplink: {{model: constant, rate: 5 Mbps}}, downlink: {{model: constant,
               rate: 50 Mbps}}, rtt: 30 ms}}
    server: {{workers: 1, compute: {{speed: 2 TFLOPS}}}}
    scheduler: {{policy: neurosurgeon, estimator: oracle}}
    """
    path = scenario_file(text)
    mean = {p: replicate(path, f"scheduler.policy={p}").records["latency_s"].mean()
            for p in ("neurosurgeon", "device-only", "server-only")}
    assert mean["neurosurgeon"] <= min(mean["device-only"], mean["server-only"])
    splits = replicate(path).records["split"]
    assert (splits == 3).all()
