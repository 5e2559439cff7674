"""The ClusterStore backed by etcd: writes are txns (names reserved in the same txn, `Version.Index` compared as
the key's mod_revision, fences compared as the leader key's create_revision), reads come from the cache."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

from dockyard.cluster.etcd.client import (EtcdClient, compare_create_revision, compare_mod_revision, op_delete,
                                          op_get, op_put)
from dockyard.cluster.store.backend import Change, Fence, NameTaken, NotLeader, OutOfSequence, Record
from dockyard.cluster.store.cache import LEADER_KEY, PREFIX, StoreCache, encode, name_key, object_key
from dockyard.errors import Conflict, NotFound

Ops = list[dict[str, Any]]


class EtcdStore:
    """Swarm objects in etcd, read through a list-watch cache."""

    def __init__(self, client: EtcdClient) -> None:
        self.client = client
        self.cache = StoreCache(client)
        self._leases: dict[int, int] = {}  # fence epoch -> lease id

    async def start(self) -> None:
        """Load the cache and follow the store."""
        await self.cache.start()

    async def stop(self) -> None:
        """Stop following the store (the leadership, if held, lapses with its lease)."""
        await self.cache.stop()

    def get(self, kind: str, object_id: str) -> Record | None:
        """The object with this exact id."""
        return self.cache.table(kind).get(object_id)

    def find(self, kind: str, name: str) -> Record | None:
        """The object with this exact name."""
        return next((r for r in self.cache.table(kind).values() if r.name == name), None)

    def list(self, kind: str) -> list[Record]:
        """Every object of a kind, oldest first."""
        return sorted(self.cache.table(kind).values(), key=lambda r: r.created)

    async def create(self, kind: str, object_id: str, value: dict[str, Any], name: str | None = None,
                     fence: Fence | None = None) -> Record:
        """Store a new object, reserving its name in the same txn."""
        compare = [compare_create_revision(object_key(kind, object_id), 0)]
        ops = [op_put(object_key(kind, object_id), encode(name, value))]
        if name is not None:
            compare.append(compare_create_revision(name_key(kind, name), 0))
            ops.append(op_put(name_key(kind, name), object_id.encode()))
        failure = [op_get(name_key(kind, name))] if name is not None else []
        ok, revision, responses = await self._txn(compare, ops, failure, fence)
        if not ok:
            if name is not None and _found(responses[0]):
                raise NameTaken(kind, name)
            raise Conflict(f"{kind} {object_id} already exists")
        return await self._settled(kind, object_id, revision)

    async def update(self, kind: str, object_id: str, value: dict[str, Any], version: int | None = None,
                     name: str | None = None, fence: Fence | None = None) -> Record:
        """Replace an object's value; a changed name is reserved and the old one released in the same txn."""
        current = self._current(kind, object_id)
        key = object_key(kind, object_id)
        compare = [compare_mod_revision(key, current.version if version is None else version)]
        ops = [op_put(key, encode(name, value))]
        if name != current.name:
            if name is not None:
                compare.append(compare_create_revision(name_key(kind, name), 0))
                ops.append(op_put(name_key(kind, name), object_id.encode()))
            if current.name is not None:
                ops.append(op_delete(name_key(kind, current.name)))
        ok, revision, _ = await self._txn(compare, ops, [], fence)
        if not ok:
            await self._refuse(kind, object_id, version, name)
        return await self._settled(kind, object_id, revision)

    async def delete(self, kind: str, object_id: str, version: int | None = None, fence: Fence | None = None) -> None:
        """Remove an object and release its name."""
        current = self._current(kind, object_id)
        key = object_key(kind, object_id)
        ops = [op_delete(key)]
        if current.name is not None:
            ops.append(op_delete(name_key(kind, current.name)))
        ok, revision, _ = await self._txn([compare_mod_revision(key, current.version if version is None else version)],
                                          ops, [], fence)
        if not ok:
            await self._refuse(kind, object_id, version, None)
        await self.cache.wait_for(revision)

    def subscribe(self) -> AsyncIterator[Change]:
        """The change feed from now on."""
        return self.cache.subscribe()

    async def campaign(self, holder: dict[str, Any], ttl: int) -> Fence | None:
        """Claim the leader key on a fresh lease; the fence's epoch is the key's creation revision."""
        lease = await self.client.lease_grant(ttl)
        ok, revision, _ = await self.client.txn([compare_create_revision(LEADER_KEY, 0)],
                                                [op_put(LEADER_KEY, json.dumps(holder).encode(), lease)])
        if not ok:
            await self.client.lease_revoke(lease)
            return None
        self._leases[revision] = lease
        await self.cache.wait_for(revision)
        return Fence(revision)

    async def renew(self, fence: Fence) -> bool:
        """Keep the lease alive; False once it expired or the key is someone else's."""
        lease = self._leases.get(fence.epoch)
        if lease is None or await self.client.lease_keepalive(lease) <= 0:
            self._leases.pop(fence.epoch, None)
            return False
        return True

    async def resign(self, fence: Fence) -> None:
        """Revoke the lease: the leader key goes with it."""
        lease = self._leases.pop(fence.epoch, None)
        if lease is not None:
            await self.client.lease_revoke(lease)

    def leader(self) -> dict[str, Any] | None:
        """The current leader's holder value."""
        kv = self.cache.leader_kv
        holder: dict[str, Any] | None = json.loads(kv.value) if kv is not None else None
        return holder

    async def wipe(self) -> None:
        """Delete every swarm key (the member's data goes with `swarm leave`; this empties a shared store)."""
        _, revision = await self.client.delete_range(PREFIX, prefix=True)
        await self.cache.wait_for(revision)

    def _current(self, kind: str, object_id: str) -> Record:
        """The cached object, or NotFound."""
        record = self.get(kind, object_id)
        if record is None:
            raise NotFound(f"{kind} {object_id} not found")
        return record

    async def _txn(self, compare: Ops, success: Ops, failure: Ops, fence: Fence | None) -> tuple[bool, int, Ops]:
        """Run a txn, with the fence's compare first when given (NotLeader when it fails)."""
        if fence is None:
            return await self.client.txn(compare, success, failure)
        ok, revision, responses = await self.client.txn(
            [compare_create_revision(LEADER_KEY, fence.epoch)],
            [{"request_txn": {"compare": compare, "success": success, "failure": failure}}])
        if not ok:
            raise NotLeader()
        inner = responses[0]["response_txn"]
        return bool(inner.get("succeeded")), revision, inner.get("responses", [])

    async def _settled(self, kind: str, object_id: str, revision: int) -> Record:
        """The object as the cache holds it once `revision` is applied."""
        await self.cache.wait_for(revision)
        return self._current(kind, object_id)

    async def _refuse(self, kind: str, object_id: str, version: int | None, name: str | None) -> None:
        """Say why a conditional write failed: gone, changed since `version`, or the new name is taken."""
        kvs, revision = await self.client.range(object_key(kind, object_id))
        await self.cache.wait_for(revision)
        if not kvs:
            raise NotFound(f"{kind} {object_id} not found")
        if name is not None and self.find(kind, name) not in (None, self.get(kind, object_id)):
            raise NameTaken(kind, name)
        raise OutOfSequence()


def _found(response: dict[str, Any]) -> bool:
    """Whether a txn's range response found a key."""
    return bool(response.get("response_range", {}).get("kvs"))
