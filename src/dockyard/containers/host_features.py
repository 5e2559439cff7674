"""Limits this host's cgroups may not support; docker's warnings when it drops such a value instead of failing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.runtime.cgroups import DEFAULT_ROOT, is_cgroup2

BLKIO_WEIGHT_WARNING = "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
OOM_KILL_DISABLE_WARNING = "Your kernel does not support OomKillDisable. OomKillDisable discarded."


@dataclass(frozen=True)
class CgroupFeatures:
    """What the mounted cgroup hierarchy can do, as docker's sysinfo sees it."""

    blkio_weight: bool
    oom_kill_disable: bool


def detect(root: Path = DEFAULT_ROOT) -> CgroupFeatures:
    """v2: io weight when the io controller is available, never an OOM-killer switch; v1: the control files."""
    if is_cgroup2(root):
        controllers = (root / "cgroup.controllers").read_text().split()
        return CgroupFeatures(blkio_weight="io" in controllers, oom_kill_disable=False)
    blkio = root / "blkio"
    return CgroupFeatures(blkio_weight=(blkio / "blkio.weight").exists() or (blkio / "blkio.bfq.weight").exists(),
                          oom_kill_disable=(root / "memory" / "memory.oom_control").exists())


def discard_unsupported(host: dict[str, Any], features: CgroupFeatures | None = None) -> list[str]:
    """Drop BlkioWeight / OomKillDisable from `host` when unsupported and return docker's warnings for them."""
    if not host.get("BlkioWeight") and host.get("OomKillDisable") is None:
        return []
    found = features or detect()
    warnings: list[str] = []
    if host.get("BlkioWeight") and not found.blkio_weight:
        warnings.append(BLKIO_WEIGHT_WARNING)
        host["BlkioWeight"] = 0
    if host.get("OomKillDisable") is not None and not found.oom_kill_disable:
        if host["OomKillDisable"]:
            warnings.append(OOM_KILL_DISABLE_WARNING)
        host["OomKillDisable"] = None
    return warnings
