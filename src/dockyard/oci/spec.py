"""Builds an OCI runtime-spec config (config.json) with Docker's defaults."""

from __future__ import annotations

import functools
import os
from typing import Any, Iterable

OCI_VERSION = "1.1.0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # a process's PATH unless set

DEFAULT_CAPABILITIES: list[str] = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

# Every capability name, indexed by number (linux/capability.h).
ALL_CAPABILITIES: list[str] = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]

MASKED_PATHS: list[str] = [
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
]


@functools.cache
def masked_paths() -> list[str]:
    """Docker's masked paths: the fixed list plus each possible CPU's thermal_throttle directory that exists."""
    with open("/sys/devices/system/cpu/possible", encoding="ascii") as possible:
        ranges = possible.read().strip()
    cpus: list[int] = []
    for part in filter(None, ranges.split(",")):
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    throttles = [f"/sys/devices/system/cpu/cpu{cpu}/thermal_throttle" for cpu in cpus]
    return MASKED_PATHS + [path for path in throttles if os.path.exists(path)]


READONLY_PATHS: list[str] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# Docker's default device cgroup rules: deny all, then allow the standard character devices.
_DEFAULT_DEVICE_RULES: list[tuple[str, int | None, int | None, str]] = [
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 8, "rwm"), ("c", 1, 7, "rwm"), ("c", 5, 0, "rwm"), ("c", 1, 5, "rwm"),
    ("c", 1, 9, "rwm"), ("c", 5, 1, "rwm"), ("c", 136, None, "rwm"), ("c", 5, 2, "rwm"), ("c", 10, 200, "rwm"),
]


def _mount(dest: str, mtype: str, source: str, options: list[str]) -> dict[str, Any]:
    """One OCI mount entry."""
    return {"destination": dest, "type": mtype, "source": source, "options": options}


def default_mounts(privileged: bool) -> list[dict[str, Any]]:
    """Docker's default mounts: /proc, /dev, /dev/pts, /sys, /sys/fs/cgroup, /dev/mqueue, /dev/shm."""
    rw = "rw" if privileged else "ro"
    return [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount("/dev/pts", "devpts", "devpts",
               ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", rw]),
        _mount("/sys/fs/cgroup", "cgroup", "cgroup", [rw, "nosuid", "noexec", "nodev"]),
        _mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        _mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
    ]


def _device_rules(privileged: bool) -> list[dict[str, Any]]:
    """The linux.resources.devices allow-list (everything when privileged)."""
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for kind, major, minor, access in _DEFAULT_DEVICE_RULES:
        rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major is not None:
            rule["major"] = major
        if minor is not None:
            rule["minor"] = minor
        rules.append(rule)
    return rules


def _shared_namespaces(namespaces: list[dict[str, Any]], paths: dict[str, str | None]) -> list[dict[str, Any]]:
    """Apply per-type overrides: None drops the namespace (host's), a path joins it, "" creates a new one."""
    out = [ns for ns in namespaces if ns["type"] not in paths]
    for kind, path in paths.items():
        if path is not None:
            out.append({"type": kind, "path": path} if path else {"type": kind})
    return out


def _sized_shm(mounts: list[dict[str, Any]], size: int | None) -> list[dict[str, Any]]:
    """Default mounts with /dev/shm's size option replaced (--shm-size) when a size is given."""
    for m in mounts if size else []:
        if m["destination"] == "/dev/shm":
            m["options"] = [o for o in m["options"] if not o.startswith("size=")] + [f"size={size}"]
    return mounts


def build_spec(*, args: list[str], env: list[str], cwd: str = "/", uid: int = 0, gid: int = 0,
               additional_gids: Iterable[int] = (), hostname: str = "", terminal: bool = False,
               readonly_rootfs: bool = False, mounts: Iterable[dict] = (),
               network_mode: str = "none", cgroups_path: str = "",
               capabilities: list[str] | None = None, privileged: bool = False,
               rlimits: Iterable[dict] = (), no_new_privileges: bool = False,
               annotations: dict[str, str] | None = None, resources: dict[str, Any] | None = None,
               devices: Iterable[dict] = (), device_rules: Iterable[dict] = (),
               seccomp: dict[str, Any] | None = None, sysctls: dict[str, str] | None = None,
               namespace_paths: dict[str, str | None] | None = None, shm_size: int | None = None,
               oom_score_adj: int | None = None) -> dict[str, Any]:
    """Return an OCI runtime-spec 1.1.0 config for one container process, Docker's defaults applied.

    resources: linux.resources limits (memory/cpu/pids/blockIO); devices: linux.devices nodes, with
    device_rules added to the cgroup allow-list; namespace_paths: per namespace type, a path to join
    or None to share the host's ("cgroup": "" asks for a private cgroup namespace)."""
    if privileged:
        caps = list(ALL_CAPABILITIES)
    else:
        caps = list(DEFAULT_CAPABILITIES if capabilities is None else capabilities)
    namespaces = [{"type": t} for t in ("mount", "pid", "uts", "ipc")]
    sysctl: dict[str, str] = {}
    if network_mode != "host":
        # "none": a new empty namespace; a path: join the namespace pinned there (the network service's)
        namespaces.append({"type": "network", "path": network_mode} if network_mode.startswith("/")
                          else {"type": "network"})
        sysctl = {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"}
    namespaces = _shared_namespaces(namespaces, namespace_paths or {})
    sysctl.update(sysctls or {})
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "resources": {**(resources or {}), "devices": _device_rules(privileged) + [dict(r) for r in device_rules]},
        "devices": [dict(d) for d in devices],
        "sysctl": sysctl,
        "maskedPaths": [] if privileged else list(masked_paths()),
        "readonlyPaths": [] if privileged else list(READONLY_PATHS),
    }
    if cgroups_path:
        linux["cgroupsPath"] = cgroups_path
    if seccomp is not None:
        linux["seccomp"] = seccomp
    process_mounts = _sized_shm(default_mounts(privileged), shm_size)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": terminal,
            "user": {"uid": uid, "gid": gid, "additionalGids": list(additional_gids)},
            "args": list(args),
            "env": list(env),
            "cwd": cwd or "/",
            "capabilities": {"bounding": caps, "effective": list(caps), "permitted": list(caps)},
            "rlimits": [dict(r) for r in rlimits],
            "noNewPrivileges": no_new_privileges,
            **({} if oom_score_adj is None else {"oomScoreAdj": oom_score_adj}),
        },
        "root": {"path": "rootfs", "readonly": readonly_rootfs},
        "hostname": hostname,
        "mounts": process_mounts + [dict(m) for m in mounts],
        "annotations": dict(annotations or {}),
        "linux": linux,
    }
