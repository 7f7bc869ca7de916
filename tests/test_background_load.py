"""Other tenants' load: utilisation traces and job-work distributions, against theory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from test_theory import assert_matches, erlang_c_wait, simulate

from simulator.background import TraceCurve, read_utilisation_trace
from simulator.engine import background_arrivals
from simulator.scenario import ScenarioError, ServerSpec, load_scenario
from simulator.traces import TraceError

ROOT = Path(__file__).resolve().parents[1]
MM1 = ROOT / "scenarios" / "validation" / "mm1.yaml"


def utilisation_file(tmp_path: Path, rows: list[tuple[float, float]], name: str = "u.txt"
                     ) -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{t} {u}\n" for t, u in rows))
    return path


def background(path: Path, work: str = "1 GFLOP", **extra: str) -> str:
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    return f"server.background={{work: {work}, utilisation: {{file: '{path}'{more}}}}}"


def test_long_run_utilisation_is_the_trace_time_average(tmp_path) -> None:
    # u = 0.2 for 30 s, 0.7 for 50 s, 0.45 for 20 s, looping: time average
    # (0.2·30 + 0.7·50 + 0.45·20) / 100 = 0.5.  Requests (5/s of 1 MFLOP at 8 GFLOPS)
    # add 5 × 1.25e-4 = 0.000625 of busy time; 20,000 requests span ≈ 40 loops.
    path = utilisation_file(tmp_path, [(0, 0.2), (30, 0.7), (80, 0.45), (100, 0.45)])
    out = simulate("mm1", "model.blocks.0.flops=1 MFLOP", background(path))
    assert_matches(out.server["utilisation"].to_numpy(), 0.5 + 0.000625, tolerance=0.02)


def test_constant_trace_is_mm1_at_the_combined_rate(tmp_path) -> None:
    # u = 0.375 of 8 GFLOPS in 1 GFLOP jobs is 3 jobs/s; with requests at 3/s the
    # server is one M/M/1 with λ = 6/s, μ = 8/s: Wq = ρ/(μ − λ) = 0.375 s.
    path = utilisation_file(tmp_path, [(0, 0.375), (60, 0.375)])
    out = simulate("mm1", "devices.0.workload.rate=3/s", background(path),
                   "horizon.requests=40000")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), 0.375)


def test_constant_trace_on_two_workers_is_mm2_at_the_combined_rate(tmp_path) -> None:
    # u = 0.3125 of 2 × 8 GFLOPS in 1 GFLOP jobs is 5 jobs/s; with requests at 5/s:
    # M/M/2 with λ = 10/s, μ = 8/s (ρ = 0.625), Erlang C.
    path = utilisation_file(tmp_path, [(0, 0.3125), (60, 0.3125)])
    out = simulate("mm1", "server.workers=2", "devices.0.workload.rate=5/s",
                   background(path), "horizon.requests=40000")
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), erlang_c_wait(10.0, 8.0, 2))


def test_jobs_follow_the_trace_segment_by_segment(tmp_path) -> None:
    # Thinning: in segment i the jobs are Poisson with mean u_i × S / work × length
    # × cycles, S = 10 GFLOPS, work = 100 MFLOP (100 jobs/s at u = 1), 50 cycles.
    levels = [0.1, 0.8, 0.0, 0.4]
    path = utilisation_file(tmp_path, [(10 * i, u) for i, u in enumerate(levels)] + [(40, 1)])
    spec = ServerSpec.model_validate({"compute": {"speed": "10 GFLOPS"}, "background": {
        "work": "100 MFLOP", "utilisation": {"file": str(path)}}})
    times = []
    for at, _ in background_arrivals(spec, np.random.default_rng(5)):
        if at >= 2000.0:
            break
        times.append(at)
    counts = np.bincount((np.asarray(times) % 40.0 // 10.0).astype(int), minlength=4)
    for count, level in zip(counts, levels, strict=True):
        mean = 100 * level * 10 * 50
        assert abs(count - mean) <= 4 * math.sqrt(mean) + 1e-9, (count, mean)
    assert counts[2] == 0


def test_without_loop_the_last_row_holds_and_offset_time_scale_shift_the_clock(
        tmp_path) -> None:
    path = utilisation_file(tmp_path, [(0, 0.1), (10, 0.5), (20, 0.9)])
    trace = read_utilisation_trace(path)
    assert trace.span == 20 and trace.tail == 0.9 and trace.mean == pytest.approx(0.3)
    flat = TraceCurve(trace, loop=False, time_scale=1.0, offset=0.0)
    assert [flat.level(t) for t in (0, 9.9, 10, 19.9, 20, 1e6)] == [0.1, 0.1, 0.5, 0.5, 0.9,
                                                                    0.9]
    assert flat.peak == 0.9
    looped = TraceCurve(trace, loop=True, time_scale=2.0, offset=15.0)
    # trace time (t + 15)/2: t = 0 → 7.5 (0.1); t = 5 → 10 (0.5); t = 25 → 20 ≡ 0 (0.1)
    assert [looped.level(t) for t in (0, 5, 25)] == [0.1, 0.5, 0.1]
    assert looped.peak == 0.5    # the last row lies outside a looping trace


def test_csv_in_percent_and_minutes(tmp_path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("t (min);cpu;util (%)\n0;9;20\n1;9;60\n2;9;60\n")
    trace = read_utilisation_trace(path)
    np.testing.assert_array_equal(trace.edges, [0, 60, 120])
    np.testing.assert_allclose(trace.levels, [0.2, 0.6])


def test_background_work_distribution_is_mg1_with_mixed_service() -> None:
    # Requests 3/s exponential, background 3/s deterministic, both mean 0.125 s:
    # M/G/1 with E[S²] = (3·2 + 3·1)·0.125²/6, so Wq = λE[S²]/(2(1 − ρ)) = 0.28125 s
    # (Pollaczek–Khinchine), against 0.375 s when both are exponential.
    out = simulate("mm1", "devices.0.workload.rate=3/s", "horizon.requests=40000",
                   "server.background={rate: 3/s, work: 1 GFLOP, "
                   "variability: deterministic}")
    lam, es2 = 6.0, (3 * 2 + 3 * 1) * 0.125**2 / 6
    assert_matches(out.summary["server_wait_mean_s"].to_numpy(), lam * es2 / (2 * 0.25))


def test_overload_warning_counts_the_trace_and_the_pattern_means(tmp_path) -> None:
    # Requests 5/s × 1 GFLOP on 8 GFLOPS = 0.625; a trace of long-run 0.5 adds 0.5.
    path = utilisation_file(tmp_path, [(0, 0.2), (30, 0.7), (80, 0.45), (100, 0.45)])
    warnings = load_scenario(MM1, [background(path)]).warnings
    assert any("server utilisation is 1.12" in w for w in warnings), warnings
    # Without loop the last row (0.45) holds for ever: 1.075.
    warnings = load_scenario(MM1, [background(path, loop="false")]).warnings
    assert any("server utilisation is 1.07" in w for w in warnings), warnings
    # A pattern modulates the rate: 4/s × mean(0.25, 0.75) × 1 GFLOP / 8 GFLOPS = 0.25.
    assert not load_scenario(MM1, ["server.background={rate: 4/s, work: 1 GFLOP, "
                                   "pattern: [0.25, 0.75], period: 10 s}"]).warnings


def test_rate_and_utilisation_are_exclusive(tmp_path) -> None:
    path = utilisation_file(tmp_path, [(0, 0.2), (10, 0.2)])
    with pytest.raises(ScenarioError, match="either `utilisation`"):
        load_scenario(MM1, [background(path).replace("{work", "{rate: 1/s, work")])
    with pytest.raises(ScenarioError, match="`rate`"):
        load_scenario(MM1, ["server.background={work: 1 GFLOP}"])
    with pytest.raises(ScenarioError, match="needs loop: true"):
        load_scenario(MM1, [background(path, loop="false", offset="random")])


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("0 0.2\n10 1.5\n", 2, "'1.5' is above 1"),
    ("0 0.2\n10 -0.1\n", 2, "'-0.1' is negative"),
    ("0 0.2\n10 0.3\n5 0.1\n", 3, "time goes backwards"),
    ("0 0.2\n", 1, "at least two samples"),
    ("0 0\n10 0\n", None, "every utilisation is zero"),
    ("0 0.2 7\n", 1, "expected 2 columns"),
])
def test_bad_utilisation_files_name_the_file_and_line(tmp_path, text: str,
                                                      line: int | None, problem: str) -> None:
    path = tmp_path / "u.txt"
    path.write_text(text)
    with pytest.raises(TraceError) as err:
        read_utilisation_trace(path)
    message = str(err.value)
    assert message.startswith(str(path) + (f", line {line}:" if line else ":")), message
    assert problem in message
