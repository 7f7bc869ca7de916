"""Worker classes in one server (``server.classes``): hand schedules and queueing theory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy
from scipy import stats
from test_theory import VALIDATION, assert_matches, erlang_c_wait, simulate

from simulator.engine import Replication, WatchedServerState
from simulator.fifo import WorkerPool
from simulator.scenario import Batching, Scenario, ServerSpec, load_scenario, resolve_model

ROOT = Path(__file__).resolve().parents[1]


def _scenario(path: Path, overrides: list[str], server: dict) -> Scenario:
    """The last sweep point of ``path`` with ``server`` replaced (validated)."""
    sc = load_scenario(path, overrides).points[-1].scenario
    return sc.model_copy(update={"server": ServerSpec.model_validate(server)})


def _records(sc: Scenario, path: Path) -> dict[str, np.ndarray]:
    return Replication(sc, resolve_model(sc, path), 0).run().records


@pytest.mark.parametrize(("path", "overrides"), [
    (VALIDATION / "mmc.yaml", ["horizon.requests=3000"]),
    (ROOT / "scenarios" / "diurnal_load.yaml", ["horizon.requests=1500"]),  # background jobs
    (ROOT / "scenarios" / "reference.yaml", ["horizon.requests=800"]),      # the oracle
    (VALIDATION / "mm1.yaml", ["horizon.requests=2000", "scheduler.backlog_delay=50 ms",
                               "server.count=2"]),
])
def test_one_class_is_bit_identical_to_workers(path: Path, overrides: list[str]) -> None:
    base = load_scenario(path, overrides).points[-1].scenario.server
    plain = base.model_dump()
    classes = {**plain, "classes": [{"workers": base.workers, "speed": base.compute.speed}],
               "compute": {"variability": plain["compute"]["variability"]}}
    del classes["workers"]
    a = _records(_scenario(path, overrides, plain), path)
    b = _records(_scenario(path, overrides, classes), path)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_two_classes_follow_the_hand_schedule() -> None:
    # 1 GFLOP jobs every 30 ms from t = 0; a 10 GFLOPS worker (0.1 s a job) and a
    # 4 GFLOPS one (0.25 s).  By hand, FIFO, a starting job takes the fastest free:
    #   job 0 at 0.00 → fast 0.00–0.10      job 3 at 0.09 → fast 0.20–0.30
    #   job 1 at 0.03 → slow 0.03–0.28      job 4 at 0.12 → slow 0.28–0.53
    #   job 2 at 0.06 → fast 0.10–0.20      job 5 at 0.15 → fast 0.30–0.40
    path = VALIDATION / "mm1.yaml"
    sc = _scenario(path, ["horizon.requests=6", "horizon.warmup=0",
                          "devices.0.workload.arrivals=periodic",
                          "devices.0.workload.phase=zero",
                          f"devices.0.workload.rate={1 / 0.03!r}/s"],
                   {"classes": [{"workers": 1, "speed": "4 GFLOPS"},
                                {"workers": 1, "speed": "10 GFLOPS"}]})
    rec = _records(sc, path)
    np.testing.assert_allclose(rec["server_service_s"], [0.1, 0.25, 0.1, 0.1, 0.25, 0.1])
    np.testing.assert_allclose(rec["server_wait_s"], [0, 0, 0.04, 0.11, 0.16, 0.15],
                               atol=1e-12)


def test_oracle_free_at_replays_the_classes() -> None:
    # The schedule above at t = 0.15: fast busy until 0.20, slow until 0.28, jobs
    # 3, 4, 5 queued.  They start at 0.20 (fast), 0.28 (slow), 0.30 (fast); a job
    # joining now gets the fast worker when job 5 leaves it, at 0.40.
    env = simpy.Environment()
    srv = WatchedServerState(WorkerPool(env, 2), speed=7e9, n_workers=2, speeds=(10e9, 4e9))
    srv.ends_actual.update({0: 0.20, 1: 0.28})
    srv.queued_actual.extend([(1e9, 1.0)] * 3)
    assert srv.free_at(0.15) == pytest.approx(0.40)


def test_backlog_counts_work_over_total_speed() -> None:
    env = simpy.Environment()
    srv = WatchedServerState(WorkerPool(env, 2), speed=7e9, n_workers=2, speeds=(10e9, 4e9))
    for _ in range(3):
        srv.enqueue(0.0, 1e9 / srv.speed, 1e9, 1.0)
    assert srv.backlog_s(0.0) == pytest.approx(3e9 / 14e9)


def test_speeds_are_fastest_first_and_forms_are_exclusive() -> None:
    spec = ServerSpec.model_validate({"classes": [{"workers": 1, "speed": "2 TFLOPS"},
                                                  {"workers": 2, "speed": "10 TFLOPS"}]})
    assert spec.worker_speeds == (10e12, 10e12, 2e12)
    assert spec.total_workers == 3
    assert spec.mean_speed == pytest.approx(22e12 / 3)
    with pytest.raises(ValueError, match="not both"):
        ServerSpec.model_validate({"workers": 2, "classes": [{"workers": 1, "speed": "1 TFLOPS"}]})
    with pytest.raises(ValueError, match="not both"):
        ServerSpec.model_validate({"compute": {"speed": "1 TFLOPS"},
                                   "classes": [{"workers": 1, "speed": "1 TFLOPS"}]})
    with pytest.raises(ValueError, match=r"compute\.speed"):
        ServerSpec.model_validate({"workers": 2})


def test_two_equal_classes_are_mm2() -> None:
    # Erlang C, c = 2, μ = 8/s, λ = 12.8/s (ρ = 0.8): as `workers: 2`.
    out = simulate("mm2_classes")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), erlang_c_wait(12.8, 8.0, 2))


# ------------------------------------------------------------------ batching


def test_batches_follow_the_hand_schedule() -> None:
    # 1 GFLOP requests every 30 ms from t = 0 on one 10 GFLOPS worker (t = 0.1 s
    # alone); batches of up to 3, timeout 50 ms, speedup 2, so a = 0.75 and a
    # batch of n takes 0.1·(0.75 + 0.25·n): 0.15 s for 3, 0.125 s for 2.
    #   A = {0, 1, 2}: full at 0.06, runs 0.06–0.21
    #   B = {3, 4, 5}: opens 0.09, full at 0.15, waits for the worker, runs 0.21–0.36
    #   C = {6, 7}:    opens 0.18, times out at 0.25, runs 0.36–0.485
    path = VALIDATION / "mm1.yaml"
    sc = _scenario(path, ["horizon.requests=8", "horizon.warmup=0",
                          "devices.0.workload.arrivals=periodic",
                          "devices.0.workload.phase=zero",
                          f"devices.0.workload.rate={1 / 0.03!r}/s"],
                   {"compute": {"speed": "10 GFLOPS"},
                    "batching": {"size": 3, "timeout": "70 ms", "speedup": 2}})
    rec = _records(sc, path)
    np.testing.assert_allclose(rec["server_service_s"], [0.15] * 6 + [0.125] * 2)
    np.testing.assert_allclose(rec["server_wait_s"],
                               [0.06, 0.03, 0, 0.12, 0.09, 0.06, 0.18, 0.15], atol=1e-12)


def batching_delay(lam: float, size: int, timeout: float) -> float:
    """Mean wait of a Poisson request for its batch to close (size k or timeout T).

    Renewal-reward over one batch: it opens at an arrival and closes at
    C = min(T, time of the (k−1)-th later arrival).  With A(t) the later
    arrivals by t, E[Σ waits] = ∫_0^T Σ_{j≤k−2} (1 + j) P(A(t) = j) dt
    = Σ_{j≤k−2} (1 + j) P(N ≥ j + 1)/λ and E[requests] = 1 + Σ_{j=1}^{k−1} P(N ≥ j),
    N ~ Poisson(λT).
    """
    tail = stats.poisson(lam * timeout).sf  # P(N ≥ j) = sf(j − 1)
    waits = sum((1 + j) * tail(j) for j in range(size - 1)) / lam
    return waits / (1 + sum(tail(j - 1) for j in range(1, size)))


def test_poisson_batching_delay_matches_renewal_reward() -> None:
    # λ = 5/s, k = 4, T = 0.4 s; a batch runs ≤ 4 ms, so batches (almost) never
    # wait for the worker and the server wait is the batching delay.
    out = simulate("mm1", "server.compute.speed=1 TFLOPS",
                   "server.compute.variability=deterministic",
                   "server.batching={size: 4, timeout: 400 ms, speedup: 2}")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(),
                   batching_delay(5.0, 4, 0.4))
    # without the timeout's cut the formula is the classical (k − 1)/(2λ)
    assert batching_delay(5.0, 4, 1e3) == pytest.approx(3 / 10)


@pytest.mark.parametrize("overrides", [["horizon.requests=600"],  # oracle, watched server
                                       ["horizon.requests=600", "scheduler.backlog_delay=50 ms"]])
def test_batching_runs_with_classes_background_and_the_oracle(overrides: list[str]) -> None:
    path = ROOT / "scenarios" / "reference.yaml"
    sc = _scenario(path, overrides, {
        "classes": [{"workers": 1, "speed": "2 TFLOPS"}, {"workers": 1, "speed": "1 TFLOPS"}],
        "background": {"rate": "20/s", "work": "10 GFLOP"},
        "batching": {"size": 4, "timeout": "10 ms", "speedup": 3}})
    res = Replication(sc, resolve_model(sc, path), 0).run()
    assert len(res.records["request"]) == 600
    assert res.server["background_jobs"] > 0
    offloaded = res.records["bytes_up"] > 0
    assert (res.records["server_wait_s"][offloaded] >= 0).all()


def test_batching_validation() -> None:
    spec = ServerSpec.model_validate({"compute": {"speed": "1 TFLOPS"},
                                      "batching": {"size": 4, "timeout": "20 ms", "speedup": 4}})
    assert spec.batching.shared == 1.0  # a full batch takes one request's time
    assert ServerSpec.model_validate({"compute": {"speed": "1 TFLOPS"}, "batching": {
        "size": 1, "timeout": 0}}).batching.shared == 0.0
    with pytest.raises(ValueError, match="more than size 4"):
        ServerSpec.model_validate({"compute": {"speed": "1 TFLOPS"},
                                   "batching": {"size": 4, "timeout": "20 ms", "speedup": 5}})


# ------------------------------------------------------------------ batching: measured times


def _every_30ms(n: int) -> list[str]:
    return [f"horizon.requests={n}", "horizon.warmup=0", "devices.0.workload.arrivals=periodic",
            "devices.0.workload.phase=zero", f"devices.0.workload.rate={1 / 0.03!r}/s"]


def test_batch_time_table_follows_the_hand_schedule() -> None:
    # Requests every 30 ms; batches of ≤ 3, timeout 70 ms; measured times 40 ms for
    # one and 100 ms for three, so two take 70 ms (linear in between):
    #   A = {0, 1, 2}: full at 0.06, runs 0.06–0.16
    #   B = {3, 4, 5}: opens 0.09, full at 0.15, waits for the worker, runs 0.16–0.26
    #   C = {6, 7}:    opens 0.18, times out at 0.25, waits, runs 0.26–0.33
    path = VALIDATION / "mm1.yaml"
    sc = _scenario(path, _every_30ms(8), {
        "compute": {"speed": "10 GFLOPS"},
        "batching": {"size": 3, "timeout": "70 ms", "time": {1: "40 ms", 3: "100 ms"}}})
    rec = _records(sc, path)
    np.testing.assert_allclose(rec["server_service_s"], [0.1] * 6 + [0.07] * 2)
    np.testing.assert_allclose(rec["server_wait_s"],
                               [0.06, 0.03, 0, 0.07, 0.04, 0.01, 0.08, 0.05], atol=1e-12)


def test_batch_time_table_is_for_the_fastest_class() -> None:
    # Batches of one (size 1) of 100 ms on the 10 GFLOPS worker take 250 ms on the
    # 4 GFLOPS one: the schedule of test_two_classes_follow_the_hand_schedule.
    path = VALIDATION / "mm1.yaml"
    sc = _scenario(path, _every_30ms(6), {
        "classes": [{"workers": 1, "speed": "4 GFLOPS"}, {"workers": 1, "speed": "10 GFLOPS"}],
        "batching": {"size": 1, "timeout": 0, "time": {1: "100 ms"}}})
    rec = _records(sc, path)
    np.testing.assert_allclose(rec["server_service_s"], [0.1, 0.25, 0.1, 0.1, 0.25, 0.1])
    np.testing.assert_allclose(rec["server_wait_s"], [0, 0, 0.04, 0.11, 0.16, 0.15],
                               atol=1e-12)


def test_batch_time_scales_with_the_share_of_work_and_the_multipliers() -> None:
    # Two blocks of 0.5 GFLOP, split after the first: each request runs half the model
    # on the server, so a lone request's 40 ms batch takes 20 ms × its multiplier
    # (exponential service; requests 1 s apart never share a batch).
    path = VALIDATION / "mm1.yaml"
    overrides = ["horizon.requests=20", "horizon.warmup=0",
                 "devices.0.workload.arrivals=periodic", "devices.0.workload.rate=1/s",
                 "model.blocks=[{name: a, flops: 500 MFLOP, output_bytes: 0}, "
                 "{name: b, flops: 500 MFLOP, output_bytes: 0}]",
                 "scheduler={policy: fixed-split, split: 1}"]
    sc = _scenario(path, overrides, {
        "compute": {"speed": "8 GFLOPS", "variability": "exponential"},
        "batching": {"size": 4, "timeout": 0, "time": {1: "40 ms", 4: "70 ms"}}})
    rep = Replication(sc, resolve_model(sc, path), 0)
    rec = rep.run().records
    np.testing.assert_allclose(rec["server_service_s"],
                               0.04 * 0.5 * rep.server_mult[rec["request"]], rtol=1e-12)


def test_batch_time_table_validation() -> None:
    def batching(**fields) -> Batching:
        return ServerSpec.model_validate({"compute": {"speed": "1 TFLOPS"}, "batching": {
            "size": 8, "timeout": "20 ms", **fields}}).batching

    b = batching(time={1: "4 ms", 8: "11 ms"})
    np.testing.assert_allclose(b.times, [0.004 + 0.001 * k for k in range(8)])
    # a full batch serves 8 model-sized requests of 1 GFLOP in 11 ms on 1 TFLOPS
    assert b.capacity_gain(1e9, 1e12) == pytest.approx(8e9 / (0.011 * 1e12))
    for fields, message in [
        ({"time": {2: "4 ms", 8: "11 ms"}}, "batch of 1 and the full batch"),
        ({"time": {1: "4 ms", 9: "11 ms"}}, "sizes only in 1..8"),
        ({"time": {1: "4 ms", 4: "3 ms", 8: "11 ms"}}, "cannot take less time"),
        ({"time": {1: 0, 8: "11 ms"}}, "must be > 0"),
        ({"time": {1: "4 ms", 8: "11 ms"}, "speedup": 2}, "not both"),
    ]:
        with pytest.raises(ValueError, match=message):
            batching(**fields)


def test_overload_warning_counts_full_batches() -> None:
    # 10/s of 1 GFLOP on 8 GFLOPS: ρ = 1.25 one at a time.  Full batches of 4 with
    # speedup 2, or measured at 250 ms (4 GFLOP in 0.25 s = twice 8 GFLOPS), halve it
    # to 0.625; background jobs are never batched: 4/s × 1 GFLOP adds 0.5.
    path = VALIDATION / "mm1.yaml"
    rate = "devices.0.workload.rate=10/s"
    assert any("server utilisation is 1.25" in w
               for w in load_scenario(path, [rate]).warnings)
    for batching in ("{size: 4, timeout: 50 ms, speedup: 2}",
                     "{size: 4, timeout: 50 ms, time: {1: 125 ms, 4: 250 ms}}"):
        assert not load_scenario(path, [rate, f"server.batching={batching}"]).warnings
        warnings = load_scenario(path, [rate, f"server.batching={batching}",
                                        "server.background={rate: 4/s, work: 1 GFLOP}"]).warnings
        assert any("server utilisation is 1.12" in w for w in warnings), warnings
