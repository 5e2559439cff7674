"""The ClusterStore seam (swarmkit's Proposer idea): what the swarm services need of a replicated store, whatever
backs it. Objects are JSON dicts in docker's API shapes, filed by kind and id; `Record.version` is docker's
`Version.Index` (the backend's revision of the object's last change).

Semantics every backend keeps:
- Reads (`get`, `find`, `list`) come from a local cache kept current by a watch; they never block.
- Writes return once the cache has applied them (read-your-writes): an update followed by an inspect sees it.
- `create` fails with NameTaken when another object of the kind has the same name (names are unique per kind);
  `update`/`delete` given a `version` fail with OutOfSequence when the object changed since (compare-and-set).
- A write given a `Fence` only happens while that leadership is still held, else NotLeader (a deposed leader's
  control loops cannot corrupt state).
- `subscribe()` is the change feed: every change, in revision order, from the moment of subscription."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, AsyncIterator, Protocol

from dockyard.errors import Conflict, SystemError_, Unavailable

OUT_OF_SEQUENCE = "rpc error: code = Unknown desc = update out of sequence"
REREAD_PAUSE, DELETE_TRIES = 0.02, 50  # a delete that lost a race with another write waits for the cache


class NameTaken(Conflict):
    """Another object of the kind already has this name."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"name conflicts with an existing object: {kind} {name}")
        self.kind = kind
        self.name = name


class OutOfSequence(SystemError_):
    """The object changed since the version the writer read (dockerd answers 500 with this text; clients retry on
    its suffix)."""

    def __init__(self) -> None:
        super().__init__(OUT_OF_SEQUENCE)


class NotLeader(Unavailable):
    """A fenced write from a node that no longer holds the leadership."""

    def __init__(self) -> None:
        super().__init__("this node is no longer the swarm leader")


@dataclass(frozen=True)
class Record:
    """One stored object: its kind ("nodes", "secrets"...), id, optional unique name, value, version, and the
    revision it was created at."""

    kind: str
    id: str
    name: str | None
    value: dict[str, Any]
    version: int
    created: int


@dataclass(frozen=True)
class Change:
    """One change on the feed: `record` is the new state, or None when the object `kind`/`id` was deleted."""

    kind: str
    id: str
    record: Record | None
    revision: int


@dataclass(frozen=True)
class Fence:
    """A held leadership: writes carrying it succeed only while the leader key still has this creation revision."""

    epoch: int


class ClusterStore(Protocol):
    """The replicated store of swarm objects."""

    def get(self, kind: str, object_id: str) -> Record | None:
        """The object with this exact id."""

    def find(self, kind: str, name: str) -> Record | None:
        """The object with this exact name."""

    def list(self, kind: str) -> list[Record]:
        """Every object of a kind, oldest first."""

    async def create(self, kind: str, object_id: str, value: dict[str, Any], name: str | None = None,
                     fence: Fence | None = None) -> Record:
        """Store a new object (Conflict when the id exists, NameTaken when the name does)."""

    async def update(self, kind: str, object_id: str, value: dict[str, Any], version: int | None = None,
                     name: str | None = None, fence: Fence | None = None) -> Record:
        """Replace an object's value (and name); NotFound when it is gone, OutOfSequence on a stale version."""

    async def delete(self, kind: str, object_id: str, version: int | None = None, fence: Fence | None = None) -> None:
        """Remove an object and its name; NotFound when it is gone, OutOfSequence on a stale version."""

    def subscribe(self) -> AsyncIterator[Change]:
        """The change feed from now on; closing the iterator ends the subscription."""

    async def campaign(self, holder: dict[str, Any], ttl: int) -> Fence | None:
        """Try once to become the leader (holder = who, e.g. {"NodeID", "Addr"}), kept alive by `renew` within
        `ttl` seconds; None when someone else leads."""

    async def renew(self, fence: Fence) -> bool:
        """Keep a held leadership alive; False once it is lost."""

    async def resign(self, fence: Fence) -> None:
        """Give the leadership up now."""

    def leader(self) -> dict[str, Any] | None:
        """The current leader's holder value."""


async def delete_whatever_changed(store: ClusterStore, kind: str, object_id: str) -> None:
    """An unconditional delete, as swarmkit's API removals are: a write another writer (a control loop, a status
    report) made in between is read again, never an error. NotFound when the object is gone."""
    for _ in range(DELETE_TRIES - 1):
        try:
            await store.delete(kind, object_id)
            return
        except OutOfSequence:
            await asyncio.sleep(REREAD_PAUSE)  # the cache has not applied the other write yet
    await store.delete(kind, object_id)
