"""asyncio client for etcd's v3 JSON gateway over the member's unix socket: range, txn, deleterange, watch
(an NDJSON stream), leases and status. Keys and values are base64 on the wire; this module speaks bytes.

Requests time out quickly (1 s by default): during a failover a request in flight would otherwise wait for
etcd's own 5 s. Only requests that cannot have reached etcd (the socket refused the connection) and read-only
requests are retried; a write that timed out is reported, never replayed blindly."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from dockyard.errors import SystemError_, Unavailable
from dockyard.util.httpwire import chunk_lines, read_head, read_json, request_bytes
from dockyard.util.aio import wait_within

REQUEST_TIMEOUT = 1.0
RETRIES = 3
RETRY_PAUSE = 0.1
GRPC_UNAVAILABLE = {4, 14}  # DeadlineExceeded, Unavailable: etcd has no leader or cannot reach quorum


class EtcdUnavailable(Unavailable):
    """The member does not answer (not running, no leader, timed out)."""


class EtcdFailure(SystemError_):
    """etcd refused a request (a malformed request, a compacted revision, an unknown lease...)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def b64(data: bytes) -> str:
    """Bytes as the gateway's base64 string."""
    return base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes:
    """The gateway's base64 string as bytes ("" and absent are empty)."""
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: bytes) -> bytes:
    """The range_end that makes a range (or a watch) cover every key starting with `prefix`."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"


@dataclass(frozen=True)
class KeyValue:
    """One key as etcd stores it."""

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int

    @classmethod
    def from_wire(cls, kv: dict[str, Any]) -> KeyValue:
        """Decode the gateway's mvccpb.KeyValue (int64 fields come as strings, zero values are omitted)."""
        return cls(unb64(kv.get("key")), unb64(kv.get("value")), int(kv.get("create_revision", 0)),
                   int(kv.get("mod_revision", 0)), int(kv.get("version", 0)), int(kv.get("lease", 0)))


@dataclass(frozen=True)
class WatchEvent:
    """A put or a delete seen by a watch; `kv.mod_revision` is the revision of the change."""

    deleted: bool
    kv: KeyValue


@dataclass(frozen=True)
class WatchBatch:
    """Everything a watch response carried: the events of one or more revisions, up to `revision`."""

    revision: int
    events: list[WatchEvent]


class EtcdClient:
    """One member's JSON gateway, reached at a unix socket path."""

    def __init__(self, socket_path: Path, timeout: float = REQUEST_TIMEOUT) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    async def range(self, key: bytes, prefix: bool = False, revision: int = 0) -> tuple[list[KeyValue], int]:
        """The keys (one, or every key under a prefix) at `revision` (0: the latest), and the store's revision."""
        body: dict[str, Any] = {"key": b64(key)}
        if prefix:
            body["range_end"] = b64(prefix_end(key))
        if revision:
            body["revision"] = str(revision)
        reply = await self._call("/v3/kv/range", body, idempotent=True)
        return [KeyValue.from_wire(kv) for kv in reply.get("kvs", [])], _revision(reply)

    async def txn(self, compare: list[dict[str, Any]], success: list[dict[str, Any]],
                  failure: list[dict[str, Any]] | None = None) -> tuple[bool, int, list[dict[str, Any]]]:
        """A transaction in the gateway's shapes (see `compare_*`, `op_*`): (succeeded, revision, responses)."""
        reply = await self._call("/v3/kv/txn", {"compare": compare, "success": success, "failure": failure or []})
        return bool(reply.get("succeeded")), _revision(reply), reply.get("responses", [])

    async def delete_range(self, key: bytes, prefix: bool = False) -> tuple[int, int]:
        """Delete one key or a prefix: (how many were deleted, the revision after)."""
        body: dict[str, Any] = {"key": b64(key)}
        if prefix:
            body["range_end"] = b64(prefix_end(key))
        reply = await self._call("/v3/kv/deleterange", body)
        return int(reply.get("deleted", 0)), _revision(reply)

    async def lease_grant(self, ttl: int) -> int:
        """A new lease of `ttl` seconds; its id."""
        reply = await self._call("/v3/lease/grant", {"TTL": str(ttl)})
        return int(reply["ID"])

    async def lease_keepalive(self, lease_id: int) -> int:
        """Renew a lease; its remaining TTL (0 or less: the lease has expired)."""
        reply = await self._call("/v3/lease/keepalive", {"ID": str(lease_id)}, idempotent=True)
        result = reply.get("result", reply)
        return int(result.get("TTL", 0))

    async def lease_revoke(self, lease_id: int) -> None:
        """End a lease now: the keys attached to it are deleted."""
        await self._call("/v3/lease/revoke", {"ID": str(lease_id)})

    async def status(self) -> dict[str, Any]:
        """The member's maintenance status (version, leader, raft indexes); raises while it has no leader."""
        return await self._call("/v3/maintenance/status", {}, idempotent=True)

    async def watch(self, key: bytes, prefix: bool, start_revision: int) -> AsyncIterator[WatchBatch]:
        """Every change of a key (or prefix) from `start_revision` on, in order, until the caller stops iterating.
        Raises EtcdFailure when etcd cancels the watch (the revision was compacted) and EtcdUnavailable when the
        stream breaks; the caller resumes from the revision after the last batch it saw."""
        request: dict[str, Any] = {"key": b64(key), "start_revision": str(start_revision), "progress_notify": True}
        if prefix:
            request["range_end"] = b64(prefix_end(key))
        try:
            reader, writer = await wait_within(
                asyncio.open_unix_connection(str(self.socket_path)), self.timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise EtcdUnavailable(f"etcd does not answer at {self.socket_path}: {exc}") from exc
        try:
            writer.write(request_bytes("POST", "/v3/watch", {"create_request": request}, "etcd", keep_open=True))
            await writer.drain()
            status, headers = await wait_within(read_head(reader), self.timeout)
            if status != 200:
                _raise_reply(await read_json(reader, headers))
            async for line in chunk_lines(reader):
                message = json.loads(line)
                if "error" in message:
                    _raise_reply(message["error"])
                result = message.get("result", {})
                if result.get("created"):
                    continue  # its header revision is the store's, not what this watch has delivered yet
                if result.get("canceled") or result.get("compact_revision"):
                    raise EtcdFailure("watch canceled: " + (result.get("cancel_reason") or
                                      f"revision {start_revision} compacted"))
                events = [WatchEvent(e.get("type") == "DELETE", KeyValue.from_wire(e["kv"]))
                          for e in result.get("events", [])]
                yield WatchBatch(_revision(result), events)
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise EtcdUnavailable(f"etcd watch stream broke: {exc}") from exc
        finally:
            writer.close()

    async def _call(self, path: str, body: dict[str, Any], idempotent: bool = False) -> dict[str, Any]:
        """POST one request; retried while the socket refuses connections (and on timeouts when idempotent)."""
        attempt = 0
        while True:
            attempt += 1
            sent = False
            try:
                reader, writer = await wait_within(
                    asyncio.open_unix_connection(str(self.socket_path)), self.timeout)
                try:
                    writer.write(request_bytes("POST", path, body, "etcd"))
                    sent = True
                    return await wait_within(_read_reply(reader), self.timeout)
                finally:
                    writer.close()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as exc:
                if attempt >= RETRIES or (sent and not idempotent):
                    raise EtcdUnavailable(f"etcd does not answer at {self.socket_path} ({path}): "
                                          f"{exc or type(exc).__name__}") from exc
            except EtcdUnavailable:
                if attempt >= RETRIES or not idempotent:
                    raise
            await asyncio.sleep(RETRY_PAUSE)


def compare_mod_revision(key: bytes, revision: int) -> dict[str, Any]:
    """Compare: the key was last modified at `revision` (0: the key does not exist)."""
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(revision)}


def compare_create_revision(key: bytes, revision: int) -> dict[str, Any]:
    """Compare: the key was created at `revision` (0: the key does not exist)."""
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": str(revision)}


def op_put(key: bytes, value: bytes, lease: int = 0) -> dict[str, Any]:
    """Txn operation: put a key (attached to a lease when given)."""
    put: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        put["lease"] = str(lease)
    return {"request_put": put}


def op_delete(key: bytes) -> dict[str, Any]:
    """Txn operation: delete one key."""
    return {"request_delete_range": {"key": b64(key)}}


def op_get(key: bytes) -> dict[str, Any]:
    """Txn operation: read one key (its response carries "response_range")."""
    return {"request_range": {"key": b64(key)}}


def _revision(reply: dict[str, Any]) -> int:
    """The store revision in a reply's header."""
    return int(reply.get("header", {}).get("revision", 0))


async def _read_reply(reader: asyncio.StreamReader) -> dict[str, Any]:
    """A unary reply; etcd's errors raised."""
    status, headers = await read_head(reader)
    body = await read_json(reader, headers)
    if status != 200:
        _raise_reply(body)
    return body


def _raise_reply(error: dict[str, Any]) -> None:
    """Raise the error an error body describes (the gateway's {"error", "message", "code"})."""
    code = int(error.get("code", 0))
    message = error.get("message") or error.get("error") or "etcd failed"
    if code in GRPC_UNAVAILABLE:
        raise EtcdUnavailable(f"etcd: {message}")
    raise EtcdFailure(f"etcd: {message}", code)
