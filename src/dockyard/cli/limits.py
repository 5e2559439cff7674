"""Resource-limit and security flags of run/create (HostConfig fields) and the `update` command."""

from __future__ import annotations

from dockyard.cli.context import CommandError
from dockyard.cli.flags import Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}

RESOURCE_FLAGS = [
    Flag("memory", "m", "string", help="Memory limit"),
    Flag("memory-swap", "", "string", help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    Flag("memory-reservation", "", "string", help="Memory soft limit"),
    Flag("cpus", "", "string", help="Number of CPUs"),
    Flag("cpu-shares", "c", "int", help="CPU shares (relative weight)"),
    Flag("cpu-period", "", "int", help="Limit CPU CFS (Completely Fair Scheduler) period"),
    Flag("cpu-quota", "", "int", help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    Flag("cpuset-cpus", "", "string", help="CPUs in which to allow execution (0-3, 0,1)"),
    Flag("cpuset-mems", "", "string", help="MEMs in which to allow execution (0-3, 0,1)"),
    Flag("pids-limit", "", "int", help="Tune container pids limit (set -1 for unlimited)"),
    Flag("blkio-weight", "", "int", help="Block IO (relative weight), between 10 and 1000, or 0 to disable"),
]
CREATE_LIMIT_FLAGS = RESOURCE_FLAGS + [
    Flag("oom-kill-disable", "", help="Disable OOM Killer"),
    Flag("oom-score-adj", "", "int", help="Tune host's OOM preferences (-1000 to 1000)"),
    Flag("cgroup-parent", "", "string", help="Optional parent cgroup for the container"),
    Flag("cgroupns", "", "string", help="Cgroup namespace to use (host|private)"),
    Flag("cap-add", "", "list", help="Add Linux capabilities"),
    Flag("cap-drop", "", "list", help="Drop Linux capabilities"),
    Flag("privileged", "", help="Give extended privileges to this container"),
    Flag("security-opt", "", "list", help="Security Options"),
    Flag("read-only", "", help="Mount the container's root filesystem as read only"),
    Flag("device", "", "list", help="Add a host device to the container"),
    Flag("ulimit", "", "list", help="Ulimit options"),
    Flag("sysctl", "", "list", help="Sysctl options"),
    Flag("shm-size", "", "string", help="Size of /dev/shm"),
    Flag("ipc", "", "string", help="IPC mode to use"),
    Flag("pid", "", "string", help="PID namespace to use"),
    Flag("uts", "", "string", help="UTS namespace to use"),
    Flag("group-add", "", "list", help="Add additional groups to join"),
    Flag("userns", "", "string", help="User namespace to use"),
]


def ram_in_bytes(text: str) -> int:
    """docker's RAMInBytes: "32m" -> 33554432 (binary units, optional trailing b)."""
    import re
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)b?", text.strip().lower())
    if not match:
        raise CommandError(f"invalid size: '{text}'", 125)
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def _memory(text: str | None) -> int:
    """A size flag; "-1" stays -1 (unlimited swap)."""
    if not text:
        return 0
    return -1 if text.strip() == "-1" else ram_in_bytes(text)


def _nano_cpus(text: str | None) -> int:
    """--cpus 0.5 -> 500000000."""
    if not text:
        return 0
    try:
        return int(round(float(text) * 1e9))
    except ValueError:
        raise CommandError(f'invalid argument "{text}" for "--cpus" flag: failed to parse {text} as a '
                           "rational number", 125) from None


def resources(o: dict[str, Any]) -> dict[str, Any]:
    """The resource fields shared by create and update."""
    return {
        "Memory": _memory(o["memory"]), "MemorySwap": _memory(o["memory_swap"]),
        "MemoryReservation": _memory(o["memory_reservation"]), "NanoCpus": _nano_cpus(o["cpus"]),
        "CpuShares": o["cpu_shares"] or 0, "CpuPeriod": o["cpu_period"] or 0, "CpuQuota": o["cpu_quota"] or 0,
        "CpusetCpus": o["cpuset_cpus"] or "", "CpusetMems": o["cpuset_mems"] or "",
        "PidsLimit": o["pids_limit"], "BlkioWeight": o["blkio_weight"] or 0,
    }


def _ulimit(text: str) -> dict[str, Any]:
    """nofile=1024[:2048] -> {"Name", "Soft", "Hard"}."""
    name, sep, values = text.partition("=")
    soft, _, hard = values.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError:
        raise CommandError(f'invalid argument "{text}" for "--ulimit" flag: invalid ulimit argument', 125) from None


def _device(text: str) -> dict[str, str]:
    """/dev/x[:/dev/y][:rwm] -> a DeviceMapping."""
    parts = text.split(":")
    perms = parts.pop() if len(parts) > 1 and set(parts[-1]) <= set("rwm") else "rwm"
    return {"PathOnHost": parts[0], "PathInContainer": parts[1] if len(parts) > 1 else parts[0],
            "CgroupPermissions": perms}


def _security_opt(text: str) -> str:
    """seccomp=FILE is sent as the file's JSON content, as the docker CLI does."""
    key, sep, value = text.partition("=")
    if key != "seccomp" or value in ("unconfined", "builtin", ""):
        return text
    try:
        with open(value, encoding="utf-8") as fh:
            return f"seccomp={fh.read()}"
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise CommandError(f"opening seccomp profile ({value}) failed: {reason}", 125) from None


def host_config(o: dict[str, Any]) -> dict[str, Any]:
    """HostConfig fields for the limit and security flags of run/create."""
    host = resources(o)
    host.update({
        "OomKillDisable": o["oom_kill_disable"], "OomScoreAdj": o["oom_score_adj"] or 0,
        "CgroupParent": o["cgroup_parent"] or "", "CgroupnsMode": o["cgroupns"] or "",
        "CapAdd": o["cap_add"] or None, "CapDrop": o["cap_drop"] or None, "Privileged": o["privileged"],
        "SecurityOpt": [_security_opt(s) for s in o["security_opt"]] or None, "ReadonlyRootfs": o["read_only"],
        "Devices": [_device(d) for d in o["device"]], "Ulimits": [_ulimit(u) for u in o["ulimit"]] or None,
        "Sysctls": dict(s.partition("=")[::2] for s in o["sysctl"]) or None,
        "ShmSize": ram_in_bytes(o["shm_size"]) if o["shm_size"] else 0,
        "IpcMode": o["ipc"] or "", "PidMode": o["pid"] or "", "UTSMode": o["uts"] or "",
        "GroupAdd": o["group_add"] or None, "UsernsMode": o["userns"] or "",
    })
    return host


UPDATE_FLAGS = RESOURCE_FLAGS + [Flag("restart", "", "string", help="Restart policy to apply when a container exits")]


def _update(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker update: POST /containers/{id}/update for each container."""
    from dockyard.cli.containers import _path, for_each
    body = resources(o)
    if o["restart"]:
        name, _, count = o["restart"].partition(":")
        body["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(count or 0)}

    def act(name: str) -> str:
        ctx.api.post(_path(name, "update"), None, body)
        return name
    return for_each(ctx, args, act)


UPDATE = Command("update", "update [OPTIONS] CONTAINER [CONTAINER...]",
                 "Update configuration of one or more containers", _update,
                 UPDATE_FLAGS,
                 min_args=1)
