"""Pinned per-request records: a speed-up of the engine must not change a single bit.

Why: the engine is tuned for speed (issue 9) — decisions of fixed policies
computed once, draws read from lists, bookkeeping inlined — and every such
trick must leave each request's record exactly as it was.  These digests
were taken from the engine before those changes (commit f16c107), with the
library versions of ``constraints.txt``; each case exercises one path:
the server-only M/M/1 (fixed decision, no observation), the reference
scenario with a policy that observes (dynamic split), one that learns
(SplitEE, exits), the clairvoyant oracle (a watched server), and three
servers behind least-loaded dispatch with a stale backlog report.

A deliberate change of the model (not of its speed) changes these numbers:
update them in the same commit and say why.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from simulator.engine import RECORD_FIELDS, Replication
from simulator.scenario import load_scenario, resolve_model

ROOT = Path(__file__).resolve().parents[1]

#: The record columns of commit f16c107, which the digests cover; the ``server`` column
#: came later (topology) and is checked against the offload decision below.
PINNED_FIELDS = tuple(name for name in RECORD_FIELDS if name != "server")

#: case → (scenario, overrides, sha256 of all 300 records of replication 1)
CASES = {
    "mm1": ("scenarios/validation/mm1.yaml", (),
            "1f9c21a3f111d97a1ff49595bad31e8afdf4b1969ec03635ff3866ac14c6c2a1"),
    "reference-dynamic": (
        "scenarios/reference.yaml", ("scheduler.policy=dynamic-split", "sweep={}"),
        "f415700cab6979dcef58d43d81465827a64cd23350ca5a61e94799849b03a42e"),
    "reference-splitee": (
        "scenarios/reference.yaml", ("scheduler.policy=splitee", "sweep={}"),
        "b665295b9af96cb2b71f537e1ae1370488b2ab03df0a88e408a420cfde23c2c6"),
    "reference-oracle": (
        "scenarios/reference.yaml", ("scheduler.policy=oracle", "sweep={}"),
        "38f27812b96b180ddb62283a97c23863f558a7c87421cf879d566e4c1ef21ddc"),
    "three-servers-stale": (
        "scenarios/validation/mm1.yaml",
        ("server.count=3", "server.dispatch=least-loaded", "scheduler.backlog_delay=0.1",
         "devices.0.workload.rate=15/s"),
        "601717a17de6f004748478e3e4ad63c01b269c7a344a18b196c50fec4711d4b0"),
}

#: A few whole records, readable: (case, request) → record.
RECORDS = {
    ("mm1", 0): {
        "request": 0, "device": 0, "arrival_s": 0.10069205334644443, "split": 0, "exit": -1,
        "latency_s": 0.1508616777264899, "device_wait_s": 0.0, "device_compute_s": 0.0,
        "uplink_s": 0.0, "server_wait_s": 0.0, "server_service_s": 0.1508616777264899,
        "downlink_s": 0.0, "energy_j": 0.0, "bytes_up": 0.0, "correct": True,
        "uplink_rate_bps": float("inf")},
    ("reference-splitee", 0): {
        "request": 0, "device": 0, "arrival_s": 0.20417277945660142, "split": 3, "exit": -1,
        "latency_s": 0.44060657986919705, "device_wait_s": 0.0,
        "device_compute_s": 0.00383392, "uplink_s": 0.4217616106001765, "server_wait_s": 0.0,
        "server_service_s": 4.649269020506881e-06, "downlink_s": 0.0150064,
        "energy_j": 1.4629666052337338, "bytes_up": 262144.0, "correct": True,
        "uplink_rate_bps": 2000000.0},
    ("reference-oracle", 299): {
        "request": 299, "device": 0, "arrival_s": 59.02863993401657, "split": 3, "exit": 3,
        "latency_s": 0.003833919999998159, "device_wait_s": 0.0,
        "device_compute_s": 0.00383392, "uplink_s": 0.0, "server_wait_s": 0.0,
        "server_service_s": 0.0, "downlink_s": 0.0, "energy_j": 0.01150176, "bytes_up": 0.0,
        "correct": False, "uplink_rate_bps": 10000000.0},
}


def _records(case: str) -> dict[str, np.ndarray]:
    path, overrides, _ = CASES[case]
    loaded = load_scenario(ROOT / path, ["horizon.requests=300", "horizon.warmup=0",
                                         *overrides])
    scenario = loaded.points[0].scenario
    return Replication(scenario, resolve_model(scenario, loaded.path), 1).run().records


def _digest(records: dict[str, np.ndarray]) -> str:
    """sha256 over every column's name, dtype and bytes, in record order."""
    h = hashlib.sha256()
    for name in PINNED_FIELDS:
        column = records[name]
        h.update(name.encode())
        h.update(str(column.dtype).encode())
        h.update(column.tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("case", list(CASES))
def test_every_record_is_bit_identical_to_the_pinned_run(case: str) -> None:
    assert _digest(_records(case)) == CASES[case][2]


@pytest.mark.parametrize(("case", "rid"), list(RECORDS))
def test_pinned_records_field_by_field(case: str, rid: int) -> None:
    records = _records(case)
    got = {name: records[name][rid].item() for name in PINNED_FIELDS}
    assert got == RECORDS[(case, rid)]


@pytest.mark.parametrize("case", list(CASES))
def test_the_server_column_names_a_server_exactly_for_offloaded_requests(case: str) -> None:
    # A request reached a server iff it left the device before the last block and did
    # not exit there: its split is below the depth and its exit (if any) after the split.
    records = _records(case)
    path, overrides, _ = CASES[case]
    loaded = load_scenario(ROOT / path, ["horizon.requests=300", "horizon.warmup=0",
                                         *overrides])
    scenario = loaded.points[0].scenario
    depth = resolve_model(scenario, loaded.path).depth
    split, exit_block = records["split"], records["exit"]
    offloaded = (split < depth) & ((exit_block == -1) | (exit_block > split))
    assert records["server"].dtype == np.int64
    assert ((records["server"] >= 0) == offloaded).all()
    assert records["server"].max() < scenario.server.count


@pytest.mark.parametrize("case", ["reference-splitee", "three-servers-stale"])
def test_records_do_not_depend_on_how_many_rows_are_converted_at_a_time(
        case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows become arrays in chunks while the run goes on (``_flush_rows``).

    With chunks of 7 rows, 300 requests make 43 chunks whose requests finish
    out of order (three servers; exits): the records must equal those of one
    chunk, value for value and dtype for dtype.
    """
    whole = _records(case)
    monkeypatch.setattr("simulator.engine._RECORD_CHUNK", 7)
    chunked = _records(case)
    assert _digest(chunked) == _digest(whole) == CASES[case][2]
    for name in RECORD_FIELDS:
        assert chunked[name].dtype == whole[name].dtype
