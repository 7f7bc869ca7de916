"""The scheduler plug-in example (examples/plugin_scheduler) works as documented.

The CLI runs the example scenario in a subprocess with the example's
directory on PYTHONPATH, exactly as docs/schedulers.md tells a user to.  The
check is independent of the simulator's own cost code: the predicted latency
and device energy of every split are recomputed here from the profile's JSON
file and the scenario's numbers, the policy's rule (least energy among splits
whose predicted latency fits the budget, else the fastest) is applied to the
true uplink rate recorded for each request (the scenario's estimator is the
oracle, so that is the rate the policy saw), and every recorded split must
equal it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin_scheduler"
SCENARIO = EXAMPLE / "scenario.yaml"
LIBRARY = ROOT / "profiles" / "library"

# The scenario's numbers (tests/test_examples.py::test_scenario_numbers_are_the_ones_used
# keeps them in step with scenario.yaml).
DEVICE_FLOPS = 20e9            # 20 GFLOPS
SERVER_FLOPS = 10e12           # 10 TFLOPS
COMPUTE_W, IDLE_W = 3.0, 0.3
RADIO_A, RADIO_B = 0.438e-6, 1.288  # W per bit/s (0.438 W/Mbps), W
DOWNLINK_BPS = 50e6
RTT_S = 0.030


def splitsim(*args: str, extra_path: Path = EXAMPLE) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(extra_path), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def predicted(variant: str, uplink_bps: float) -> tuple[np.ndarray, np.ndarray]:
    """(latency s, device energy J) of every split 0..L, by hand from the profile file."""
    prof = json.loads((LIBRARY / f"resnet18-cifar10__{variant}.json").read_text())
    blocks = prof["blocks"]
    flops = np.array([2.0 * (b["nonzero_macs"] if b.get("nonzero_macs") is not None
                             else b["macs"]) for b in blocks])
    on_device = np.concatenate([[0.0], np.cumsum(flops)])
    on_server = flops.sum() - on_device
    up_bytes = np.array([prof["input_bytes"]] + [b["output_bytes"] for b in blocks[:-1]]
                        + [0.0])
    result_bytes = blocks[-1]["output_bytes"]
    offload = np.arange(len(blocks) + 1) < len(blocks)
    device_s = on_device / DEVICE_FLOPS
    tx_s = 8.0 * up_bytes / uplink_bps
    wait_s = on_server / SERVER_FLOPS + 8.0 * result_bytes / DOWNLINK_BPS + RTT_S
    latency = device_s + np.where(offload, tx_s + wait_s, 0.0)
    radio_w = RADIO_A * uplink_bps + RADIO_B
    energy = COMPUTE_W * device_s + np.where(offload, radio_w * tx_s + IDLE_W * wait_s, 0.0)
    return latency, energy


def rule(variant: str, uplink_bps: float, budget_s: float) -> int:
    latency, energy = predicted(variant, uplink_bps)
    fits = latency <= budget_s
    if not fits.any():
        return int(np.argmin(latency))
    return int(np.argmin(np.where(fits, energy, np.inf)))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plugin") / "run"
    done = splitsim("run", str(SCENARIO), "--out", str(out), "--replications", "2",
                    "--set", "horizon.requests=400", "--set", "horizon.warmup=20",
                    "--executor", "serial", "--save-requests", "--quiet")
    assert done.returncode == 0, done.stderr
    return out


def test_scenario_numbers_are_the_ones_used() -> None:
    sc = yaml.safe_load(SCENARIO.read_text())
    dev = sc["devices"][0]
    assert dev["compute"]["speed"] == "20 GFLOPS"
    assert dev["power"] == {"compute": "3 W", "idle": "0.3 W",
                            "radio": {"model": "linear", "a": "0.438 W/Mbps", "b": "1.288 W"}}
    assert sc["server"]["compute"]["speed"] == "10 TFLOPS"
    assert "background" not in sc["server"]  # so the reported backlog is ~0
    assert sc["channel"]["downlink"] == {"model": "constant", "rate": "50 Mbps"}
    assert sc["channel"]["rtt"] == "30 ms"
    assert sc["scheduler"]["estimator"] == "oracle"
    assert sc["scheduler"]["policy"] == "my_policy:LowestEnergyUnderBudget"


def test_every_split_is_the_one_the_policys_rule_picks(run: Path) -> None:
    requests = pd.read_parquet(run / "requests.parquet")
    assert len(requests) == 4 * 2 * 380  # 4 sweep points × 2 replications × counted
    budgets = {"50 ms": 0.050, "100 ms": 0.100}
    expected = [rule(row["model.variant"], row["uplink_rate_bps"],
                     budgets[row["scheduler.latency_budget"]])
                for _, row in requests.iterrows()]
    mismatched = requests[requests["split"].to_numpy() != np.array(expected)]
    assert mismatched.empty, mismatched.head()


def test_the_rule_changes_with_rate_budget_and_sparsity(run: Path) -> None:
    # What the example's README promises: dense goes to the server at 10 and 40 Mbit/s
    # and stays on the phone at 2 Mbit/s (50 ms: nothing fits, the fastest is the
    # phone); a 100 ms budget lets 2 Mbit/s offload too; sparse-75 stays on the phone.
    requests = pd.read_parquet(run / "requests.parquet")
    chosen = (requests.groupby(["model.variant", "scheduler.latency_budget",
                                "uplink_rate_bps"])["split"].unique())
    assert {k: sorted(v) for k, v in chosen.items()} == {
        ("dense", "100 ms", 2e6): [0], ("dense", "100 ms", 10e6): [0],
        ("dense", "100 ms", 40e6): [0],
        ("dense", "50 ms", 2e6): [10], ("dense", "50 ms", 10e6): [0],
        ("dense", "50 ms", 40e6): [0],
        ("sparse-75", "100 ms", 2e6): [10], ("sparse-75", "100 ms", 10e6): [10],
        ("sparse-75", "100 ms", 40e6): [10],
        ("sparse-75", "50 ms", 2e6): [10], ("sparse-75", "50 ms", 10e6): [10],
        ("sparse-75", "50 ms", 40e6): [10],
    }


def test_without_the_path_the_policy_is_a_clear_input_error(tmp_path: Path) -> None:
    done = splitsim("validate", str(SCENARIO), extra_path=tmp_path)
    assert done.returncode == 2
    assert "cannot import scheduler plug-in module 'my_policy'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_console_script_finds_a_plugin_in_the_working_directory() -> None:
    # `splitsim` behaves like `python -m simulator`: the working directory is importable.
    script = Path(sys.executable).with_name("splitsim")
    if not script.exists():
        pytest.skip("the splitsim console script is not installed in this environment")
    done = subprocess.run([str(script), "validate", "scenario.yaml"], cwd=EXAMPLE,
                          capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


def test_bad_plugin_parameter_is_refused_with_its_unit(tmp_path: Path) -> None:
    done = splitsim("validate", str(SCENARIO), "--set", "scheduler.latency_budget=5 W")
    assert done.returncode == 2
    assert "duration" in done.stderr


def test_entry_point_group_finds_an_installed_plugin(tmp_path: Path) -> None:
    # What `pip install` of a package declaring the entry point (see the example's
    # pyproject.toml) leaves behind: a dist-info directory with entry_points.txt.
    dist = tmp_path / "my_policy-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-policy\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[splitsim.schedulers]\nlowest-energy = my_policy:LowestEnergyUnderBudget\n")
    env_path = os.pathsep.join([str(tmp_path), str(EXAMPLE)])
    done = splitsim("validate", str(SCENARIO), "--set", "scheduler.policy=lowest-energy",
                    extra_path=Path(env_path))
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


# ---------------------------------------------------------------- your own network

NETWORK = ROOT / "examples" / "my_network"


@pytest.fixture(scope="module")
def tiny_profile(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("tiny") / "tiny_net.json"
    done = splitsim("profile", "tiny_net:build", "--out", str(out), extra_path=NETWORK)
    assert done.returncode == 0, done.stderr
    return out


def test_own_network_profile_matches_hand_counts(tiny_profile: Path) -> None:
    prof = json.loads(tiny_profile.read_text())
    blocks = {b["name"]: b for b in prof["blocks"]}
    assert list(blocks) == ["conv1", "conv2", "conv3", "head"]
    assert prof["input_bytes"] == 3 * 32 * 32 * 4
    # MACs of a 3×3 convolution: out channels × out pixels × in channels × 9.
    assert blocks["conv1"]["macs"] == 16 * 32 * 32 * 3 * 9
    assert blocks["conv2"]["macs"] == 32 * 16 * 16 * 16 * 9
    assert blocks["conv3"]["macs"] == 64 * 8 * 8 * 32 * 9
    assert blocks["head"]["macs"] == 64 * 4 * 4 * 10
    # Cuts: the pooled feature maps at float32.
    assert [b["output_bytes"] for b in prof["blocks"]] == [16 * 16 * 16 * 4, 32 * 8 * 8 * 4,
                                                          64 * 4 * 4 * 4, 10 * 4]
    assert [b["natural_bottleneck"] for b in prof["blocks"]] == [False, True, True, False]
    assert blocks["conv2"]["exit"]["macs"] == 32 * 10
    assert "parametric" in prof["provenance"]["exits"]


def test_own_network_runs_from_its_profile_file(tiny_profile: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = splitsim("run", str(NETWORK / "scenario.yaml"), "--out", str(out),
                    "--set", f"model.file={tiny_profile}", "--set", "replications=1",
                    "--set", "horizon.requests=200", "--set", "horizon.warmup=0",
                    "--set", "sweep={scheduler.policy: [fixed-split]}",
                    "--executor", "serial", "--save-requests", "--quiet")
    assert done.returncode == 0, done.stderr
    requests = pd.read_parquet(out / "requests.parquet")
    # Split after conv2 with the exit off: every request sends the 8 KiB bottleneck.
    assert (requests["split"] == 2).all()
    assert (requests["bytes_up"] == 32 * 8 * 8 * 4).all()
