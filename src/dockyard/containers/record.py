"""The container record: typed fields named after docker's inspect keys, and the state changes it goes through."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from dockyard.util import jsonrecord
from dockyard.util.jsonrecord import key
from dockyard.util.timeutil import ZERO_TIME, now_rfc3339


@dataclass
class ContainerState:
    """State of a container as docker's inspect shows it (State.*)."""

    status: str = "created"
    running: bool = False
    paused: bool = False
    restarting: bool = False
    oom_killed: bool = field(default=False, metadata=key("OOMKilled"))
    dead: bool = False
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    health: dict[str, Any] | None = field(default=None, metadata=key("Health", omit_none=True))
    """Status, FailingStreak and Log of the healthcheck; present once a container with one has started."""


@dataclass
class MountPoint:
    """One entry of docker's Mounts: a volume (with its Name and Driver), a bind or a tmpfs."""

    type: str = ""
    name: str | None = field(default=None, metadata=key("Name", omit_none=True))
    source: str = ""
    destination: str = ""
    driver: str | None = field(default=None, metadata=key("Driver", omit_none=True))
    mode: str = ""
    rw: bool = field(default=True, metadata=key("RW"))
    propagation: str = ""

    @property
    def volume(self) -> str | None:
        """The volume's name for a volume mount, None for the others."""
        return self.name if self.type == "volume" else None

    def to_json(self) -> dict[str, Any]:
        """Docker's JSON for this mount point."""
        return jsonrecord.to_json(self)


@dataclass
class NetworkSettings:
    """NetworkSettings as docker's inspect shows them: the sandbox, the primary (bridge) endpoint's addresses,
    published ports and one EndpointSettings per network (those stay docker's JSON: the network service makes
    them)."""

    bridge: str = ""
    sandbox_id: str = field(default="", metadata=key("SandboxID"))
    sandbox_key: str = ""
    ports: dict[str, Any] = field(default_factory=dict)
    hairpin_mode: bool = False
    link_local_ipv6_address: str = field(default="", metadata=key("LinkLocalIPv6Address"))
    link_local_ipv6_prefix_len: int = field(default=0, metadata=key("LinkLocalIPv6PrefixLen"))
    secondary_ip_addresses: list[Any] | None = field(default=None, metadata=key("SecondaryIPAddresses"))
    secondary_ipv6_addresses: list[Any] | None = field(default=None, metadata=key("SecondaryIPv6Addresses"))
    endpoint_id: str = field(default="", metadata=key("EndpointID"))
    gateway: str = ""
    global_ipv6_address: str = field(default="", metadata=key("GlobalIPv6Address"))
    global_ipv6_prefix_len: int = field(default=0, metadata=key("GlobalIPv6PrefixLen"))
    ip_address: str = field(default="", metadata=key("IPAddress"))
    ip_prefix_len: int = field(default=0, metadata=key("IPPrefixLen"))
    ipv6_gateway: str = field(default="", metadata=key("IPv6Gateway"))
    mac_address: str = ""
    networks: dict[str, Any] = field(default_factory=dict)

    def apply(self, changes: Mapping[str, Any]) -> None:
        """Take the fields the network service answers with (docker's keys); KeyError for one it has not."""
        jsonrecord.apply(self, changes)


@dataclass
class ContainerRecord:
    """One container as the daemon keeps it; `to_json` is docker's inspect document, `from_json` reads it back.

    State, NetworkSettings, Mounts and the top-level fields are attributes, so a misspelt name is an error rather
    than a silent None. Config, HostConfig and GraphDriver stay docker's JSON (dicts) in this step: clients send
    and get back those large structs verbatim."""

    id: str
    created: str
    path: str
    args: list[str]
    state: ContainerState = field(metadata=key("State", nested=ContainerState))
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
    app_armor_profile: str = field(metadata=key("AppArmorProfile"))
    exec_ids: list[str] | None = field(metadata=key("ExecIDs"))
    host_config: dict[str, Any] = field(metadata=key("HostConfig"))
    graph_driver: dict[str, Any] = field(metadata=key("GraphDriver"))
    mounts: list[MountPoint] = field(metadata=key("Mounts", nested=MountPoint))
    config: dict[str, Any] = field(metadata=key("Config"))
    network_settings: NetworkSettings = field(metadata=key("NetworkSettings", nested=NetworkSettings))
    manually_stopped: bool | None = field(default=None, metadata=key("HasBeenManuallyStopped", omit_none=True))
    """docker's persisted flag: the user stopped it, so restart policies leave it be (set on first start)."""

    def to_json(self) -> dict[str, Any]:
        """Docker's JSON for this record (a deep copy: changing it does not change the record)."""
        return jsonrecord.to_json(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ContainerRecord:
        """A record from docker's JSON as the store keeps it."""
        return jsonrecord.from_json(cls, doc)

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
        network_settings=NetworkSettings(),
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
    settings.sandbox_id = settings.sandbox_key = settings.endpoint_id = settings.gateway = settings.ip_address = ""
    settings.ip_prefix_len, settings.mac_address, settings.ports = 0, "", {}
    settings.ipv6_gateway, settings.global_ipv6_address, settings.global_ipv6_prefix_len = "", "", 0
    for entry in (settings.networks or {}).values():
        entry.update(EndpointID="", Gateway="", IPAddress="", IPPrefixLen=0, IPv6Gateway="", GlobalIPv6Address="",
                     GlobalIPv6PrefixLen=0, DNSNames=None)
