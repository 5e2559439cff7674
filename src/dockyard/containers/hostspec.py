"""HostConfig limits and security knobs turned into build_spec arguments, with docker's rules and messages."""

from __future__ import annotations

import os
import resource
import stat
from pathlib import Path
from typing import Any, Callable

from dockyard.containers.record import ContainerRecord
from dockyard.errors import InvalidParameter, RuntimeFailure
from dockyard.oci.spec import ALL_CAPABILITIES, DEFAULT_CAPABILITIES, build_spec
from dockyard.runtime.seccomp import SeccompError, compile_profile, load_profile

Lookup = Callable[[str], ContainerRecord]

_DEFAULT_SWAP_FACTOR = 2
_CPU_PERIOD = 100000
_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
_DEV_SKIP = ("pts", "shm", "mqueue", "fd")


def memory_resources(host: dict[str, Any]) -> dict[str, Any]:
    """linux.resources.memory: docker gives a container with -m and no --memory-swap twice the memory as swap."""
    memory: dict[str, Any] = {}
    limit, swap = host.get("Memory") or 0, host.get("MemorySwap") or 0
    if limit > 0:
        memory["limit"] = limit
        memory["swap"] = swap if swap else limit * _DEFAULT_SWAP_FACTOR
    elif swap:
        memory["swap"] = swap
    if host.get("MemoryReservation"):
        memory["reservation"] = host["MemoryReservation"]
    if host.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    return memory


def cpu_resources(host: dict[str, Any]) -> dict[str, Any]:
    """linux.resources.cpu: --cpus becomes a CFS quota over a 100ms period."""
    cpu: dict[str, Any] = {}
    if host.get("CpuShares"):
        cpu["shares"] = host["CpuShares"]
    if host.get("NanoCpus"):
        cpu["period"] = _CPU_PERIOD
        cpu["quota"] = host["NanoCpus"] * _CPU_PERIOD // 1_000_000_000
    if host.get("CpuPeriod"):
        cpu["period"] = host["CpuPeriod"]
    if host.get("CpuQuota"):
        cpu["quota"] = host["CpuQuota"]
    if host.get("CpusetCpus"):
        cpu["cpus"] = host["CpusetCpus"]
    if host.get("CpusetMems"):
        cpu["mems"] = host["CpusetMems"]
    return cpu


def resources_of(host: dict[str, Any]) -> dict[str, Any]:
    """OCI linux.resources (without devices) for a validated HostConfig."""
    resources: dict[str, Any] = {}
    memory, cpu = memory_resources(host), cpu_resources(host)
    if memory:
        resources["memory"] = memory
    if cpu:
        resources["cpu"] = cpu
    if host.get("PidsLimit"):
        resources["pids"] = {"limit": host["PidsLimit"] if host["PidsLimit"] > 0 else -1}
    if host.get("BlkioWeight"):
        resources["blockIO"] = {"weight": host["BlkioWeight"]}
    return resources


def _cap_name(name: str) -> str:
    """Docker's capability normalisation: upper case, CAP_ prefix; an unknown one is an error."""
    upper = name.upper()
    if upper == "ALL":
        return upper
    full = upper if upper.startswith("CAP_") else "CAP_" + upper
    if full not in ALL_CAPABILITIES:
        raise InvalidParameter(f'unknown capability: "{full}"')
    return full


def capabilities_of(host: dict[str, Any]) -> list[str]:
    """Docker's TweakCapabilities: ALL added keeps all but the drops; ALL dropped keeps only the adds."""
    if host.get("Privileged"):
        return list(ALL_CAPABILITIES)
    adds = [_cap_name(c) for c in host.get("CapAdd") or []]
    drops = [_cap_name(c) for c in host.get("CapDrop") or []]
    if "ALL" in adds:
        return [c for c in ALL_CAPABILITIES if c not in drops]
    if "ALL" in drops:
        return list(dict.fromkeys(adds))
    kept = [c for c in DEFAULT_CAPABILITIES if c not in drops]
    return list(dict.fromkeys(kept + adds))


def security_options(host: dict[str, Any]) -> dict[str, Any]:
    """Parse --security-opt: seccomp profile (JSON text) or unconfined, no-new-privileges, systempaths."""
    out: dict[str, Any] = {"seccomp": None, "no_new_privileges": False, "unconfined_paths": False}
    for opt in host.get("SecurityOpt") or []:
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if key == "no-new-privileges":
            if value not in ("", "true", "false"):
                raise InvalidParameter(f"invalid --security-opt 2: {opt!r}")
            out["no_new_privileges"] = value != "false"
        elif key == "seccomp" and sep:
            out["seccomp"] = value
        elif key == "systempaths" and value == "unconfined":
            out["unconfined_paths"] = True
        elif key in ("label", "apparmor") and sep:
            continue  # no SELinux or AppArmor on this host: accepted and ignored, as dockerd does without them
        else:
            raise InvalidParameter(f"invalid --security-opt 1: {opt!r}")
    return out


def seccomp_of(host: dict[str, Any], caps: list[str], profile_text: str | None) -> dict[str, Any] | None:
    """The OCI seccomp section: docker's default profile, a custom one, or none (unconfined or privileged)."""
    if host.get("Privileged") or profile_text == "unconfined":
        return None
    try:
        return compile_profile(load_profile(None if profile_text in (None, "", "builtin") else profile_text), caps)
    except SeccompError as exc:
        raise InvalidParameter(str(exc)) from exc


def _device_entry(host_path: str, container_path: str, perms: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One linux.devices node and its cgroup allow rule for a host device file."""
    st = os.stat(host_path)
    kind = "b" if stat.S_ISBLK(st.st_mode) else "c"
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    node = {"path": container_path, "type": kind, "major": major, "minor": minor,
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "hostPath": host_path}
    return node, {"allow": True, "type": kind, "major": major, "minor": minor, "access": perms}


def _device_files(root: str) -> list[str]:
    """Every character or block device below a directory (or the file itself), symlinks skipped."""
    if not os.path.isdir(root):
        return [root]
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (dirpath == "/dev" and d in _DEV_SKIP)]
        for name in filenames:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                found.append(path)
    return found


def _custom_devices(dev: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Nodes and rules for one --device (a directory adds every device below it)."""
    src = dev.get("PathOnHost", "")
    dst = dev.get("PathInContainer") or src
    perms = dev.get("CgroupPermissions") or "rwm"
    try:
        return [_device_entry(f, dst + f[len(src):], perms) for f in _device_files(src)]
    except OSError as exc:
        raise RuntimeFailure(f'error gathering device information while adding custom device "{src}": '
                             f"{os.strerror(exc.errno or 0).lower()}") from exc


def devices_of(host: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(linux.devices, cgroup allow rules) for --device entries, plus every host device when privileged."""
    entries = [_device_entry(p, p, "rwm") for p in _device_files("/dev")] if host.get("Privileged") else []
    for dev in host.get("Devices") or []:
        entries += _custom_devices(dev)
    rules = [] if host.get("Privileged") else [e[1] for e in entries]
    return [e[0] for e in entries], rules


def rlimits_of(host: dict[str, Any]) -> list[dict[str, Any]]:
    """OCI process.rlimits from --ulimit entries."""
    out = []
    for ul in host.get("Ulimits") or []:
        kind = "RLIMIT_" + str(ul.get("Name", "")).upper()
        if not hasattr(resource, kind):
            raise InvalidParameter(f"invalid ulimit type: {ul.get('Name')}")
        out.append({"type": kind, "soft": int(ul.get("Soft", 0)), "hard": int(ul.get("Hard", 0))})
    return out


def _running_pid(lookup: Lookup, ref: str, what: str) -> int:
    """Host pid of another running container, for joining its namespace."""
    doc = lookup(ref)
    if not doc.state.running:
        raise InvalidParameter(f"cannot join {what} of a non running container: {doc.id}")
    return int(doc.state.pid)


def network_of(host: dict[str, Any], sandbox_key: str, lookup: Lookup) -> str:
    """The network namespace to run in: "host", another running container's (container:<id>), the sandbox's
    pinned one, or "none" (a fresh empty one)."""
    mode = host.get("NetworkMode") or ""
    if mode == "host":
        return "host"
    if mode.startswith("container:"):
        return f"/proc/{_running_pid(lookup, mode.partition(':')[2], 'network')}/ns/net"
    return sandbox_key or "none"


def namespaces_of(host: dict[str, Any], lookup: Lookup) -> dict[str, str | None]:
    """Namespace overrides for --ipc, --pid, --uts (host or container:NAME) and --cgroupns private."""
    out: dict[str, str | None] = {}
    for key, kind, what in (("IpcMode", "ipc", "IPC"), ("PidMode", "pid", "PID"), ("UTSMode", "uts", "UTS")):
        mode = host.get(key) or ""
        if mode == "host":
            out[kind] = None
        elif mode.startswith("container:"):
            out[kind] = f"/proc/{_running_pid(lookup, mode.split(':', 1)[1], what)}/ns/{kind}"
    if host.get("CgroupnsMode") == "private":
        out["cgroup"] = ""
    return out


def sysctls_of(host: dict[str, Any]) -> dict[str, str]:
    """--sysctl values: only namespaced ones (IPC unless --ipc host, net.* unless --network host)."""
    sysctls = dict(host.get("Sysctls") or {})
    for key in sysctls:
        ipc = key in _IPC_SYSCTLS or key.startswith("fs.mqueue.")
        if ipc and host.get("IpcMode") == "host":
            raise InvalidParameter(f"sysctl '{key}' is not allowed in host IPC namespace")
        if key.startswith("net.") and host.get("NetworkMode") == "host":
            raise InvalidParameter(f"sysctl '{key}' not allowed in host network namespace")
        if not ipc and not key.startswith("net."):
            raise InvalidParameter(f"sysctl '{key}' is not allowed")
    return sysctls


def build(host: dict[str, Any], lookup: Lookup, userns: list[dict[str, int]] | None = None,
          **kwargs: Any) -> dict[str, Any]:
    """build_spec with the container service's arguments plus everything HostConfig asks for; `userns`: id
    mappings of a private user namespace."""
    caps = capabilities_of(host)
    sec = security_options(host)
    devices, device_rules = devices_of(host)
    namespaces = namespaces_of(host, lookup)
    if host.get("CgroupParent"):
        kwargs["cgroups_path"] = f"/{host['CgroupParent'].strip('/')}/{Path(kwargs['cgroups_path']).name}"
    if "uts" in namespaces:
        kwargs["hostname"] = ""  # never set the name of a namespace that is not the container's own
    spec = build_spec(
        **kwargs, capabilities=caps, resources=resources_of(host), devices=devices, device_rules=device_rules,
        seccomp=seccomp_of(host, caps, sec["seccomp"]), sysctls=sysctls_of(host), namespace_paths=namespaces,
        shm_size=host.get("ShmSize") or None, rlimits=rlimits_of(host), no_new_privileges=sec["no_new_privileges"],
        oom_score_adj=host.get("OomScoreAdj") or None,
    )
    if sec["unconfined_paths"]:
        spec["linux"]["maskedPaths"], spec["linux"]["readonlyPaths"] = [], []
    elif not host.get("Privileged"):  # HostConfig's lists replace the defaults (dockerd fills them in at create)
        for key, field in (("maskedPaths", "MaskedPaths"), ("readonlyPaths", "ReadonlyPaths")):
            if host.get(field) is not None:
                spec["linux"][key] = list(host[field])
    if userns:
        spec["linux"]["namespaces"].append({"type": "user"})
        spec["linux"]["uidMappings"], spec["linux"]["gidMappings"] = userns, [dict(m) for m in userns]
    return spec
