"""Dockerfile-style --change instructions applied to an image config (import, commit)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from dockyard.errors import InvalidParameter

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Return a copy of the container-config section `config` with every change applied in order."""
    result = dict(config)
    for change in changes:
        instruction, _, rest = change.strip().partition(" ")
        name = instruction.upper()
        if name not in ALLOWED:
            raise InvalidParameter(f"{instruction.lower()} is not a valid change command")
        _apply_one(result, name, rest.strip())
    return result


def _json_list(text: str) -> list[str] | None:
    """The value when `text` is a JSON array of strings, else None."""
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _json_or_shell(text: str) -> list[str]:
    """Exec form (a JSON string array) as is; shell form wrapped in /bin/sh -c."""
    value = _json_list(text)
    return value if value is not None else ["/bin/sh", "-c", text]


def _pairs(text: str, instruction: str) -> list[tuple[str, str]]:
    """key=value pairs (quotes allowed), or the legacy single `key value` form."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidParameter(f"{instruction}: {exc}") from exc
    if not words:
        raise InvalidParameter(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        if len(words) < 2 and instruction == "ENV":
            raise InvalidParameter("ENV must have two arguments")
        return [(words[0], text.split(None, 1)[1].strip() if len(words) > 1 else "")]
    pairs = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"{instruction} names can not be blank" if not key else
                                   f"Syntax error - can't find = in \"{word}\". Must be of the form: name=value")
        pairs.append((key, value))
    return pairs


def _apply_one(config: dict[str, Any], name: str, rest: str) -> None:
    if name == "CMD":
        config["Cmd"] = _json_or_shell(rest)
    elif name == "ENTRYPOINT":
        config["Entrypoint"] = _json_or_shell(rest)
    elif name == "ENV":
        env = list(config.get("Env") or [])
        for key, value in _pairs(rest, "ENV"):
            env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
        config["Env"] = env
    elif name == "LABEL":
        config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(rest, "LABEL"))}
    elif name == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for port in rest.split():
            ports[port if "/" in port else f"{port}/tcp"] = {}
        config["ExposedPorts"] = ports
    elif name == "VOLUME":
        paths = _json_list(rest) or rest.split()
        config["Volumes"] = {**(config.get("Volumes") or {}), **{p: {} for p in paths}}
    elif name == "ONBUILD":
        config["OnBuild"] = list(config.get("OnBuild") or []) + [rest]
    elif name == "STOPSIGNAL":
        config["StopSignal"] = rest
    elif name == "USER":
        config["User"] = rest
    elif name == "WORKDIR":
        config["WorkingDir"] = rest
