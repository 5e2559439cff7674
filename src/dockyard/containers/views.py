"""The shapes docker's API gives a container: inspect, the `ps` summary and its human status text."""

from __future__ import annotations

import time
from typing import Any

from dockyard.containers.record import ContainerRecord, ContainerState
from dockyard.util.humanize import human_duration
from dockyard.util.timeutil import parse_rfc3339, unix_seconds


def status_text(state: ContainerState, now: float | None = None) -> str:
    """`Up 5 seconds`, `Exited (0) 2 minutes ago`, `Created` ... as docker's State.String()."""
    now = time.time() if now is None else now
    if state.running:
        if state.paused:
            return f"Up {human_duration(now - parse_rfc3339(state.started_at))} (Paused)"
        if state.restarting:
            return f"Restarting ({state.exit_code}) {human_duration(now - parse_rfc3339(state.finished_at))} ago"
        return f"Up {human_duration(now - parse_rfc3339(state.started_at))}{health_suffix(state)}"
    if state.status == "removing":
        return "Removal In Progress"
    if state.status == "dead":
        return "Dead"
    if state.status == "created" or unix_seconds(state.finished_at) == 0:
        return "Created"
    return f"Exited ({state.exit_code}) {human_duration(now - parse_rfc3339(state.finished_at))} ago"


def health_suffix(state: ContainerState) -> str:
    """` (healthy)`, ` (unhealthy)` or ` (health: starting)` for a container with a healthcheck."""
    health = state.health
    if not health or health.get("Status") in (None, "", "none"):
        return ""
    status = health["Status"]
    return f" (health: {status})" if status == "starting" else f" ({status})"


def command_text(doc: ContainerRecord) -> str:
    """Path and Args joined as docker's `Command` column source."""
    return " ".join([doc.path, *doc.args]).strip()


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


def summary(doc: ContainerRecord, size: tuple[int, int] | None = None,
            link_names: list[str] | None = None) -> dict[str, Any]:
    """One entry of GET /containers/json (`link_names`: the `/parent/alias` names links give it)."""
    config, host, settings = doc.config, doc.host_config, doc.network_settings
    entry: dict[str, Any] = {
        "Id": doc.id,
        "Names": [doc.name, *(link_names or [])],
        "Image": config.get("Image", ""),
        "ImageID": doc.image,
        "Command": command_text(doc),
        "Created": unix_seconds(doc.created),
        "Ports": port_list(settings.ports or {}),
        "Labels": config.get("Labels") or {},
        "State": doc.state.status,
        "Status": status_text(doc.state),
        "HostConfig": {"NetworkMode": host.get("NetworkMode", "default")},
        "NetworkSettings": {"Networks": settings.networks or {}},
        "Mounts": [point.to_json() for point in doc.mounts],
    }
    _add_sizes(entry, size)
    return entry


def inspect_view(doc: ContainerRecord, size: tuple[int, int] | None) -> dict[str, Any]:
    """GET /containers/{id}/json: the record in docker's shape, with SizeRw and SizeRootFs if asked."""
    out = doc.to_json()
    _add_sizes(out, size)
    return out


def _add_sizes(entry: dict[str, Any], size: tuple[int, int] | None) -> None:
    """SizeRw and SizeRootFs, when they were asked for."""
    if size is not None:
        entry["SizeRw"], entry["SizeRootFs"] = size
