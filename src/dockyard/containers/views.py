"""The shapes docker's API gives a container: the `ps` summary and its human status text."""

from __future__ import annotations

import time
from typing import Any

from dockyard.util.humanize import human_duration
from dockyard.util.timeutil import parse_rfc3339, unix_seconds


def status_text(state: dict[str, Any], now: float | None = None) -> str:
    """`Up 5 seconds`, `Exited (0) 2 minutes ago`, `Created` ... as docker's State.String()."""
    now = time.time() if now is None else now
    status = state.get("Status")
    if state.get("Running"):
        if state.get("Paused"):
            return f"Up {human_duration(now - parse_rfc3339(state['StartedAt']))} (Paused)"
        if state.get("Restarting"):
            return f"Restarting ({state['ExitCode']}) {human_duration(now - parse_rfc3339(state['FinishedAt']))} ago"
        return f"Up {human_duration(now - parse_rfc3339(state['StartedAt']))}{health_suffix(state)}"
    if status == "removing":
        return "Removal In Progress"
    if status == "dead":
        return "Dead"
    if status == "created" or unix_seconds(state.get("FinishedAt", "0001-01-01T00:00:00Z")) == 0:
        return "Created"
    return f"Exited ({state['ExitCode']}) {human_duration(now - parse_rfc3339(state['FinishedAt']))} ago"


def health_suffix(state: dict[str, Any]) -> str:
    """` (healthy)`, ` (unhealthy)` or ` (health: starting)` for a container with a healthcheck."""
    health = state.get("Health")
    if not health or health.get("Status") in (None, "", "none"):
        return ""
    status = health["Status"]
    return f" (health: {status})" if status == "starting" else f" ({status})"


def command_text(doc: dict[str, Any]) -> str:
    """Path and Args joined as docker's `Command` column source."""
    return " ".join([doc["Path"], *doc["Args"]]).strip()


def port_list(ports: dict[str, Any]) -> list[dict[str, Any]]:
    """NetworkSettings.Ports ({"80/tcp": [{"HostIp", "HostPort"}] | None}) as the `ps` API lists them."""
    out: list[dict[str, Any]] = []
    for key, bindings in ports.items():
        number, _, proto = key.partition("/")
        if not bindings:
            out.append({"PrivatePort": int(number), "Type": proto or "tcp"})
            continue
        for binding in bindings:
            out.append({"IP": binding.get("HostIp") or "0.0.0.0", "PrivatePort": int(number),
                        "PublicPort": int(binding["HostPort"]), "Type": proto or "tcp"})
    return out


def summary(doc: dict[str, Any], size: tuple[int, int] | None = None) -> dict[str, Any]:
    """One entry of GET /containers/json."""
    config, host = doc["Config"], doc["HostConfig"]
    entry: dict[str, Any] = {
        "Id": doc["Id"],
        "Names": [doc["Name"]],
        "Image": config.get("Image", ""),
        "ImageID": doc["Image"],
        "Command": command_text(doc),
        "Created": unix_seconds(doc["Created"]),
        "Ports": port_list(doc["NetworkSettings"].get("Ports") or {}),
        "Labels": config.get("Labels") or {},
        "State": doc["State"]["Status"],
        "Status": status_text(doc["State"]),
        "HostConfig": {"NetworkMode": host.get("NetworkMode", "default")},
        "NetworkSettings": {"Networks": doc["NetworkSettings"].get("Networks") or {}},
        "Mounts": doc.get("Mounts") or [],
    }
    if size is not None:
        entry["SizeRw"], entry["SizeRootFs"] = size
    return entry
