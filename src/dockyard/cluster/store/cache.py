"""List-watch cache of the etcd keyspace (Kubernetes' pattern): one range read at revision R, then a watch from
R+1 keeps the tables current; reads are served from memory, writers wait until their revision is applied
(read-your-writes), and subscribers get every change in order.

Key layout under `/dockyard/v1/`: `<kind>/<id>` holds {"name": ..., "object": {...}}; `names/<kind>/<name>` holds
the id (uniqueness only, written in the same txn); `leader` holds the leader's holder value, on a lease."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, AsyncIterator

from dockyard.cluster.etcd.client import EtcdClient, EtcdFailure, EtcdUnavailable, KeyValue
from dockyard.cluster.store.backend import Change, Record
from dockyard.util.aio import cancel_and_wait, wait_within

log = logging.getLogger(__name__)

PREFIX = b"/dockyard/v1/"
NAMES = "names"
LEADER = "leader"
RECONNECT_PAUSE = 0.2
SYNC_TIMEOUT = 5.0


def object_key(kind: str, object_id: str) -> bytes:
    """Where an object lives."""
    return PREFIX + f"{kind}/{object_id}".encode()


def name_key(kind: str, name: str) -> bytes:
    """Where a name is reserved."""
    return PREFIX + f"{NAMES}/{kind}/{name}".encode()


LEADER_KEY = PREFIX + LEADER.encode()


def encode(name: str | None, value: dict[str, Any]) -> bytes:
    """An object's stored form."""
    return json.dumps({"name": name, "object": value}, separators=(",", ":")).encode()


class StoreCache:
    """In-memory tables of every object, fed by a watch."""

    def __init__(self, client: EtcdClient) -> None:
        self.client = client
        self.tables: dict[str, dict[str, Record]] = {}
        self.leader_kv: KeyValue | None = None
        self.applied = 0
        self._progress = asyncio.Condition()
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load everything, then follow changes in the background."""
        await self._relist()
        self._task = asyncio.create_task(self._follow(), name="cluster-store-watch")

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    def table(self, kind: str) -> dict[str, Record]:
        """The records of one kind by id."""
        return self.tables.setdefault(kind, {})

    async def wait_for(self, revision: int) -> None:
        """Return once every change up to `revision` is applied."""
        async with self._progress:
            await wait_within(self._progress.wait_for(lambda: self.applied >= revision), SYNC_TIMEOUT)

    def subscribe(self) -> AsyncIterator[Change]:
        """A feed of every change from now on."""
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self._subscribers.add(queue)
        return self._drain(queue)

    async def _drain(self, queue: asyncio.Queue[Change]) -> AsyncIterator[Change]:
        """Yield a subscriber's changes until it stops iterating."""
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)

    async def _relist(self) -> None:
        """Replace the tables with a fresh range read; changes against the old tables go to the feed."""
        kvs, revision = await self.client.range(PREFIX, prefix=True)
        old = {(kind, oid): rec for kind, table in self.tables.items() for oid, rec in table.items()}
        self.tables = {}
        self.leader_kv = None
        for kv in kvs:
            self._apply(kv)
        new = {(kind, oid): rec for kind, table in self.tables.items() for oid, rec in table.items()}
        for key in old.keys() - new.keys():
            self._publish(Change(key[0], key[1], None, revision))
        for key, record in new.items():
            if old.get(key) != record:
                self._publish(Change(key[0], key[1], record, revision))
        await self._advance(revision)

    async def _follow(self) -> None:
        """Apply the watch's batches; on a broken stream resume after what was applied, relist when compacted."""
        while True:
            try:
                async for batch in self.client.watch(PREFIX, True, self.applied + 1):
                    for event in batch.events:
                        self._apply(event.kv, event.deleted)
                    await self._advance(batch.revision)
            except EtcdFailure as exc:
                log.warning("cluster store watch: %s; reloading", exc)
                await self._retry(self._relist)
            except EtcdUnavailable as exc:
                log.warning("cluster store watch: %s; resuming after revision %d", exc, self.applied)
                await asyncio.sleep(RECONNECT_PAUSE * 5)  # the member is down or restarting
            await asyncio.sleep(RECONNECT_PAUSE)

    async def _retry(self, step: Any) -> None:
        """Run `step` until etcd answers."""
        while True:
            try:
                await step()
                return
            except (EtcdUnavailable, EtcdFailure) as exc:
                log.warning("cluster store: %s", exc)
                await asyncio.sleep(RECONNECT_PAUSE)

    async def _advance(self, revision: int) -> None:
        """Mark everything up to `revision` applied and wake the writers waiting for it."""
        async with self._progress:
            if revision > self.applied:
                self.applied = revision
                self._progress.notify_all()

    def _split(self, key: bytes) -> tuple[str, str] | None:
        """(kind, id) of an object key; None for names, the leader key and anything else."""
        parts = key[len(PREFIX):].decode().split("/", 1)
        if len(parts) != 2 or parts[0] == NAMES:
            return None
        return parts[0], parts[1]

    def _apply(self, kv: KeyValue, deleted: bool = False) -> None:
        """A key was written or deleted."""
        if kv.key == LEADER_KEY:
            self.leader_kv = None if deleted else kv
            return
        where = self._split(kv.key)
        if where is None:
            return
        kind, object_id = where
        record = None
        if deleted:
            self.table(kind).pop(object_id, None)
        else:
            stored = json.loads(kv.value)
            record = Record(kind, object_id, stored.get("name"), stored["object"], kv.mod_revision,
                            kv.create_revision)
            self.table(kind)[object_id] = record
        self._publish(Change(kind, object_id, record, kv.mod_revision))

    def _publish(self, change: Change) -> None:
        """Hand a change to every subscriber."""
        for queue in self._subscribers:
            queue.put_nowait(change)
