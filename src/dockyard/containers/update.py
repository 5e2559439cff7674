"""docker update: validate new limits, write them into a running container's cgroup, keep them in HostConfig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dockyard.containers.config import check_limit_types, check_resource_ranges
from dockyard.containers.host_features import discard_unsupported
from dockyard.containers.hostspec import resources_of
from dockyard.containers.record import ContainerRecord
from dockyard.errors import InvalidParameter, SystemError_
from dockyard.runtime.cgroups import open_cgroup

# Fields of the update body (container.UpdateConfig) this daemon applies; 0/"" means "leave unchanged".
UPDATABLE = ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota",
             "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "RestartPolicy")


def changes_of(body: Any) -> dict[str, Any]:
    """The HostConfig changes an update body asks for (null, 0 and "" leave a field unchanged)."""
    if not isinstance(body, dict):
        raise InvalidParameter("json: cannot unmarshal into Go value of type container.UpdateConfig")
    changes = {k: body[k] for k in UPDATABLE if body.get(k) not in (None, 0, "", {})}
    check_limit_types(changes)
    return changes


def drop_unsupported(changes: dict[str, Any]) -> list[str]:
    """Docker's warnings for changes this host cannot apply; those changes are removed."""
    warnings = discard_unsupported(changes)
    for key in [k for k, v in changes.items() if v in (None, 0)]:
        del changes[key]
    return warnings


def _cgroup_of(bundle: Path) -> Any:
    """The cgroup named in a running container's config.json."""
    spec = json.loads((bundle / "config.json").read_text())
    path = spec.get("linux", {}).get("cgroupsPath", "")
    if not path:
        raise SystemError_("the container has no cgroup")
    return open_cgroup(path)


def apply_update(doc: ContainerRecord, changes: dict[str, Any], bundle: Path) -> dict[str, Any]:
    """Check the merged HostConfig, program the cgroup of a running container, return the changes to save."""
    merged = {**doc.host_config, **changes}
    if changes.get("RestartPolicy", {}).get("Name") not in (None, "", "no") and merged.get("AutoRemove"):
        raise InvalidParameter("Restart policy cannot be updated because AutoRemove is enabled for the container")
    if changes.get("CpuQuota") and doc.host_config.get("NanoCpus"):
        raise InvalidParameter("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
    if changes.get("NanoCpus") and doc.host_config.get("CpuQuota"):
        raise InvalidParameter("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
    check_resource_ranges(merged)
    if doc.state.running:
        try:
            _cgroup_of(bundle).apply_resources(resources_of(merged))
        except OSError as exc:
            raise SystemError_(f"Cannot update container {doc.id}: {exc}") from exc
    return changes
