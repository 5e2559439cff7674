"""What the container service needs of its collaborators, which daemon/ hands in: images, snapshots, the
network, volumes, shims and events."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Callable, Protocol

from dockyard.containers.record import ContainerRecord
from dockyard.events.publisher import EventPublisher as EventPublisher  # re-exported for the services here
from dockyard.network.endpoints import ContainerEndpoints
from dockyard.runtime.client import ExitStatus
from dockyard.runtime.jsonlog import Rotation
from dockyard.util.imageview import DerivedImage, ResolvedImage


class ImageLookup(Protocol):
    """Images by reference (the image service)."""

    def resolve(self, ref_or_id: str) -> ResolvedImage: ...

    def inspect(self, ref: str) -> dict[str, Any]: ...


class CommitImages(Protocol):
    """What commit needs of the image service: the container's image, a child of it with the container's layer,
    and a tag."""

    def resolve(self, ref_or_id: str) -> ResolvedImage: ...

    def derive(self, parent: ResolvedImage | None, layer: BinaryIO | None, container_config: dict[str, Any],
               created_by: str, comment: str = "", author: str = "",
               empty_layer: bool | None = None) -> DerivedImage: ...

    def tag(self, source: str, repo: str, tag: str) -> None: ...


class ContainerSnapshots(Protocol):
    """Writable layers above an image (the snapshotter)."""

    def prepare_container(self, container_id: str, chain_id: str | None) -> None: ...

    def mount_container(self, container_id: str, target: Path) -> None: ...

    def unmount(self, target: Path) -> None: ...

    def container_upper(self, container_id: str) -> Path: ...

    def lower_dirs(self, chain_id: str) -> list[Path]: ...

    def container_size(self, container_id: str) -> int: ...

    def remove_container(self, container_id: str) -> None: ...


class EtcFiles(Protocol):
    """What a container's network puts into its resolv.conf and hosts (writable from any thread)."""

    def write(self, host: dict[str, Any], hostname: str, container_dir: Path) -> None: ...


class NetworkAttachment(Protocol):
    """Network sandboxes of containers (the network service): every answer is data the container records."""

    def get(self, ref: str) -> dict[str, Any]: ...

    def plan(self, host_config: dict[str, Any], networking: Any, config: dict[str, Any]) -> dict[str, Any]: ...

    async def attach(self, container_id: str, name: str, host_config: dict[str, Any],
                     exposed: dict[str, Any] | None, networks: dict[str, Any]) -> dict[str, Any]: ...

    def etc_plan(self, container_id: str) -> EtcFiles: ...

    async def release(self, container_id: str) -> None: ...

    def sandbox_ids(self) -> list[str]: ...

    async def connect(self, network_id: str, container: ContainerEndpoints,
                      config: dict[str, Any]) -> dict[str, Any]: ...

    async def disconnect(self, network_id: str, container: ContainerEndpoints) -> dict[str, Any]: ...


class VolumeMounts(Protocol):
    """Named volumes a container mounts (the volume service)."""

    def create(self, name: str | None = None, driver: str | None = None, driver_opts: Any = None,
               labels: Any = None, anonymous: bool = False, user: str | None = None) -> dict[str, Any]: ...

    def mount(self, name: str, container_id: str) -> Path: ...

    def unmount(self, name: str, container_id: str) -> None: ...

    def copy_up(self, name: str, source: Path) -> None: ...

    def acquire(self, name: str, container_id: str) -> dict[str, Any]: ...

    def release(self, name: str, container_id: str) -> None: ...

    def drop_unrecorded_users(self, recorded: set[str]) -> list[str]: ...

    def is_anonymous(self, name: str) -> bool: ...

    def remove(self, name: str, force: bool = False) -> None: ...


class Shim(Protocol):
    """The daemon's handle on one container's shim (runtime.client.ShimClient)."""

    @property
    def pid(self) -> int | None: ...

    def launch(self, log_path: Path, open_stdin: bool = False, stdin_once: bool = False,
               rotation: Rotation = ...) -> int: ...

    def alive(self) -> bool: ...

    def wait_gone(self, timeout: float = ...) -> None: ...

    async def wait(self) -> ExitStatus: ...

    def kill(self, sig: int) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def pids(self) -> list[int]: ...

    def cleanup(self) -> None: ...


ShimFactory = Callable[[Path], Shim]
"""A shim handle for a bundle directory."""


class RecordedContainers(Protocol):
    """What cp, export, diff, commit and stats need of the container service."""

    def record(self, ref: str) -> ContainerRecord: ...

    def bundle(self, container_id: str) -> Path: ...

    async def pause(self, ref: str) -> None: ...

    async def unpause(self, ref: str) -> None: ...


class RootfsSnapshots(Protocol):
    """What cp, export and commit need of the snapshotter: a stopped container's rootfs, and its scratch root."""

    @property
    def root(self) -> Path: ...

    def mount_container(self, container_id: str, target: Path) -> None: ...

    def unmount(self, target: Path) -> None: ...
