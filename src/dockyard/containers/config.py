"""Validate a create request and merge it with the image's config exactly as docker does."""

from __future__ import annotations

import os
from typing import Any

from dockyard.containers import hostspec, userns_ids
from dockyard.containers.health import validate_healthcheck
from dockyard.containers.logdrivers import validate_log_config
from dockyard.containers.restart import validate_restart_policy
from dockyard.containers.runtime_options import validate_runtime
from dockyard.errors import InvalidParameter

_STR_SLICES = ("Cmd", "Entrypoint", "Shell")  # docker's StrSlice: a string is accepted too
_STR_LISTS = ("Env", "OnBuild")
_STR_MAPS = ("Labels",)
_BOOLS = ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce", "NetworkDisabled")
_STRS = ("Hostname", "Domainname", "User", "Image", "WorkingDir", "StopSignal", "MacAddress")
_HOST_STRS = ("NetworkMode", "IpcMode", "PidMode", "UTSMode", "CgroupnsMode", "Runtime")
_HOST_BOOLS = ("AutoRemove", "Privileged", "ReadonlyRootfs", "PublishAllPorts", "Init")
_LIMIT_INTS = ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota",
               "PidsLimit", "BlkioWeight", "ShmSize", "OomScoreAdj")
_LIMIT_STRS = ("CpusetCpus", "CpusetMems", "CgroupParent", "UsernsMode")
_MIN_MEMORY = 6 * 1024 * 1024


def _type_error(struct: str, field: str, want: str, value: Any) -> InvalidParameter:
    got = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}.get(
        type(value), "value"
    )
    return InvalidParameter(f"json: cannot unmarshal {got} into Go struct field {struct}.{field} of type {want}")


def _str_list(struct: str, field: str, value: Any) -> list[str] | None:
    """Docker's StrSlice: null, a string, or an array of strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _type_error(struct, field, "[]string", value)


def validate_config(config: Any) -> dict[str, Any]:
    """Check the types of a ContainerConfig; return a normalised copy."""
    if not isinstance(config, dict):
        raise InvalidParameter("json: cannot unmarshal into Go value of type container.Config")
    out = dict(config)
    for key in _STR_SLICES:
        if key in out:
            out[key] = _str_list("Config", key, out[key])
    for key in _STR_LISTS:
        value = out.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise _type_error("Config", key, "[]string", value)
    for key in _STRS:
        if out.get(key) is not None and not isinstance(out[key], str):
            raise _type_error("Config", key, "string", out[key])
    for key in _BOOLS:
        if out.get(key) is not None and not isinstance(out[key], bool):
            raise _type_error("Config", key, "bool", out[key])
    for key in _STR_MAPS + ("ExposedPorts", "Volumes"):
        value = out.get(key)
        if value is not None and not isinstance(value, dict):
            raise _type_error("Config", key, "map[string]string", value)
    labels = out.get("Labels") or {}
    if not all(isinstance(v, str) for v in labels.values()):
        raise _type_error("Config", "Labels", "map[string]string", labels)
    timeout = out.get("StopTimeout")
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)):
        raise _type_error("Config", "StopTimeout", "int", timeout)
    validate_healthcheck(out.get("Healthcheck"))
    if not out.get("Image"):
        raise InvalidParameter("invalid reference format")
    return out


def validate_host_config(host: Any) -> dict[str, Any]:
    """Check the types of the HostConfig fields this daemon uses; return a normalised copy."""
    if host is None:
        host = {}
    if not isinstance(host, dict):
        raise InvalidParameter("json: cannot unmarshal into Go value of type container.HostConfig")
    out = dict(host)
    for key in _HOST_STRS:
        if out.get(key) is not None and not isinstance(out[key], str):
            raise _type_error("HostConfig", key, "string", out[key])
    for key in _HOST_BOOLS:
        if out.get(key) is not None and not isinstance(out[key], bool):
            raise _type_error("HostConfig", key, "bool", out[key])
    for key in ("CapAdd", "CapDrop", "Binds", "ExtraHosts", "Dns", "DnsSearch", "DnsOptions", "SecurityOpt"):
        if key in out:
            out[key] = _str_list("HostConfig", key, out[key])
    validate_limits(out)
    out["NetworkMode"] = out.get("NetworkMode") or "default"  # the network service checks that it exists
    out["RestartPolicy"] = validate_restart_policy(out.get("RestartPolicy"), bool(out.get("AutoRemove")))
    out["Runtime"] = validate_runtime(out.get("Runtime"))
    out["LogConfig"] = validate_log_config(out.get("LogConfig"))
    return out


def check_limit_types(out: dict[str, Any]) -> None:
    """Types of the resource and security fields of HostConfig."""
    for key in _LIMIT_INTS:
        value = out.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise _type_error("HostConfig", key, "int64", value)
    for key in _LIMIT_STRS:
        if out.get(key) is not None and not isinstance(out[key], str):
            raise _type_error("HostConfig", key, "string", out[key])
    if out.get("OomKillDisable") is not None and not isinstance(out["OomKillDisable"], bool):
        raise _type_error("HostConfig", "OomKillDisable", "bool", out["OomKillDisable"])
    if "GroupAdd" in out:
        out["GroupAdd"] = _str_list("HostConfig", "GroupAdd", out["GroupAdd"])
    for key, want in (("Devices", "[]container.DeviceMapping"), ("Ulimits", "[]*units.Ulimit")):
        value = out.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise _type_error("HostConfig", key, want, value)
    sysctls = out.get("Sysctls")
    if sysctls is not None and not (isinstance(sysctls, dict) and all(isinstance(v, str) for v in sysctls.values())):
        raise _type_error("HostConfig", "Sysctls", "map[string]string", sysctls)


def check_resource_ranges(h: dict[str, Any]) -> None:
    """dockerd's verifyPlatformContainerResources, same messages (also used by `docker update`)."""
    mem, swap, res = h.get("Memory") or 0, h.get("MemorySwap") or 0, h.get("MemoryReservation") or 0
    nano, period, quota = h.get("NanoCpus") or 0, h.get("CpuPeriod") or 0, h.get("CpuQuota") or 0
    ncpu = os.cpu_count() or 1
    checks = [
        (mem != 0 and mem < _MIN_MEMORY, "Minimum memory limit allowed is 6MB"),
        (swap > 0 and mem == 0, "You should always set the Memory limit when using Memoryswap limit, see usage"),
        (mem > 0 and swap > 0 and swap < mem, "Minimum memoryswap limit should be larger than memory limit, see usage"),
        (mem > 0 and res > 0 and mem < res,
         "Minimum memory limit can not be less than memory reservation limit, see usage"),
        (res != 0 and res < _MIN_MEMORY, "Minimum memory reservation allowed is 6MB"),
        (nano > 0 and period > 0, "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
        (nano > 0 and quota > 0, "Conflicting options: Nano CPUs and CPU Quota cannot both be set"),
        (nano < 0 or nano > ncpu * 10**9,
         f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"),
        (period != 0 and not 1000 <= period <= 1000000,
         "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
        (0 < quota < 1000, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
        (bool(h.get("BlkioWeight")) and not 10 <= h["BlkioWeight"] <= 1000, "Range of blkio weight is from 10 to 1000"),
        ((h.get("ShmSize") or 0) < 0, "SHM size can not be less than 0"),
        (not -1000 <= (h.get("OomScoreAdj") or 0) <= 1000,
         f"Invalid value {h.get('OomScoreAdj')}, range for oom score adj is [-1000, 1000]"),
    ]
    for failed, message in checks:
        if failed:
            raise InvalidParameter(message)


def _check_modes(h: dict[str, Any]) -> None:
    """--ipc, --pid, --uts, --cgroupns, --userns values."""
    modes = (("IpcMode", ("", "none", "private", "shareable", "host"), True, "IPC mode"),
             ("PidMode", ("", "host"), True, "PID mode"), ("UTSMode", ("", "host"), False, "UTS mode"),
             ("CgroupnsMode", ("", "host", "private"), False, "cgroup namespace mode"))
    for key, allowed, joinable, what in modes:
        value = h.get(key) or ""
        if value not in allowed and not (joinable and value.startswith("container:") and value[10:]):
            raise InvalidParameter(f"invalid {what}: {value}")
    userns_ids.check_compatible(h)


def validate_limits(host: dict[str, Any]) -> None:
    """Check resource limits, namespace modes, capabilities, security options, sysctls and ulimits at create."""
    check_limit_types(host)
    check_resource_ranges(host)
    _check_modes(host)
    caps = hostspec.capabilities_of(host)
    hostspec.seccomp_of(host, caps, hostspec.security_options(host)["seccomp"])
    hostspec.sysctls_of(host)
    hostspec.rlimits_of(host)


def merge_with_image(config: dict[str, Any], image_config: dict[str, Any]) -> dict[str, Any]:
    """Fill a container config from the image's, with docker's precedence rules (daemon/commit.go merge)."""
    merged = dict(config)
    image = image_config or {}
    merged["User"] = merged.get("User") or image.get("User") or ""
    merged["WorkingDir"] = merged.get("WorkingDir") or image.get("WorkingDir") or ""
    merged["Env"] = replace_or_append_env(list(image.get("Env") or []), merged.get("Env") or [])
    labels = dict(image.get("Labels") or {})
    labels.update(merged.get("Labels") or {})
    merged["Labels"] = labels
    for key in ("ExposedPorts", "Volumes"):
        both = dict(image.get(key) or {})
        both.update(merged.get(key) or {})
        merged[key] = both or None
    if not merged.get("Entrypoint"):
        if not merged.get("Cmd"):
            merged["Cmd"] = image.get("Cmd")
        if merged.get("Entrypoint") is None:
            merged["Entrypoint"] = image.get("Entrypoint")
    merged["StopSignal"] = merged.get("StopSignal") or image.get("StopSignal")
    if merged.get("Healthcheck") is None and image.get("Healthcheck"):
        merged["Healthcheck"] = image["Healthcheck"]
    if merged.get("OnBuild") is None:
        merged["OnBuild"] = image.get("OnBuild")
    return merged


def replace_or_append_env(env: list[str], overrides: list[str]) -> list[str]:
    """Docker's ReplaceOrAppendEnvValues: an override replaces the same key in place, else is appended."""
    out = list(env)
    index = {item.split("=", 1)[0]: i for i, item in enumerate(out)}
    for item in overrides:
        key = item.split("=", 1)[0]
        if key in index:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return out


def command_of(config: dict[str, Any]) -> tuple[str, list[str]]:
    """Path and Args of the container's process: Entrypoint followed by Cmd."""
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if not argv:
        raise InvalidParameter("No command specified")
    return argv[0], argv[1:]
