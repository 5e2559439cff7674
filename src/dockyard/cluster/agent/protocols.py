"""What the agent needs of the engine's services, handed in by `daemon/`: containers, images, networks, DNS names."""

from __future__ import annotations

import asyncio
import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Protocol

if TYPE_CHECKING:
    from dockyard.cluster.agent.taskfiles import TaskFiles
    from dockyard.network.lb import RoutingMesh, Vip
    from dockyard.network.overlay import OverlaySpec, Peer
    from dockyard.network.servicedns import ServiceEntry


class TaskContainers(Protocol):
    """The container service, as task controllers use it."""

    async def create(self, body: Any, name: str | None) -> dict[str, Any]:
        """Create a container from an Engine API body."""

    async def start(self, ref: str) -> None:
        """Start it."""

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        """Stop it: the signal, then SIGKILL after the timeout."""

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """Remove it."""

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        """Its inspect document."""

    def register_wait(self, ref: str, condition: str) -> asyncio.Future:
        """A future for its next exit code."""

    def list(self, all_: bool = False, limit: int = -1, size: bool = False,
             filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """Containers matching docker's filters."""


class TaskImages(Protocol):
    """The image service, as task controllers use it."""

    def inspect(self, ref: str) -> dict:
        """An image present here (NotFound when it is not)."""

    def pull(self, from_image: str, tag: str | None, auth: str | None = None,
             platform: str | None = None) -> Iterator[dict]:
        """Progress messages of a pull."""


class TaskNetworks(Protocol):
    """The network service, as the node's swarm work uses it: overlays, their VIPs, the ingress routing mesh."""

    def get(self, ref: str) -> dict[str, Any]:
        """A network's record (NotFound when there is none)."""

    def list(self, filters: dict[str, builtins.list[str]]) -> builtins.list[dict[str, Any]]:
        """Networks matching docker's filters."""

    async def add_overlay(self, spec: OverlaySpec, name: str, attachable: bool = False, ingress: bool = False,
                          labels: dict[str, str] | None = None, reserved: dict[str, str] | None = None,
                          internal: bool = False, options: dict[str, str] | None = None) -> None:
        """Record an overlay network the cluster allocated (idempotent)."""

    async def retire_overlay(self, ref: str) -> None:
        """The cluster removed an overlay: its record goes now, or with its last local endpoint."""

    async def set_vips(self, network_id: str, vips: builtins.list[Vip]) -> None:
        """Make every local sandbox on the overlay balance these VIPs (empty: forget the network's)."""

    async def set_peers(self, network_id: str, local_vtep: str, data_path_port: int,
                        peers: builtins.list[Peer]) -> None:
        """Make the overlay's VXLAN device on this node reach exactly these endpoints of other nodes (empty: none)."""

    async def remove(self, ref: str) -> None:
        """Remove a network."""

    def ingress_mesh(self, ref: str, sandbox_ip: str) -> RoutingMesh:
        """The routing mesh of the ingress overlay `ref` (blocking calls: run them with run_blocking)."""


class ServiceNames(Protocol):
    """The embedded DNS's service records (network/servicedns.py's ServiceTable), fed by the agent."""

    def replace(self, network_id: str, network_name: str, entries: list[ServiceEntry]) -> None:
        """Make `entries` the network's whole record set."""

    def drop(self, network_id: str) -> None:
        """Forget a network's records."""


class TaskLogs(Protocol):
    """The container log reader, as a worker publishing its tasks' logs uses it."""

    async def logs(self, ref: str, tail: int | None, since: float | None, until: float | None,
                   follow: bool) -> tuple[bool, AsyncIterator[Any]]:
        """Whether the container has a TTY, and its entries (`stream`, `time`, `data`)."""


class AssignmentSource(Protocol):
    """The dispatcher's session, as the agent speaks it (in-process now; over HTTP for remote workers later)."""

    def session(self, node_id: str) -> Any:
        """An async iterator of messages: {"type": "session"}, then {"type": "assignments", "kind": "complete" or
        "incremental", ...} (`manager/assignments.py`)."""

    async def update_status(self, node_id: str, updates: list[dict[str, Any]]) -> None:
        """Report task statuses: [{"TaskID", "Status"}]."""


@dataclass(frozen=True)
class TaskEngine:
    """What runs a node's tasks: the engine's container, image and network services, the tasks' tmpfs files, the
    service names the embedded DNS answers, and the containers' logs."""

    containers: TaskContainers
    images: TaskImages
    files: TaskFiles
    networks: TaskNetworks
    names: ServiceNames
    logs: TaskLogs
