"""What the agent needs of the engine's services, handed in by `daemon/`: containers and images."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Protocol

if TYPE_CHECKING:
    from dockyard.cluster.agent.taskfiles import TaskFiles
    from dockyard.network.lb import RoutingMesh
    from dockyard.network.overlay import OverlaySpec


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
    """The network service, as the node's swarm work uses it: the ingress overlay and its routing mesh."""

    def get(self, ref: str) -> dict[str, Any]:
        """A network's record (NotFound when there is none)."""

    async def add_overlay(self, spec: OverlaySpec, name: str, attachable: bool = False, ingress: bool = False,
                          labels: dict[str, str] | None = None, reserved: dict[str, str] | None = None) -> None:
        """Record an overlay network the cluster allocated (idempotent)."""

    async def remove(self, ref: str) -> None:
        """Remove a network."""

    def ingress_mesh(self, ref: str, sandbox_ip: str) -> RoutingMesh:
        """The routing mesh of the ingress overlay `ref` (blocking calls: run them with run_blocking)."""


class AssignmentSource(Protocol):
    """The dispatcher's session, as the agent speaks it (in-process now; over HTTP for remote workers later)."""

    def session(self, node_id: str) -> Any:
        """An async iterator of messages: {"type": "assignments", "kind": "complete", "tasks": [...]}."""

    async def update_status(self, node_id: str, updates: list[dict[str, Any]]) -> None:
        """Report task statuses: [{"TaskID", "Status"}]."""


@dataclass(frozen=True)
class TaskEngine:
    """What runs a node's tasks: the engine's container, image and network services, and the tasks' tmpfs files."""

    containers: TaskContainers
    images: TaskImages
    files: TaskFiles
    networks: TaskNetworks
