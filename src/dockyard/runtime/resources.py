"""Translate OCI linux.resources into cgroup control-file writes, for v1 (per controller) and v2 (unified)."""

from __future__ import annotations

from typing import Any

# One write: (controller, file name, value); v2 writes use "" as controller (one directory).
Write = tuple[str, str, str]

_V1_UNLIMITED = "-1"


def _v1_memory(memory: dict[str, Any]) -> list[Write]:
    """memory.*: limit, memory+swap, soft limit, OOM killer switch (limit before memsw: the kernel demands it)."""
    writes: list[Write] = []
    if memory.get("limit") is not None:
        writes.append(("memory", "memory.limit_in_bytes", str(memory["limit"])))
    if memory.get("swap") is not None:
        writes.append(("memory", "memory.memsw.limit_in_bytes", str(memory["swap"])))
    if memory.get("reservation") is not None:
        writes.append(("memory", "memory.soft_limit_in_bytes", str(memory["reservation"])))
    if memory.get("disableOOMKiller") is not None:
        writes.append(("memory", "memory.oom_control", "1" if memory["disableOOMKiller"] else "0"))
    return writes


def _v1_cpu(cpu: dict[str, Any]) -> list[Write]:
    """cpu.shares, CFS period then quota, cpuset cpus/mems."""
    writes: list[Write] = []
    if cpu.get("shares"):
        writes.append(("cpu", "cpu.shares", str(cpu["shares"])))
    if cpu.get("period"):
        writes.append(("cpu", "cpu.cfs_period_us", str(cpu["period"])))
    if cpu.get("quota") is not None:
        quota = cpu["quota"]
        writes.append(("cpu", "cpu.cfs_quota_us", str(quota) if quota > 0 else _V1_UNLIMITED))
    if cpu.get("cpus"):
        writes.append(("cpuset", "cpuset.cpus", cpu["cpus"]))
    if cpu.get("mems"):
        writes.append(("cpuset", "cpuset.mems", cpu["mems"]))
    return writes


def v1_writes(resources: dict[str, Any]) -> list[Write]:
    """Control-file writes on cgroup v1 for everything but devices (see CgroupV1.apply_devices)."""
    writes = _v1_memory(resources.get("memory") or {}) + _v1_cpu(resources.get("cpu") or {})
    pids = resources.get("pids") or {}
    if pids.get("limit") is not None:
        writes.append(("pids", "pids.max", str(pids["limit"]) if pids["limit"] > 0 else "max"))
    weight = (resources.get("blockIO") or {}).get("weight")
    if weight:
        writes.append(("blkio", "blkio.weight", str(weight)))
    return writes


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144) to cpu.weight (1..10000), runc's formula."""
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) to io.weight (1..10000), runc's formula."""
    return 1 + (weight - 10) * 9999 // 990


def _v2_max(value: int) -> str:
    """A v2 limit: "max" for unlimited (-1 or 0 for pids)."""
    return "max" if value < 0 else str(value)


def _v2_memory(memory: dict[str, Any]) -> list[Write]:
    """memory.max, memory.swap.max (OCI swap is memory+swap, v2's is swap alone), memory.low."""
    writes: list[Write] = []
    limit = memory.get("limit")
    if limit is not None:
        writes.append(("", "memory.max", _v2_max(limit)))
    swap = memory.get("swap")
    if swap is not None:
        if swap < 0 or limit is None or limit < 0:
            writes.append(("", "memory.swap.max", _v2_max(swap)))
        else:
            writes.append(("", "memory.swap.max", str(max(swap - limit, 0))))
    if memory.get("reservation") is not None:
        writes.append(("", "memory.low", str(max(memory["reservation"], 0))))
    if memory.get("disableOOMKiller"):
        raise ValueError("cgroup v2 cannot disable the OOM killer")
    return writes


def _v2_cpu(cpu: dict[str, Any]) -> list[Write]:
    """cpu.weight, cpu.max "quota period", cpuset cpus/mems."""
    writes: list[Write] = []
    if cpu.get("shares"):
        writes.append(("", "cpu.weight", str(shares_to_weight(cpu["shares"]))))
    if cpu.get("quota") is not None or cpu.get("period"):
        quota = cpu.get("quota")
        period = cpu.get("period") or 100000
        writes.append(("", "cpu.max", f"{quota if quota and quota > 0 else 'max'} {period}"))
    if cpu.get("cpus"):
        writes.append(("", "cpuset.cpus", cpu["cpus"]))
    if cpu.get("mems"):
        writes.append(("", "cpuset.mems", cpu["mems"]))
    return writes


def v2_writes(resources: dict[str, Any]) -> list[Write]:
    """Control-file writes on the unified hierarchy for everything but devices."""
    writes = _v2_memory(resources.get("memory") or {}) + _v2_cpu(resources.get("cpu") or {})
    pids = resources.get("pids") or {}
    if pids.get("limit") is not None:
        writes.append(("", "pids.max", str(pids["limit"]) if pids["limit"] > 0 else "max"))
    weight = (resources.get("blockIO") or {}).get("weight")
    if weight:
        writes.append(("", "io.weight", f"default {blkio_to_io_weight(weight)}"))
    return writes


def v1_device_entry(rule: dict[str, Any]) -> tuple[str, str]:
    """(devices.allow|devices.deny, "type major:minor access") for one OCI device rule."""
    kind = rule.get("type", "a")
    major = "*" if rule.get("major") is None else str(rule["major"])
    minor = "*" if rule.get("minor") is None else str(rule["minor"])
    entry = "a" if kind == "a" else f"{kind} {major}:{minor} {rule.get('access', 'rwm')}"
    return ("devices.allow" if rule.get("allow") else "devices.deny"), entry
