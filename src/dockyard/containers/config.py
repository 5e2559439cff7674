"""Validate a create request and merge it with the image's config exactly as docker does."""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidParameter

_STR_SLICES = ("Cmd", "Entrypoint", "Shell")  # docker's StrSlice: a string is accepted too
_STR_LISTS = ("Env", "OnBuild")
_STR_MAPS = ("Labels",)
_BOOLS = ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce", "NetworkDisabled")
_STRS = ("Hostname", "Domainname", "User", "Image", "WorkingDir", "StopSignal", "MacAddress")
_HOST_STRS = ("NetworkMode", "IpcMode", "PidMode", "UTSMode", "CgroupnsMode", "Runtime")
_HOST_BOOLS = ("AutoRemove", "Privileged", "ReadonlyRootfs", "PublishAllPorts", "Init")


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
    mode = out.get("NetworkMode") or "default"
    if mode not in ("default", "none", "host", "bridge"):
        raise InvalidParameter(f"network {mode} not found")
    out["NetworkMode"] = mode
    policy = out.get("RestartPolicy") or {}
    if not isinstance(policy, dict):
        raise _type_error("HostConfig", "RestartPolicy", "container.RestartPolicy", policy)
    if policy.get("Name") not in (None, "", "no"):
        raise InvalidParameter(f"restart policy {policy.get('Name')!r} is not supported yet")
    if out.get("AutoRemove") and policy.get("Name") not in (None, "", "no"):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    return out


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
