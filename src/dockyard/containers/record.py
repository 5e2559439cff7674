"""The container record: typed fields named after docker's inspect keys, and the state changes it goes through."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.util.timeutil import ZERO_TIME, now_rfc3339

def _key(name: str, omit_none: bool = False) -> dict[str, Any]:
    """Field metadata: docker's JSON key for an attribute, and whether a None value is left out."""
    return {"json": name, "omit_none": omit_none}


def _json_key(f: dataclasses.Field[Any]) -> str:
    """Docker's key for a field: its metadata name, else the attribute in PascalCase."""
    return f.metadata.get("json") or "".join(part.capitalize() for part in f.name.split("_"))


def _to_json(obj: Any) -> dict[str, Any]:
    """A record dataclass as docker's JSON object, keys in field order (nested records too)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None and f.metadata.get("omit_none"):
            continue
        out[_json_key(f)] = _to_json(value) if dataclasses.is_dataclass(value) else copy.deepcopy(value)
    return out


def _from_json(cls: type[Any], doc: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments for `cls` from docker's JSON object; KeyError names a missing required key."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = _json_key(f)
        if key in doc:
            kwargs[f.name] = doc[key]
        elif f.metadata.get("omit_none"):
            kwargs[f.name] = None
        else:
            raise KeyError(f"container record has no {key!r}")
    return kwargs


@dataclass
class ContainerState:
    """State of a container as docker's inspect shows it (State.*)."""

    status: str = "created"
    running: bool = False
    paused: bool = False
    restarting: bool = False
    oom_killed: bool = field(default=False, metadata=_key("OOMKilled"))
    dead: bool = False
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    health: dict[str, Any] | None = field(default=None, metadata=_key("Health", omit_none=True))
    """Status, FailingStreak and Log of the healthcheck; present once a container with one has started."""

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ContainerState:
        return cls(**_from_json(cls, doc))


@dataclass
class ContainerRecord:
    """One container as the daemon keeps it; `to_json` is docker's inspect document, `from_json` reads it back.

    Config, HostConfig, NetworkSettings, Mounts and GraphDriver stay docker's JSON (dicts and lists): clients
    send and get back those large structs verbatim. State and the top-level fields are attributes, so a
    misspelt name is an error rather than a silent None."""

    id: str
    created: str
    path: str
    args: list[str]
    state: ContainerState
    image: str
    resolv_conf_path: str
    hostname_path: str
    hosts_path: str
    log_path: str
    name: str
    restart_count: int
    driver: str
    platform: str
    mount_label: str
    process_label: str
    app_armor_profile: str = field(metadata=_key("AppArmorProfile"))
    exec_ids: list[str] | None = field(metadata=_key("ExecIDs"))
    host_config: dict[str, Any] = field(metadata=_key("HostConfig"))
    graph_driver: dict[str, Any] = field(metadata=_key("GraphDriver"))
    mounts: list[dict[str, Any]] = field(metadata=_key("Mounts"))
    config: dict[str, Any] = field(metadata=_key("Config"))
    network_settings: dict[str, Any] = field(metadata=_key("NetworkSettings"))
    manually_stopped: bool | None = field(default=None, metadata=_key("HasBeenManuallyStopped", omit_none=True))
    """docker's persisted flag: the user stopped it, so restart policies leave it be (set on first start)."""

    def to_json(self) -> dict[str, Any]:
        """Docker's JSON for this record (a deep copy: changing it does not change the record)."""
        return _to_json(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ContainerRecord:
        """A record from docker's JSON as the store keeps it."""
        kwargs = _from_json(cls, doc)
        kwargs["state"] = ContainerState.from_json(doc["State"])
        return cls(**kwargs)

    def copy(self) -> ContainerRecord:
        """An independent copy (for other threads, or to change without touching this one)."""
        return copy.deepcopy(self)


def new_record(container_id: str, name: str, config: dict[str, Any], host_config: dict[str, Any],
               image_id: str, path: str, args: list[str], container_dir: Path) -> ContainerRecord:
    """Everything `docker inspect` shows for a container that was just created."""
    return ContainerRecord(
        id=container_id,
        created=now_rfc3339(),
        path=path,
        args=args,
        state=ContainerState(),
        image=image_id,
        resolv_conf_path=str(container_dir / "resolv.conf"),
        hostname_path=str(container_dir / "hostname"),
        hosts_path=str(container_dir / "hosts"),
        log_path=str(container_dir / f"{container_id}-json.log"),
        name=name,
        restart_count=0,
        driver="overlay2",
        platform="linux",
        mount_label="",
        process_label="",
        app_armor_profile="",
        exec_ids=None,
        host_config=host_config,
        graph_driver={"Name": "overlay2", "Data": None},
        mounts=[],
        config=config,
        network_settings={
            "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": {},
        },
    )


def mark_running(doc: ContainerRecord, pid: int) -> None:
    state = doc.state
    state.status, state.running, state.paused, state.restarting = "running", True, False, False
    state.oom_killed, state.dead, state.pid, state.exit_code, state.error = False, False, pid, 0, ""
    state.started_at = now_rfc3339()


def mark_exited(doc: ContainerRecord, exit_code: int, finished_at: str, oom_killed: bool, error: str = "") -> None:
    state = doc.state
    state.status, state.running, state.paused, state.restarting, state.pid = "exited", False, False, False, 0
    state.exit_code, state.oom_killed, state.error, state.finished_at = exit_code, oom_killed, error, finished_at


def mark_start_failed(doc: ContainerRecord, exit_code: int, error: str) -> None:
    """A start that never ran the process: docker keeps `created` but records the code and error."""
    doc.state.exit_code, doc.state.error = exit_code, error


def set_paused(doc: ContainerRecord, paused: bool) -> None:
    doc.state.status, doc.state.paused = ("paused" if paused else "running"), paused


def short_id(container_id: str) -> str:
    return container_id[:12]


def clear_network(doc: ContainerRecord) -> None:
    """A stopped container's NetworkSettings: no sandbox, addresses or published ports (its networks stay)."""
    settings = doc.network_settings
    settings.update(SandboxID="", SandboxKey="", EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0,
                    MacAddress="", Ports={})
    for entry in (settings.get("Networks") or {}).values():
        entry.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, DNSNames=None)
