"""HostConfig as dockerd records and shows it: every field of moby's container.HostConfig in its order, the ones a
client left out rendered as Go's encoder renders a zero value, and the defaults dockerd fills in at create."""

from __future__ import annotations

import copy
from typing import Any

from dockyard.oci.spec import READONLY_PATHS, masked_paths

DEFAULT_SHM_SIZE = 64 * 1024 * 1024  # dockerd's config.DefaultShmSize
DEFAULT_IPC_MODE = "private"  # dockerd's config.DefaultIpcMode

_NULL: Any = None  # a nil slice, map or pointer: Go renders `null`

# moby api/types/container.HostConfig (Resources embedded after Isolation), each with the value Go gives a field
# the request left out. Fields tagged `omitempty` are listed in _OMIT_EMPTY and _OMIT_NIL.
_ZERO: dict[str, Any] = {
    "Binds": _NULL, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": _NULL}, "NetworkMode": "",
    "PortBindings": _NULL, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "AutoRemove": False,
    "VolumeDriver": "", "VolumesFrom": _NULL, "ConsoleSize": [0, 0], "Annotations": _NULL,
    "CapAdd": _NULL, "CapDrop": _NULL, "CgroupnsMode": "", "Dns": _NULL, "DnsOptions": _NULL, "DnsSearch": _NULL,
    "ExtraHosts": _NULL, "GroupAdd": _NULL, "IpcMode": "", "Cgroup": "", "Links": _NULL, "OomScoreAdj": 0,
    "PidMode": "", "Privileged": False, "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": _NULL,
    "StorageOpt": _NULL, "Tmpfs": _NULL, "UTSMode": "", "UsernsMode": "", "ShmSize": 0, "Sysctls": _NULL,
    "Runtime": "", "Isolation": "",
    "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
    "BlkioWeightDevice": _NULL, "BlkioDeviceReadBps": _NULL, "BlkioDeviceWriteBps": _NULL,
    "BlkioDeviceReadIOps": _NULL, "BlkioDeviceWriteIOps": _NULL, "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": _NULL,
    "DeviceCgroupRules": _NULL, "DeviceRequests": _NULL, "KernelMemory": 0, "KernelMemoryTCP": 0,
    "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": _NULL, "OomKillDisable": _NULL,
    "PidsLimit": _NULL, "Ulimits": _NULL, "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0,
    "IOMaximumBandwidth": 0,
    "Mounts": _NULL, "MaskedPaths": _NULL, "ReadonlyPaths": _NULL, "Init": _NULL,
}

_OMIT_EMPTY = ("Annotations", "StorageOpt", "Tmpfs", "Sysctls", "Runtime", "KernelMemory", "KernelMemoryTCP",
               "Mounts")
_OMIT_NIL = ("Init",)  # `omitempty` on a pointer: only nil is left out (a given false is shown)

# Fields Go decodes into a non-pointer scalar or struct: a JSON null leaves the zero value.
_NOT_NULLABLE = tuple(k for k, v in _ZERO.items() if v is not _NULL)


def complete(host: dict[str, Any], cgroup2: bool) -> dict[str, Any]:
    """Every HostConfig field in dockerd's order, with dockerd's create-time defaults (adaptContainerSettings,
    createContainerOSSpecificSettings); fields outside moby's struct are dropped, as Go's decoder drops them."""
    out: dict[str, Any] = {}
    for key, zero in _ZERO.items():
        value = host.get(key)
        if value is None and (key in _NOT_NULLABLE or key not in host):
            value = copy.deepcopy(zero)  # never the table's own list or dict in a record
        if value is None and key in _OMIT_NIL or key in _OMIT_EMPTY and not value:
            continue
        out[key] = value
    _adapt(out, cgroup2)
    return out


def _adapt(out: dict[str, Any], cgroup2: bool) -> None:
    """The values dockerd sets when the request left them empty. Not MemorySwap: dockerd records twice the memory,
    which makes a later `docker update -m` above it fail; the runtime applies that default instead (hostspec)."""
    if out["NetworkMode"] in ("", "default"):
        out["NetworkMode"] = "bridge"
    out["ShmSize"] = out["ShmSize"] or DEFAULT_SHM_SIZE
    out["IpcMode"] = out["IpcMode"] or DEFAULT_IPC_MODE
    if not out["CgroupnsMode"]:
        out["CgroupnsMode"] = "private" if cgroup2 else "host"
    if out["OomKillDisable"] is None:
        out["OomKillDisable"] = False
    if not out["Privileged"]:
        if out["MaskedPaths"] is None:
            out["MaskedPaths"] = list(masked_paths())
        if out["ReadonlyPaths"] is None:
            out["ReadonlyPaths"] = list(READONLY_PATHS)
