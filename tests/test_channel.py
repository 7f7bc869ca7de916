"""Channel models: transfers integrate the time-varying rate exactly.

Expected values are computed by hand (tests/data files), by brute-force
numeric integration of a real trace, from Markov-chain theory (stationary
distributions solved by hand), or with scipy quadrature (ergodic Shannon
capacity).  Statistical checks use a fixed seed and a 99.9 % Student-t
confidence interval from batch means (or i.i.d. blocks): the seed makes the
test deterministic, the interval says why the tolerance is what it is, and the
bound on its half-width keeps the test from passing by being vague.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import integrate, stats

from simulator.channel import (
    CHANNEL_MODELS,
    ConstantLink,
    ConstantLinkSpec,
    IdealLink,
    IdealLinkSpec,
    LinkSpec,
    MarkovLink,
    ShannonLink,
    TraceLink,
    TraceLinkSpec,
    describe_channel_models,
)
from simulator.traces import TraceError, read_trace

DATA = Path(__file__).parent / "data"
NORWAY = Path(__file__).parent.parent / "scenarios" / "traces" / "norway_bus_3.log"
LINK = TypeAdapter(LinkSpec)


def build(spec: dict, seed: int = 0, **kwargs: object):
    return LINK.validate_python(spec).build(np.random.default_rng(seed), **kwargs)


def step_link(**kwargs: object) -> TraceLink:
    """1 Mbit/s on [0,2), 4 Mbit/s on [2,5), 2 Mbit/s on [5,6); last row 9 Mbit/s."""
    return TraceLink(read_trace(DATA / "step.pensieve"), **kwargs)  # type: ignore[arg-type]


def assert_in_ci(samples: np.ndarray, expected: float, max_half_width: float) -> None:
    """``expected`` lies in the 99.9 % t-interval of the samples' mean, which is narrow."""
    n = len(samples)
    half = stats.t.ppf(0.9995, n - 1) * samples.std(ddof=1) / math.sqrt(n)
    assert half <= max_half_width, f"interval too wide to be a test: ±{half:.4g}"
    assert abs(samples.mean() - expected) <= half, (samples.mean(), expected, half)


def batch_time_fractions(edges: np.ndarray, rates: np.ndarray, level: float, horizon: float,
                         batches: int) -> np.ndarray:
    """Fraction of each of ``batches`` equal windows of [0, horizon) spent at ``level``."""
    inside = np.where(rates == level, np.diff(edges), 0.0)
    time_at_level = np.concatenate(([0.0], np.cumsum(inside)))
    bounds = np.linspace(0.0, horizon, batches + 1)
    return np.diff(np.interp(bounds, edges, time_at_level)) / np.diff(bounds)


# ---------------------------------------------------------------- constant and ideal


def test_constant_link_is_bits_over_rate() -> None:
    link = ConstantLinkSpec(model="constant", rate="20 Mbps").build(np.random.default_rng(0))
    assert link.transfer_duration(3.0, 10e6) == pytest.approx(0.5)
    assert link.transfer_duration(3.0, 0) == 0.0
    assert link.rate_at(1.0) == link.mean_rate() == 20e6
    assert isinstance(link, ConstantLink)
    assert link.bits_between(1.0, 1.5) == pytest.approx(10e6)


def test_ideal_link_takes_no_time() -> None:
    link = IdealLinkSpec(model="ideal").build(np.random.default_rng(0))
    assert isinstance(link, IdealLink)
    assert link.transfer_duration(0.0, 1e12) == 0.0
    assert link.mean_rate() == math.inf


def test_every_model_is_registered_and_described() -> None:
    assert set(CHANNEL_MODELS) == {"constant", "ideal", "markov", "gilbert-elliott",
                                   "shannon", "trace"}
    assert all(describe_channel_models().values())


# ---------------------------------------------------------------- trace: by hand


def test_transfer_straddling_a_rate_change_by_hand() -> None:
    # From 1.5 s: 0.5 s at 1 Mbit/s = 0.5 Mbit, then 2.5 Mbit at 4 Mbit/s = 0.625 s.
    assert step_link().transfer_duration(1.5, 3e6) == pytest.approx(1.125)


def test_transfer_across_the_loop_by_hand() -> None:
    # From 5.5 s: 0.5 s at 2 Mbit/s = 1 Mbit; loop to 0: 2 Mbit at 1 Mbit/s = 2 s.
    assert step_link().transfer_duration(5.5, 3e6) == pytest.approx(2.5)
    # Whole periods: 16 Mbit per 6 s; 40 Mbit from 0 = 2 periods (12 s) + 8 Mbit
    # (2 s at 1 Mbit/s = 2 Mbit, then 6 Mbit at 4 Mbit/s = 1.5 s) → 15.5 s.
    assert step_link().transfer_duration(0.0, 40e6) == pytest.approx(15.5)
    # Starting in a later period is the same as starting in the first.
    assert step_link().transfer_duration(6 * 7 + 1.5, 3e6) == pytest.approx(1.125)


def test_transfer_waits_through_a_fade_to_zero() -> None:
    # 2 Mbit/s on [0,1), 0 on [1,3), 2 Mbit/s on [3,4): 3 Mbit from 0 →
    # 2 Mbit by 1 s, nothing until 3 s, then 1 Mbit in 0.5 s.
    link = TraceLink(read_trace(DATA / "fade.pensieve"))
    assert link.transfer_duration(0.0, 3e6) == pytest.approx(3.5)
    assert link.transfer_duration(2.0, 1e6) == pytest.approx(1.5)  # starts inside the fade
    assert link.rate_at(2.0) == 0.0


def test_without_loop_the_last_rate_holds() -> None:
    link = step_link(loop=False)
    # From 5.5 s: 1 Mbit by 6 s, then 2 Mbit at the last row's 9 Mbit/s.
    assert link.transfer_duration(5.5, 3e6) == pytest.approx(0.5 + 2 / 9)
    assert link.rate_at(100.0) == 9e6
    assert link.mean_rate() == pytest.approx(16e6 / 6)


def test_time_and_rate_scaling_by_hand() -> None:
    # time_scale 2: 1 Mbit/s on [0,4) → 3 Mbit take 3 s.
    assert step_link(time_scale=2.0).transfer_duration(0.0, 3e6) == pytest.approx(3.0)
    # rate_scale 2: 2 Mbit/s on [0,2) → 3 Mbit take 1.5 s.
    assert step_link(rate_scale=2.0).transfer_duration(0.0, 3e6) == pytest.approx(1.5)
    assert step_link(rate_scale=2.0).mean_rate() == pytest.approx(32e6 / 6)


def test_offset_shifts_the_trace() -> None:
    shifted = step_link(offset_s=1.5)
    assert shifted.transfer_duration(0.0, 3e6) == pytest.approx(1.125)
    assert shifted.rate_at(0.6) == 4e6


def test_mahimahi_link_delivers_a_packet_per_millisecond(tmp_path: Path) -> None:
    path = tmp_path / "flat.trace"
    path.write_text("".join(f"{ms}\n" for ms in range(1, 1001)))
    link = TraceLink(read_trace(path))
    assert link.transfer_duration(0.0, 10 * 12000) == pytest.approx(0.010)
    assert link.mean_rate() == pytest.approx(12e6)
    assert link.transfer_duration(0.9995, 24e6) == pytest.approx(2.0)  # loops twice


def test_bits_between_inverts_transfer_duration() -> None:
    link = step_link()
    for start, bits in [(0.0, 1e6), (1.5, 3e6), (5.5, 3e6), (13.0, 50e6)]:
        d = link.transfer_duration(start, bits)
        assert link.bits_between(start, start + d) == pytest.approx(bits)


def test_plot_segments_follow_the_offset_and_loop() -> None:
    edges, rates = step_link(offset_s=5.0).segments(8.0)
    np.testing.assert_allclose(edges, [0, 1, 3, 6, 7, 9])
    np.testing.assert_allclose(rates, [2e6, 1e6, 4e6, 2e6, 1e6])


# ---------------------------------------------------------------- trace: the spec


def test_random_offset_is_drawn_per_replication_from_the_rng() -> None:
    spec = {"model": "trace", "file": str(DATA / "step.pensieve"), "random_offset": True}
    offsets = [build(spec, seed).offset_s for seed in range(20)]
    assert all(0.0 <= o < 6.0 for o in offsets)
    assert len(set(offsets)) == 20
    assert build(spec, 3).offset_s == build(spec, 3).offset_s
    assert build({**spec, "random_offset": False}, 3).offset_s == 0.0


def test_relative_file_is_resolved_against_the_given_base_dir() -> None:
    spec = {"model": "trace", "file": "step.pensieve"}
    link = build(spec, base_dir=DATA)
    assert link.transfer_duration(1.5, 3e6) == pytest.approx(1.125)
    # Or at validation time, as the scenario loader does: the path becomes absolute.
    validated = TraceLinkSpec.model_validate(spec, context={"base_dir": DATA})
    assert Path(validated.file) == (DATA / "step.pensieve").resolve()
    assert validated.build(np.random.default_rng(0)).mean_rate() == pytest.approx(16e6 / 6)


def test_bad_trace_is_reported_when_the_scenario_is_loaded() -> None:
    with pytest.raises(ValidationError, match="every rate in the trace is zero"):
        TraceLinkSpec.model_validate({"model": "trace", "file": "zeros.pensieve"},
                                     context={"base_dir": DATA})
    with pytest.raises(ValidationError, match="file not found"):
        TraceLinkSpec.model_validate({"model": "trace", "file": "missing.log"},
                                     context={"base_dir": DATA})


def test_all_zero_trace_cannot_be_built() -> None:
    with pytest.raises(TraceError, match="zero"):
        build({"model": "trace", "file": str(DATA / "zeros.pensieve")})


def test_no_loop_with_a_final_zero_rate_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ends_dead.log"
    path.write_text("0 1\n1 0\n")
    with pytest.raises(ValueError, match="never finish"):
        build({"model": "trace", "file": str(path), "loop": False})


def test_csv_trace_with_columns_option() -> None:
    spec = {"model": "trace", "file": str(DATA / "extra_columns.csv"),
            "columns": {"rate": "ul (Mbit/s)"}}
    assert build(spec).transfer_duration(1.5, 3e6) == pytest.approx(1.125)


def brute_force_duration(times: np.ndarray, mbps: np.ndarray, start: float, bits: float,
                         dt: float = 1e-4) -> float:
    """Midpoint-rule integration of the looped trace on a fine grid, step by step."""
    span = times[-1] - times[0]
    horizon = 60.0
    grid = start + (np.arange(int(horizon / dt)) + 0.5) * dt
    phase = np.mod(grid - times[0], span) + times[0]
    rate = mbps[np.searchsorted(times, phase, side="right") - 1] * 1e6
    delivered = np.cumsum(rate * dt)
    k = int(np.argmax(delivered >= bits))
    assert delivered[k] >= bits, "horizon too short"
    return (k + 1) * dt - (delivered[k] - bits) / rate[k]


def test_real_trace_durations_match_numeric_integration() -> None:
    raw = np.loadtxt(NORWAY)
    times, mbps = raw[:, 0], raw[:, 1]
    span = times[-1] - times[0]
    link = build({"model": "trace", "file": str(NORWAY)})
    cases = [(0.0, 1e6), (12.3, 8e6), (100.7, 20e6), (span - 3.0, 10e6), (span + 50.2, 5e6),
             (201.05, 64 * 8 * 1024)]
    for start, bits in cases:
        expected = brute_force_duration(times, mbps, start, bits)
        # Tolerance: a few steps of the 0.1 ms integration grid.
        assert link.transfer_duration(start, bits) == pytest.approx(expected, abs=1e-3), start


# ---------------------------------------------------------------- markov


def test_markov_long_run_time_fractions_are_stationary() -> None:
    # Exponential sojourns of mean 1, 2, 4 s, next state uniform among the others:
    # the embedded chain is uniform, so time fractions ∝ mean sojourn = 1/7, 2/7, 4/7.
    spec = {"model": "markov", "rates": ["2 Mbps", "10 Mbps", "40 Mbps"],
            "mean_sojourn": ["1 s", "2 s", "4 s"]}
    link = build(spec, seed=11)
    assert isinstance(link, MarkovLink)
    np.testing.assert_allclose(link.chain.stationary, [1 / 7, 2 / 7, 4 / 7])
    assert link.mean_rate() == pytest.approx((2 + 20 + 160) / 7 * 1e6)
    horizon = 20_000.0
    edges, rates = link.segments(horizon)
    for level, share in zip((2e6, 10e6, 40e6), (1 / 7, 2 / 7, 4 / 7), strict=True):
        fractions = batch_time_fractions(edges, rates, level, horizon, 40)
        assert_in_ci(fractions, share, max_half_width=0.03)
    per_batch = np.array([link.bits_between(b * 500.0, (b + 1) * 500.0) / 500.0
                          for b in range(40)])
    assert_in_ci(per_batch, link.mean_rate(), max_half_width=0.05 * link.mean_rate())


def test_markov_scalar_sojourn_gives_equal_shares() -> None:
    link = build({"model": "markov", "rates": ["2 Mbps", "10 Mbps", "40 Mbps"],
                  "mean_sojourn": "2 s"})
    np.testing.assert_allclose(link.chain.stationary, [1 / 3, 1 / 3, 1 / 3])
    assert link.mean_rate() == pytest.approx(52e6 / 3)


def test_markov_transition_matrix_per_step() -> None:
    # π P = π for P = [[0.9, 0.1], [0.3, 0.7]]: 0.1 π0 = 0.3 π1 → π = (0.75, 0.25).
    spec = {"model": "markov", "rates": ["5 Mbps", "1 Mbps"],
            "transition": [[0.9, 0.1], [0.3, 0.7]], "step": "100 ms"}
    link = build(spec, seed=5)
    np.testing.assert_allclose(link.chain.stationary, [0.75, 0.25])
    assert link.mean_rate() == pytest.approx(4e6)
    horizon = 10_000.0
    edges, rates = link.segments(horizon)
    # The rate changes only on the step grid.
    steps = edges / 0.1
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    assert_in_ci(batch_time_fractions(edges, rates, 5e6, horizon, 40), 0.75,
                 max_half_width=0.03)
    # Sojourn in state 0 is geometric with mean step / (1 - 0.9) = 1 s.
    sojourns = np.diff(edges)[rates == 5e6]
    assert_in_ci(sojourns, 1.0, max_half_width=0.1)


def test_markov_outage_state_is_skipped_by_a_transfer() -> None:
    link = build({"model": "markov", "rates": [0, "10 Mbps"], "mean_sojourn": "1 s"}, seed=2)
    edges, rates = link.segments(200.0)
    k = int(np.flatnonzero((rates == 0) & (np.diff(edges) > 0.2))[0])
    start = edges[k] + 0.1
    # 1 kbit fits easily in the next (10 Mbit/s) segment: it waits out the outage.
    expected = edges[k + 1] + 1e3 / 10e6 - start
    assert link.transfer_duration(start, 1e3) == pytest.approx(expected)


def test_same_seed_same_durations_whatever_the_query_pattern() -> None:
    specs = [
        {"model": "markov", "rates": ["2 Mbps", "10 Mbps", "40 Mbps"], "mean_sojourn": "2 s"},
        {"model": "markov", "rates": ["5 Mbps", "1 Mbps"],
         "transition": [[0.9, 0.1], [0.3, 0.7]], "step": "100 ms"},
        {"model": "shannon", "bandwidth": "10 MHz", "snr": "10 dB", "coherence": "5 ms"},
        {"model": "trace", "file": str(NORWAY), "random_offset": True},
    ]
    queries = [(t, 2e6) for t in np.linspace(0.0, 3000.0, 97)]
    for spec in specs:
        plain = build(spec, seed=42)
        reference = [plain.transfer_duration(t, b) for t, b in queries]
        poked = build(spec, seed=42)
        poked.rate_at(5000.0)  # jump far ahead first
        for t in np.random.default_rng(1).uniform(0, 6000, 50):
            poked.rate_at(float(t))
        again = [poked.transfer_duration(t, b) for t, b in reversed(queries)][::-1]
        assert again == reference, spec["model"]


def test_links_sharing_one_rng_do_not_disturb_each_other() -> None:
    spec = {"model": "markov", "rates": ["2 Mbps", "10 Mbps"], "mean_sojourn": "1 s"}
    rng = np.random.default_rng(9)
    up, down = (LINK.validate_python(spec).build(rng) for _ in range(2))
    rng = np.random.default_rng(9)
    up2, down2 = (LINK.validate_python(spec).build(rng) for _ in range(2))
    down2.transfer_duration(4000.0, 1e6)  # the other link is queried first, far ahead
    assert [up2.transfer_duration(t, 1e6) for t in range(100)] == \
           [up.transfer_duration(t, 1e6) for t in range(100)]
    # ...while the two links still have independent paths.
    assert up.segments(100.0)[0].tolist() != down.segments(100.0)[0].tolist()


@pytest.mark.parametrize(("spec", "message"), [
    ({"rates": ["1 Mbps", "2 Mbps"]}, "exactly one of"),
    ({"rates": ["1 Mbps", "2 Mbps"], "mean_sojourn": "1 s",
      "transition": [[0.5, 0.5], [0.5, 0.5]], "step": "1 s"}, "exactly one of"),
    ({"rates": ["1 Mbps", "2 Mbps"], "transition": [[0.5, 0.4], [0.5, 0.5]],
      "step": "1 s"}, "sum to 1"),
    ({"rates": ["1 Mbps", "2 Mbps"], "transition": [[0.5, 0.5], [0.5, 0.5]]}, "needs 'step'"),
    ({"rates": ["1 Mbps", "2 Mbps", "3 Mbps"],
      "transition": [[0.5, 0.5, 0], [0.5, 0.5, 0], [0.2, 0.2, 0.6]], "step": "1 s"},
     "not irreducible"),
    ({"rates": ["1 Mbps", "2 Mbps"], "transition": [[1, 0], [0.5, 0.5]], "step": "1 s"},
     "never left"),
    ({"rates": [0, 0], "mean_sojourn": "1 s"}, "mean rate is 0"),
    ({"rates": ["1 Mbps", "2 Mbps"], "mean_sojourn": ["1 s"]}, "one per|2 rates"),
    ({"rates": ["1 Mbps", "2 Mbps"], "mean_sojourn": "1 s", "loss": 1.5}, "less than or equal"),
    ({"rates": ["1 Mbps", "5 W"], "mean_sojourn": "1 s"}, "unknown data rate unit"),
])
def test_markov_spec_errors_say_what_is_wrong(spec: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LINK.validate_python({"model": "markov", **spec})


# ---------------------------------------------------------------- Gilbert–Elliott


GE = {"model": "gilbert-elliott", "rate_good": "10 Mbps", "rate_bad": "1 Mbps",
      "mean_good": "4 s", "mean_bad": "1 s", "loss_bad": 0.5}


def test_gilbert_elliott_mean_goodput_by_hand() -> None:
    # π = (4, 1)/5; goodput = 0.8 × 10 + 0.2 × 1 × (1 - 0.5) = 8.1 Mbit/s.
    link = build(GE, seed=3)
    assert link.mean_rate() == pytest.approx(8.1e6)
    per_batch = np.array([link.bits_between(b * 500.0, (b + 1) * 500.0) / 500.0
                          for b in range(40)])
    assert_in_ci(per_batch, 8.1e6, max_half_width=0.3e6)


def test_gilbert_elliott_loss_inflates_bits_by_one_over_one_minus_p() -> None:
    link = build({**GE, "initial": "bad"}, seed=4)
    assert link.state_at(0.0) == 1
    assert link.rate_at(0.0) == pytest.approx(0.5e6)  # goodput
    edges, _ = link.segments(1.0)
    bits = 0.5 * edges[1] * 0.5e6  # half of the first (bad) sojourn's goodput
    assert link.transfer_duration(0.0, bits) == pytest.approx(bits / 1e6 / (1 - 0.5))


def test_gilbert_elliott_is_the_two_state_markov_link() -> None:
    markov = {"model": "markov", "rates": ["10 Mbps", "1 Mbps"],
              "mean_sojourn": ["4 s", "1 s"], "loss": [0.0, 0.5]}
    a, b = build(GE, seed=8), build(markov, seed=8)
    assert [a.transfer_duration(t, 3e6) for t in range(0, 300, 7)] == \
           [b.transfer_duration(t, 3e6) for t in range(0, 300, 7)]


# ---------------------------------------------------------------- Shannon


def rayleigh_capacity(bandwidth: float, snr_db: float) -> float:
    snr = 10 ** (snr_db / 10)
    value, _ = integrate.quad(lambda x: math.log2(1 + snr * x) * math.exp(-x), 0, math.inf,
                              limit=200)
    return bandwidth * value


def lognormal_capacity(bandwidth: float, snr_db: float, sigma_db: float) -> float:
    snr, s = 10 ** (snr_db / 10), sigma_db * math.log(10) / 10
    value, _ = integrate.quad(
        lambda z: math.log2(1 + snr * math.exp(s * z - s * s / 2)) * stats.norm.pdf(z),
        -12, 12, limit=200)
    return bandwidth * value


@pytest.mark.parametrize("snr_db", [-20.0, 0.0, 15.0, 40.0])
def test_shannon_rayleigh_mean_is_the_ergodic_capacity(snr_db: float) -> None:
    link = build({"model": "shannon", "bandwidth": "20 MHz", "snr": snr_db,
                  "coherence": "10 ms"})
    assert link.mean_rate() == pytest.approx(rayleigh_capacity(20e6, snr_db), rel=1e-7)


def test_shannon_lognormal_mean_is_the_ergodic_capacity() -> None:
    link = build({"model": "shannon", "bandwidth": "5 MHz", "snr": "10 dB",
                  "fading": "lognormal", "sigma": "8 dB", "coherence": "50 ms"})
    assert link.mean_rate() == pytest.approx(lognormal_capacity(5e6, 10.0, 8.0), rel=1e-6)


@pytest.mark.parametrize("fading", ["rayleigh", "lognormal"])
def test_shannon_long_run_rate_matches_the_capacity(fading: str) -> None:
    spec = {"model": "shannon", "bandwidth": "20 MHz", "snr": "15 dB", "fading": fading,
            "sigma": "6 dB", "coherence": "10 ms"}
    link = build(spec, seed=21)
    assert isinstance(link, ShannonLink)
    edges, rates = link.segments(500.0)  # 50 000 i.i.d. blocks
    np.testing.assert_allclose(np.diff(edges), 0.01)
    expected = (rayleigh_capacity(20e6, 15.0) if fading == "rayleigh"
                else lognormal_capacity(20e6, 15.0, 6.0))
    assert_in_ci(rates, expected, max_half_width=0.01 * expected)


def test_shannon_without_fading_is_constant() -> None:
    link = build({"model": "shannon", "bandwidth": "1 MHz", "snr": "0 dB", "fading": "none",
                  "coherence": "1 ms"})
    assert link.rate_at(0.0) == pytest.approx(1e6)  # log2(1 + 1) = 1 bit/s/Hz


def test_shannon_transfer_matches_block_by_block_sum() -> None:
    link = build({"model": "shannon", "bandwidth": "1 MHz", "snr": "5 dB",
                  "coherence": "20 ms"}, seed=6)
    _, rates = link.segments(1.0)
    start, bits = 0.013, 0.3e6
    # By hand from the blocks: finish the first block, then whole blocks, then a part.
    left = bits - rates[0] * (0.02 - start)
    t, k = 0.02, 1
    while left > rates[k] * 0.02:
        left -= rates[k] * 0.02
        t, k = t + 0.02, k + 1
    assert link.transfer_duration(start, bits) == pytest.approx(t + left / rates[k] - start)


def test_shannon_lognormal_needs_sigma() -> None:
    with pytest.raises(ValidationError, match="sigma"):
        LINK.validate_python({"model": "shannon", "bandwidth": "1 MHz", "snr": 3,
                              "fading": "lognormal", "coherence": "1 ms"})
