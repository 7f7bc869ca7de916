"""A shared uplink (channel.sharing) against hand computations and queueing theory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import simpy
from test_theory import assert_matches, simulate

from simulator.channel import ConstantLink
from simulator.uplink import FifoUplink, ProcessorSharingUplink

VALIDATION = Path(__file__).resolve().parents[1] / "scenarios" / "validation"


def finish_times(uplink_cls, starts_and_bits, link) -> list[float]:
    """Run transfers (start time, bits) through a shared uplink; return their end times."""
    env = simpy.Environment()
    uplink = uplink_cls(env, link)
    ends = [0.0] * len(starts_and_bits)

    def transfer(i: int, start: float, bits: float):
        yield env.timeout(start)
        yield from uplink.send(bits)
        ends[i] = env.now

    for i, (start, bits) in enumerate(starts_and_bits):
        env.process(transfer(i, start, bits))
    env.run()
    return ends


def test_ps_two_equal_transfers_finish_together_at_twice_the_time() -> None:
    ends = finish_times(ProcessorSharingUplink, [(0.0, 8e6), (0.0, 8e6)], ConstantLink(8e6))
    assert ends == pytest.approx([2.0, 2.0], abs=1e-12)


def test_ps_late_joiner_by_hand() -> None:
    # 8 Mbit alone for 0.5 s (4 Mbit done), then two share 8 Mbit/s: the first needs
    # 4 Mbit more at 4 Mbit/s → ends at 1.5 s; the second has 2 Mbit left then, alone
    # at 8 Mbit/s → 0.25 s more → 1.75 s.
    ends = finish_times(ProcessorSharingUplink, [(0.0, 8e6), (0.5, 6e6)], ConstantLink(8e6))
    assert ends == pytest.approx([1.5, 1.75], abs=1e-12)


def test_fifo_second_waits_for_the_first() -> None:
    ends = finish_times(FifoUplink, [(0.0, 8e6), (0.5, 6e6)], ConstantLink(8e6))
    assert ends == pytest.approx([1.0, 1.75], abs=1e-12)


def test_ps_follows_a_rate_change_exactly(tmp_path) -> None:
    # A link of 8 Mbit/s for 1 s then 2 Mbit/s: two transfers of 4 Mbit start at 0.
    # Together they get 8 Mbit in the first second: both done at exactly 1 s.  A third
    # of 1 Mbit at 1 s alone at 2 Mbit/s: 0.5 s.
    from simulator.channel import TraceLink
    from simulator.traces import read_pensieve

    file = tmp_path / "step.log"
    file.write_text("0 8\n1 2\n100 2\n")  # Pensieve: time_s rate_Mbps
    link = TraceLink(read_pensieve(file), loop=False)
    ends = finish_times(ProcessorSharingUplink, [(0.0, 4e6), (0.0, 4e6), (1.0, 1e6)], link)
    assert ends == pytest.approx([1.0, 1.0, 1.5], abs=1e-9)


@pytest.mark.parametrize(("sharing", "theory"), [
    ("ps", 0.020 / (1 - 0.7)),                           # M/D/1-PS: S/(1−ρ)
    ("fifo", 0.020 + 0.7 * 0.020 / (2 * (1 - 0.7))),     # M/D/1 (P-K)
])
def test_shared_uplink_is_a_textbook_queue(sharing: str, theory: float) -> None:
    out = simulate("shared_uplink", f"channel.sharing={sharing}")
    assert_matches(out.summary["uplink_mean_s"].to_numpy(), theory)


def test_dedicated_links_never_queue() -> None:
    out = simulate("shared_uplink", "channel.sharing=dedicated", "replications=2",
                   "horizon.requests=2000")
    np.testing.assert_allclose(out.summary["uplink_mean_s"], 0.020, rtol=1e-9)
