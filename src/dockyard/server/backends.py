"""The backends the routers call, one Protocol per router (or group of routers), naming exactly the methods
they use. The daemon hands in the concrete services (containers, images, builder, ...) that implement them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncGenerator, AsyncIterator, BinaryIO, Callable, Iterator, Mapping, Protocol, Sequence

from dockyard.events.bus import Subscription

Filters = dict[str, list[str]]
Rows = list[dict[str, Any]]
Strings = list[str]
Writer = Callable[[BinaryIO], None]


class RecordedState(Protocol):
    """What attach reads of a container's state."""

    @property
    def status(self) -> str: ...


class RecordedContainer(Protocol):
    """What attach reads of a container's record."""

    @property
    def state(self) -> RecordedState: ...


class AttachBackend(Protocol):
    """What an attach session (server/attach.py, server/relay.py) needs of the container service."""

    def require_attachable(self, ref: str) -> str:
        """The container's id; 409 when it is paused or restarting."""

    def log_path(self, ref: str) -> tuple[str, Path | None, bool]:
        """Id, json log file (None when the log driver keeps nothing) and whether the container has a TTY."""

    def exit_count(self, container_id: str) -> int:
        """How often the container has exited; -1 once it is removed."""

    def publish(self, ref: str, action: str, **extra: str) -> None:
        """A container event."""

    def runtime_of(self, ref: str) -> tuple[RecordedContainer, Any]:
        """The container's record and its live shim handle (None unless running)."""


class ContainerBackend(AttachBackend, Protocol):
    """The container routes: lifecycle, inspect, list, wait, top, resize and update; network connect and
    disconnect."""

    async def create(self, body: Any, name: str | None) -> dict[str, Any]:
        """POST /containers/create."""

    async def connect_network(self, network_ref: str, body: Any) -> None:
        """POST /networks/{id}/connect: the container joins the network (the container owns its endpoints)."""

    async def disconnect_network(self, network_ref: str, body: Any) -> None:
        """POST /networks/{id}/disconnect."""

    def list(self, all_: bool = False, limit: int = -1, size: bool = False,
             filters: Filters | None = None) -> Rows:
        """GET /containers/json."""

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        """GET /containers/{id}/json."""

    async def start(self, ref: str) -> None:
        """POST /containers/{id}/start."""

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        """POST /containers/{id}/stop."""

    async def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        """POST /containers/{id}/restart."""

    async def kill(self, ref: str, signal: str | None = None) -> None:
        """POST /containers/{id}/kill."""

    async def pause(self, ref: str) -> None:
        """POST /containers/{id}/pause."""

    async def unpause(self, ref: str) -> None:
        """POST /containers/{id}/unpause."""

    async def rename(self, ref: str, new_name: str) -> None:
        """POST /containers/{id}/rename."""

    async def remove_link(self, link_name: str) -> None:
        """DELETE /containers/{/parent/alias}?link=1."""

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """DELETE /containers/{id}."""

    async def prune(self, filters: Filters) -> dict[str, Any]:
        """POST /containers/prune."""

    def register_wait(self, ref: str, condition: str) -> asyncio.Future:
        """POST /containers/{id}/wait: a future of the exit code."""

    def top(self, ref: str, ps_args: str) -> dict[str, Any]:
        """GET /containers/{id}/top."""

    async def resize(self, ref: str, height: int, width: int) -> None:
        """POST /containers/{id}/resize."""

    async def update(self, ref: str, body: Any) -> Strings:
        """POST /containers/{id}/update: docker's warnings."""


class LogLine(Protocol):
    """One entry of a container's log."""

    stream: str
    time: str
    data: bytes


class LogBackend(Protocol):
    """GET /containers/{id}/logs."""

    async def logs(self, ref: str, tail: int | None, since: float | None, until: float | None,
                   follow: bool) -> tuple[bool, AsyncIterator[LogLine]]:
        """Whether the container has a TTY, and its log entries."""


class ContainerFilesBackend(Protocol):
    """The archive API (cp), export, changes (diff) and commit."""

    def stat(self, ref: str, path: str) -> str:
        """The X-Docker-Container-Path-Stat header of a path."""

    def get_archive(self, ref: str, path: str) -> tuple[str, Writer]:
        """The stat header and a writer of the path's tar."""

    def put_archive(self, ref: str, path: str, body: BinaryIO, no_overwrite: bool, copy_uid_gid: bool) -> None:
        """Extract a tar into the directory at path."""

    def export(self, ref: str) -> Writer:
        """A writer of the flattened root file system's tar."""

    def changes(self, ref: str) -> Rows:
        """docker diff's [{Path, Kind}]."""

    async def commit(self, ref: str, body: Any, repo: str | None, tag: str | None, changes: Strings,
                     comment: str, author: str, pause: bool) -> str:
        """A new image from the container's writable layer; its id."""


class StatsBackend(Protocol):
    """GET /containers/{id}/stats."""

    async def once(self, ref: str, one_shot: bool) -> dict[str, Any]:
        """One StatsJSON."""

    async def stream(self, ref: str) -> AsyncGenerator[dict[str, Any], None]:
        """A StatsJSON each second."""


class ExecSession(Protocol):
    """An exec instance as the exec routes present it."""

    id: str
    tty: bool
    open_stdin: bool
    open_stdout: bool
    open_stderr: bool
    detach_keys: str | None


class ExecBackend(Protocol):
    """The exec routes: create, inspect, start (claim, launch, finish) and resize."""

    def create(self, ref: str, body: Any) -> str:
        """POST /containers/{id}/exec: the exec's id."""

    def inspect(self, exec_id: str) -> dict[str, Any]:
        """GET /exec/{id}/json."""

    def get(self, exec_id: str) -> ExecSession:
        """The exec instance."""

    def claim(self, exec_id: str) -> ExecSession:
        """Mark the exec as starting."""

    async def launch(self, rec: Any, console: tuple[int, int] | None = None) -> tuple[Any, Any]:
        """Start the process: (reader, writer) of its shim session."""

    def finish(self, rec: Any, exit_code: int | None) -> None:
        """Record the end of the exec."""

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        """POST /exec/{id}/resize."""


class ImageBackend(Protocol):
    """The image routes: list, inspect, history, tag, rmi, prune, pull, push, import, load, save."""

    def list(self, all_: bool, filters: Filters, digests: bool) -> Rows:
        """GET /images/json."""

    def inspect(self, ref: str) -> dict:
        """GET /images/{name}/json."""

    def history(self, ref: str) -> Rows:
        """GET /images/{name}/history."""

    def tag(self, source: str, repo: str, tag: str) -> None:
        """POST /images/{name}/tag."""

    def remove(self, ref: str, force: bool, prune: bool) -> Rows:
        """DELETE /images/{name}."""

    def prune(self, filters: Filters) -> dict:
        """POST /images/prune."""

    def pull(self, from_image: str, tag: str | None, auth: str | None = None,
             platform: str | None = None) -> Iterator[dict]:
        """POST /images/create?fromImage=: progress messages."""

    def push(self, name: str, tag: str | None, auth: str | None = None) -> Iterator[dict]:
        """POST /images/{name}/push: progress messages."""

    def import_(self, stream: BinaryIO, repo: str | None, tag: str | None, changes: Strings, message: str) -> str:
        """POST /images/create?fromSrc=-: the image id."""

    def import_url(self, url: str, repo: str | None, tag: str | None, changes: Strings, message: str) -> str:
        """POST /images/create?fromSrc=<URL>: the image id."""

    def load(self, stream: BinaryIO, quiet: bool) -> Iterator[dict]:
        """POST /images/load: progress messages."""

    def resolve(self, ref_or_id: str) -> object:
        """The image a name or id refers to (NotFound otherwise)."""

    def save(self, refs: Strings, out: BinaryIO) -> None:
        """GET /images/get: write the archive."""


class RegistryBackend(Protocol):
    """POST /auth and GET /images/search."""

    def login(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check credentials against a registry."""

    def search(self, term: str, limit: int, auth: str | None) -> Rows:
        """Search a registry's index."""


class BuildBackend(Protocol):
    """POST /build and POST /build/prune."""

    async def build_request(self, chunks: AsyncIterator[bytes], fields: dict[str, Any], limits: dict[str, Any],
                            registry_config: str | None) -> AsyncGenerator[dict[str, Any], None]:
        """Receive the context, then the build's progress messages."""

    def prune(self) -> dict[str, Any]:
        """Forget the build cache."""


class NetworkBackend(Protocol):
    """The network routes."""

    def list(self, filters: Filters) -> Rows:
        """GET /networks."""

    def inspect(self, ref: str) -> dict[str, Any]:
        """GET /networks/{id}."""

    async def create(self, body: Any) -> dict[str, Any]:
        """POST /networks/create."""

    async def remove(self, ref: str) -> None:
        """DELETE /networks/{id}."""

    async def prune(self, filters: Filters) -> dict[str, Any]:
        """POST /networks/prune."""


class VolumeBackend(Protocol):
    """The volume routes."""

    def create(self, name: str | None = None, driver: str | None = None, driver_opts: Any = None,
               labels: Any = None) -> dict[str, Any]:
        """POST /volumes/create."""

    def list(self, filters: Filters) -> Rows:
        """GET /volumes."""

    def inspect(self, name: str) -> dict[str, Any]:
        """GET /volumes/{name}."""

    def remove(self, name: str, force: bool = False) -> None:
        """DELETE /volumes/{name}."""

    def prune(self, filters: Filters) -> dict[str, Any]:
        """POST /volumes/prune."""


class PluginBackend(Protocol):
    """The plugin routes."""

    def list(self, filters: Filters) -> Rows:
        """GET /plugins."""

    def inspect(self, ref_or_id: str) -> dict[str, Any]:
        """GET /plugins/{name}/json."""

    def create(self, name: str, archive: BinaryIO) -> None:
        """POST /plugins/create: the tar of config.json and rootfs/."""

    def enable(self, ref_or_id: str, timeout: int) -> None:
        """POST /plugins/{name}/enable."""

    def disable(self, ref_or_id: str, force: bool = False) -> None:
        """POST /plugins/{name}/disable."""

    def remove(self, ref_or_id: str, force: bool = False) -> None:
        """DELETE /plugins/{name}."""

    def set(self, ref_or_id: str, args: Sequence[str]) -> None:
        """POST /plugins/{name}/set."""

    def refuse_registry(self, remote: str) -> None:
        """Pull, push, upgrade and privileges: what the daemon answers without plugin registries."""


class SystemBackend(Protocol):
    """GET /version and GET /info."""

    def version(self) -> dict[str, Any]:
        """SystemVersion."""

    def info(self) -> dict[str, Any]:
        """SystemInfo."""


class DiskUsageBackend(Protocol):
    """GET /system/df."""

    def usage(self, types: Strings) -> dict[str, Any]:
        """SystemDiskUsage for the object types asked for."""


class EventsBackend(Protocol):
    """GET /events, and the attach session's wait for a container's start."""

    def subscribe(self, since: float | None, until: float | None, filters: Mapping[str, Strings]) -> Subscription:
        """Replayed, then live events."""


class SwarmBackend(Protocol):
    """The /swarm routes: this node's membership and the cluster object."""

    async def init(self, body: dict[str, Any]) -> str:
        """POST /swarm/init: the node id."""

    async def join(self, body: dict[str, Any]) -> None:
        """POST /swarm/join."""

    async def leave(self, force: bool) -> None:
        """POST /swarm/leave."""

    def inspect(self) -> dict[str, Any]:
        """GET /swarm."""

    async def update(self, version: int, body: Any, rotate_worker: bool, rotate_manager: bool,
                     rotate_unlock: bool) -> None:
        """POST /swarm/update."""

    def unlock_key(self) -> dict[str, str]:
        """GET /swarm/unlockkey."""

    async def unlock(self, body: dict[str, Any]) -> None:
        """POST /swarm/unlock."""


class ListInspectBackend(Protocol):
    """List and inspect of one kind of swarm object (nodes, secrets, configs, tasks)."""

    def list(self, filters: Filters) -> Rows:
        """GET /<kind>."""

    def inspect(self, ref: str) -> dict[str, Any]:
        """GET /<kind>/{id}."""


class SwarmObjectBackend(ListInspectBackend, Protocol):
    """The routes of one kind of swarm object (nodes, secrets, configs): list, inspect, update, remove."""

    async def update(self, ref: str, version: int, body: Any) -> None:
        """POST /<kind>/{id}/update."""


class NodeBackend(SwarmObjectBackend, Protocol):
    """The /nodes routes."""

    async def remove(self, ref: str, force: bool) -> None:
        """DELETE /nodes/{id}."""


class SpecObjectBackend(SwarmObjectBackend, Protocol):
    """The /secrets and /configs routes."""

    async def create(self, body: Any) -> dict[str, str]:
        """POST /<kind>/create."""

    async def remove(self, ref: str) -> None:
        """DELETE /<kind>/{id}."""


class ServiceBackend(Protocol):
    """The /services routes."""

    async def create(self, body: Any) -> dict[str, Any]:
        """POST /services/create: {"ID", "Warnings"}."""

    def list(self, filters: Filters, status: bool = False) -> Rows:
        """GET /services."""

    def inspect(self, ref: str, insert_defaults: bool = False) -> dict[str, Any]:
        """GET /services/{id}."""

    async def update(self, ref: str, version: str | None, body: Any, rollback: str | None) -> dict[str, Any]:
        """POST /services/{id}/update."""

    async def remove(self, ref: str) -> None:
        """DELETE /services/{id}."""


class SwarmLogBackend(Protocol):
    """GET /services/{id}/logs and /tasks/{id}/logs."""

    async def logs(self, kind: str, ref: str, tail: int | None, since: float | None, until: float | None,
                   follow: bool) -> tuple[bool, AsyncIterator[tuple[dict[str, str], LogLine]]]:
        """Whether the tasks have TTYs, and (details, entry) pairs."""


class SwarmRpcBackend(Protocol):
    """The swarm's cluster API on the swarm listener (`routers/swarmrpc.py`); `peer` is the client's verified
    certificate (DER), None when it presented none."""

    def ca(self) -> str:
        """The root CA certificate (PEM)."""

    async def join(self, body: dict[str, Any]) -> dict[str, Any]:
        """A node's certificate for a valid join token and a CSR."""

    async def session(self, peer: bytes | None, body: dict[str, Any]) -> AsyncIterator[bytes]:
        """Open a node's session: its NDJSON lines."""

    async def heartbeat(self, peer: bytes | None, body: dict[str, Any]) -> dict[str, Any]:
        """A session's heartbeat."""

    async def renew(self, peer: bytes | None, body: dict[str, Any]) -> dict[str, Any]:
        """A node's certificate renewed for a CSR."""

    async def status(self, peer: bytes | None, body: dict[str, Any]) -> None:
        """A batch of task statuses."""

    async def publish_logs(self, peer: bytes | None, subscription: str, body: AsyncIterator[bytes]) -> None:
        """A node's chunked NDJSON lines for a log subscription."""
