"""docker's container stats JSON: cgroup figures, the network namespace's counters, and the previous sample."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncGenerator

from dockyard.containers.record import ContainerRecord
from dockyard.errors import Conflict, NotFound, SystemError_
from dockyard.runtime.cgroup_stats import online_cpus, open_stats, system_cpu_usage
from dockyard.util.aio import run_blocking
from dockyard.util.timeutil import ZERO_TIME, now_rfc3339

_NET_FIELDS = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors",
               "tx_dropped")
_NET_COLUMNS = (0, 1, 2, 3, 8, 9, 10, 11)  # positions of those counters in /proc/net/dev
INTERVAL = 1.0

if TYPE_CHECKING:
    from dockyard.containers.service import ContainerService


def empty_stats(doc: ContainerRecord) -> dict[str, Any]:
    """What docker answers for a container that is not running: zero figures, its name and id."""
    zero_cpu = {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    return {"read": ZERO_TIME, "preread": ZERO_TIME, "pids_stats": {}, "blkio_stats": {
        "io_service_bytes_recursive": None, "io_serviced_recursive": None}, "num_procs": 0, "storage_stats": {},
        "cpu_stats": zero_cpu, "precpu_stats": zero_cpu, "memory_stats": {}, "name": doc.name, "id": doc.id}


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


def sample(doc: ContainerRecord, bundle: Path) -> dict[str, Any]:
    """One reading of a running container (precpu/preread left for `with_previous`)."""
    reader = open_stats(cgroups_path(bundle))
    cpu = reader.cpu()
    cpu.update(system_cpu_usage=system_cpu_usage(), online_cpus=online_cpus())
    stats: dict[str, Any] = {
        "read": now_rfc3339(), "preread": ZERO_TIME,
        "pids_stats": reader.pids(), "blkio_stats": reader.blkio(), "num_procs": 0, "storage_stats": {},
        "cpu_stats": cpu, "precpu_stats": {"cpu_usage": {"total_usage": 0}, "throttling_data": {}},
        "memory_stats": reader.memory(), "name": doc.name, "id": doc.id,
    }
    if doc.host_config.get("NetworkMode") != "host":
        networks = network_stats(doc.state.pid)
        if networks:
            stats["networks"] = networks
    return stats


def with_previous(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """Fill precpu_stats and preread from the previous reading, as docker's stream does."""
    if previous is not None and previous.get("read") != ZERO_TIME:
        current["precpu_stats"] = previous["cpu_stats"]
        current["preread"] = previous["read"]
    return current


class ContainerStats:
    """GET /containers/{id}/stats: one reading, two readings a second apart, or a reading each second."""

    def __init__(self, containers: ContainerService) -> None:
        self._containers = containers

    async def _reading(self, ref: str) -> dict[str, Any] | None:
        """A sample of a running container; None when it is not running (or stops meanwhile)."""
        doc = await run_blocking(self._containers.record, ref)
        if not doc.state.running:
            return None
        try:
            return await run_blocking(sample, doc, self._containers.bundle(doc.id))
        except (FileNotFoundError, Conflict, SystemError_):  # it exited between inspect and the reading
            return None

    async def once(self, ref: str, one_shot: bool) -> dict[str, Any]:
        """stream=0: docker's StatsJSON, with precpu from a reading a second earlier unless `one_shot`."""
        doc = await run_blocking(self._containers.record, ref)
        first = await self._reading(ref)
        if first is None:
            return empty_stats(doc)
        if one_shot:
            return first
        await asyncio.sleep(INTERVAL)
        second = await self._reading(ref)
        return with_previous(second, first) if second is not None else first

    async def stream(self, ref: str) -> AsyncGenerator[dict[str, Any], None]:
        """stream=1: NotFound raises here; then a reading each second while the container runs (nothing while it
        is stopped, as docker), until it is removed."""
        await run_blocking(self._containers.record, ref)
        return self._readings(ref)

    async def _readings(self, ref: str) -> AsyncGenerator[dict[str, Any], None]:
        """The readings of `stream`, each with precpu from the one before."""
        previous = None
        while True:
            try:
                current = await self._reading(ref)
            except NotFound:  # removed: the stream ends, as docker's does
                return
            if current is not None:
                yield with_previous(current, previous)
            previous = current
            await asyncio.sleep(INTERVAL)
