"""docker's container stats JSON: cgroup figures, the network namespace's counters, and the previous sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dockyard.runtime.cgroup_stats import online_cpus, open_stats, system_cpu_usage
from dockyard.util.timeutil import ZERO_TIME, now_rfc3339

_NET_FIELDS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors",
               "tx_dropped")
_NET_COLUMNS = (0, 1, 2, 3, 8, 9, 10, 11)  # positions of those counters in /proc/net/dev


def empty_stats(doc: dict[str, Any]) -> dict[str, Any]:
    """What docker answers for a container that is not running: zero figures, its name and id."""
    zero_cpu = {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    return {"read": ZERO_TIME, "preread": ZERO_TIME, "pids_stats": {}, "blkio_stats": {
        "io_service_bytes_recursive": None, "io_serviced_recursive": None}, "num_procs": 0, "storage_stats": {},
        "cpu_stats": zero_cpu, "precpu_stats": zero_cpu, "memory_stats": {}, "name": doc["Name"], "id": doc["Id"]}


def network_stats(pid: int) -> dict[str, dict[str, int]]:
    """Counters of every interface but lo in the network namespace of `pid` (/proc/<pid>/net/dev)."""
    try:
        lines = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    except OSError:  # the process has just exited
        return {}
    out = {}
    for line in lines:
        name, _, counters = line.partition(":")
        name = name.strip()
        values = counters.split()
        if name == "lo" or len(values) < 12:
            continue
        out[name] = {field: int(values[column]) for field, column in zip(_NET_FIELDS, _NET_COLUMNS)}
    return out


def cgroups_path(bundle: Path) -> str:
    """The container's cgroup path from its OCI config.json."""
    spec = json.loads((bundle / "config.json").read_text())
    return spec.get("linux", {}).get("cgroupsPath", "")


def sample(doc: dict[str, Any], bundle: Path) -> dict[str, Any]:
    """One reading of a running container (precpu/preread left for `with_previous`)."""
    reader = open_stats(cgroups_path(bundle))
    cpu = reader.cpu()
    cpu.update(system_cpu_usage=system_cpu_usage(), online_cpus=online_cpus())
    stats: dict[str, Any] = {
        "read": now_rfc3339(), "preread": ZERO_TIME,
        "pids_stats": reader.pids(), "blkio_stats": reader.blkio(), "num_procs": 0, "storage_stats": {},
        "cpu_stats": cpu, "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "memory_stats": reader.memory(), "name": doc["Name"], "id": doc["Id"],
    }
    if doc["HostConfig"].get("NetworkMode") != "host":
        networks = network_stats(doc["State"]["Pid"])
        if networks:
            stats["networks"] = networks
    return stats


def with_previous(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Fill precpu_stats and preread from the previous reading, as docker's stream does."""
    if previous is not None and previous.get("read") != ZERO_TIME:
        current["precpu_stats"] = previous["cpu_stats"]
        current["preread"] = previous["read"]
    return current
