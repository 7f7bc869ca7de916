"""Per-replication summary rows: the columns of ``summary.parquet`` (DESIGN.md §9).

Why one function: the CLI, the Python API and the tests must compute every
metric the same way.  Requests arriving before the warm-up count are left
out; a stage a request skipped counts as 0 s in the stage means.
"""

from __future__ import annotations

import numpy as np

from simulator.engine import ReplicationResult

# The metric columns of summary.parquet, in contract order.
METRIC_COLUMNS = (
    "requests", "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_p99_s",
    "device_wait_mean_s", "device_compute_mean_s", "uplink_mean_s", "server_wait_mean_s",
    "server_service_mean_s", "downlink_mean_s", "device_energy_mean_j", "accuracy",
    "exit_rate", "offload_rate", "bytes_up_mean", "split_mean", "deadline_miss_rate",
    "throughput_per_s",
)

_STAGE_MEANS = {
    "device_wait_mean_s": "device_wait_s", "device_compute_mean_s": "device_compute_s",
    "uplink_mean_s": "uplink_s", "server_wait_mean_s": "server_wait_s",
    "server_service_mean_s": "server_service_s", "downlink_mean_s": "downlink_s",
    "device_energy_mean_j": "energy_j", "bytes_up_mean": "bytes_up", "split_mean": "split",
}


def counted(result: ReplicationResult, warmup: int) -> dict[str, np.ndarray]:
    """The records of requests that arrived after the first ``warmup`` arrivals."""
    keep = result.records["request"] >= warmup
    return {name: col[keep] for name, col in result.records.items()}


def summarise(result: ReplicationResult, warmup: int, deadlines: np.ndarray,
              depth: int) -> dict[str, float]:
    """The metric columns for one replication.

    ``deadlines[d]`` is device ``d``'s relative deadline (s), NaN where it has none;
    ``deadline_miss_rate`` is over requests with a deadline (NaN if none has one).
    """
    rec = counted(result, warmup)
    n = len(rec["request"])
    row: dict[str, float] = {"requests": n}
    if n == 0:
        return {col: (0 if col == "requests" else float("nan")) for col in METRIC_COLUMNS}
    latency = rec["latency_s"]
    row["latency_mean_s"] = float(latency.mean())
    p50, p95, p99 = np.percentile(latency, [50, 95, 99])
    row.update(latency_p50_s=float(p50), latency_p95_s=float(p95), latency_p99_s=float(p99))
    for column, source in _STAGE_MEANS.items():
        row[column] = float(rec[source].mean())
    row["accuracy"] = float(rec["correct"].mean())
    row["exit_rate"] = float((rec["exit"] != -1).mean())
    offloaded = (rec["split"] < depth) & ((rec["exit"] == -1) | (rec["exit"] > rec["split"]))
    row["offload_rate"] = float(offloaded.mean())
    limit = deadlines[rec["device"].astype(int)]
    has = ~np.isnan(limit)
    row["deadline_miss_rate"] = (float((latency[has] > limit[has]).mean()) if has.any()
                                 else float("nan"))
    done = rec["arrival_s"] + latency
    span = float(done.max() - rec["arrival_s"].min())
    row["throughput_per_s"] = n / span if span > 0 else float("nan")
    return {col: row[col] for col in METRIC_COLUMNS}
