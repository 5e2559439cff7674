"""A new container's document in docker's inspect shape, and the state changes it goes through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dockyard.util.timeutil import ZERO_TIME, now_rfc3339


def new_record(container_id: str, name: str, config: dict[str, Any], host_config: dict[str, Any],
               image_id: str, path: str, args: list[str], container_dir: Path) -> dict[str, Any]:
    """Everything `docker inspect` shows for a container that was just created."""
    return {
        "Id": container_id,
        "Created": now_rfc3339(),
        "Path": path,
        "Args": args,
        "State": {
            "Status": "created", "Running": False, "Paused": False, "Restarting": False,
            "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "",
            "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME,
        },
        "Image": image_id,
        "ResolvConfPath": str(container_dir / "resolv.conf"),
        "HostnamePath": str(container_dir / "hostname"),
        "HostsPath": str(container_dir / "hosts"),
        "LogPath": str(container_dir / f"{container_id}-json.log"),
        "Name": name,
        "RestartCount": 0,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config,
        "GraphDriver": {"Name": "overlay2", "Data": None},
        "Mounts": [],
        "Config": config,
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": {},
        },
    }


def mark_running(doc: dict[str, Any], pid: int) -> None:
    state = doc["State"]
    state.update(Status="running", Running=True, Paused=False, Restarting=False, OOMKilled=False, Dead=False,
                 Pid=pid, ExitCode=0, Error="", StartedAt=now_rfc3339())


def mark_exited(doc: dict[str, Any], exit_code: int, finished_at: str, oom_killed: bool, error: str = "") -> None:
    state = doc["State"]
    state.update(Status="exited", Running=False, Paused=False, Restarting=False, Pid=0, ExitCode=exit_code,
                 OOMKilled=oom_killed, Error=error, FinishedAt=finished_at)


def mark_start_failed(doc: dict[str, Any], exit_code: int, error: str) -> None:
    """A start that never ran the process: docker keeps `created` but records the code and error."""
    doc["State"].update(ExitCode=exit_code, Error=error)


def set_paused(doc: dict[str, Any], paused: bool) -> None:
    doc["State"].update(Status="paused" if paused else "running", Paused=paused)


def short_id(container_id: str) -> str:
    return container_id[:12]


def clear_network(doc: dict[str, Any]) -> None:
    """A stopped container's NetworkSettings: no sandbox, addresses or published ports (its networks stay)."""
    settings = doc["NetworkSettings"]
    settings.update(SandboxID="", SandboxKey="", EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0,
                    MacAddress="", Ports={})
    for entry in (settings.get("Networks") or {}).values():
        entry.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, DNSNames=None)
