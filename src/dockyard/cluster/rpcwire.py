"""The swarm's cluster API on the wire (`/swarmrpc/v1/*`, HTTP/1.1 + JSON over mutual TLS): the route paths, the one
encoding of session messages (secret and config values travel as base64), the client calls both a joining daemon
and a worker's session make, and the mapping between errors and HTTP statuses."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from dataclasses import dataclass
from typing import Any, AsyncGenerator, AsyncIterator

from dockyard import errors
from dockyard.util.httpwire import chunk_lines, read_head, read_json, request_bytes
from dockyard.util.aio import wait_within

PREFIX = "/swarmrpc/v1"
CA, JOIN, SESSION, HEARTBEAT, STATUS, RENEW = (f"{PREFIX}/{name}" for name in ("ca", "join", "session", "heartbeat",
                                                                                "status", "renew"))
LOGS = f"{PREFIX}/logs"  # + /{subscription}
LOG_SUBSCRIPTION = "log-subscription"  # the session message asking a node for its tasks' logs
DATA_KINDS = ("secrets", "configs", "errors")  # an assignment message's `data` (values as base64 on the wire)
MANAGER_NAME = "swarm-manager"  # managers' certificates carry it as a DNS name: clients verify it, not the address
CONNECT_TIMEOUT = 5.0
CALL_TIMEOUT = 10.0
_BY_STATUS: dict[int, type[errors.DockyardError]] = {
    400: errors.InvalidParameter, 401: errors.Unauthorized, 403: errors.Forbidden, 404: errors.NotFound,
    409: errors.Conflict, 410: errors.Gone, 501: errors.NotImplementedYet, 503: errors.Unavailable}


def encode_message(message: dict[str, Any]) -> bytes:
    """One NDJSON line of a session stream."""
    if "data" in message:
        message = {**message, "data": {kind: {key: base64.b64encode(value).decode() for key, value in values.items()}
                                       for kind, values in message["data"].items()}}
    return json.dumps(message).encode() + b"\n"


def decode_message(line: bytes) -> dict[str, Any]:
    """A session message as the dispatcher built it."""
    message: dict[str, Any] = json.loads(line)
    if "data" in message:
        message["data"] = {kind: {key: base64.b64decode(value) for key, value in values.items()}
                           for kind, values in message["data"].items()}
    return message


@dataclass(frozen=True)
class LogLine:
    """One line a task's container wrote, as it came over the wire."""

    stream: str
    time: str
    data: bytes


def encode_log_line(task_id: str, stream: str, time: str, data: bytes) -> bytes:
    """One NDJSON line of a node's publication."""
    return json.dumps({"TaskID": task_id, "Stream": stream, "Time": time,
                       "Data": base64.b64encode(data).decode()}).encode() + b"\n"


def decode_log_line(line: bytes) -> tuple[str, LogLine]:
    """The task id and the entry of one published line."""
    doc = json.loads(line)
    return str(doc["TaskID"]), LogLine(str(doc["Stream"]), str(doc["Time"]), base64.b64decode(doc["Data"]))


class Peer:
    """One manager's swarm listener, reached with a TLS context."""

    def __init__(self, address: str, context: ssl.SSLContext) -> None:
        self.address = address
        self.context = context

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TLS connection to the manager (its certificate verified as the context says)."""
        host, _, port = self.address.rpartition(":")
        server_name = MANAGER_NAME if self.context.check_hostname else None
        try:
            return await wait_within(asyncio.open_connection(host.strip("[]"), int(port), ssl=self.context,
                                                                  server_hostname=server_name), CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError, ValueError) as exc:
            raise errors.Unavailable(f"could not connect to swarm manager {self.address}: "
                                     f"{exc or type(exc).__name__}") from exc

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """One request; its JSON answer, or the error it carries."""
        reader, writer = await self._connect()
        try:
            writer.write(request_bytes(method, path, body, self.address))
            status, headers = await wait_within(read_head(reader), CALL_TIMEOUT)
            answer = await wait_within(read_json(reader, headers), CALL_TIMEOUT)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            raise errors.Unavailable(f"swarm manager {self.address} did not answer {path}: "
                                     f"{exc or type(exc).__name__}") from exc
        finally:
            writer.close()
        if status >= 300:
            raise error_for(status, answer)
        return answer

    async def stream(self, path: str, body: Any) -> AsyncGenerator[dict[str, Any], None]:
        """The messages of a streaming answer, until the manager ends it or the connection breaks."""
        reader, writer = await self._connect()
        try:
            writer.write(request_bytes("POST", path, body, self.address, keep_open=True))
            status, headers = await wait_within(read_head(reader), CALL_TIMEOUT)
            if status >= 300:
                raise error_for(status, await read_json(reader, headers))
            async for line in chunk_lines(reader):
                yield decode_message(line)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            raise errors.Unavailable(f"session with swarm manager {self.address} broke: "
                                     f"{exc or type(exc).__name__}") from exc
        finally:
            writer.close()

    async def send_lines(self, path: str, lines: AsyncIterator[bytes]) -> None:
        """POST a chunked NDJSON body line by line as the lines come, until they end or the manager answers first
        (it ends a publication nobody reads any more)."""
        reader, writer = await self._connect()
        answered = asyncio.ensure_future(read_head(reader))

        async def body() -> None:
            writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.address}\r\nContent-Type: application/x-ndjson\r\n"
                         "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode())
            async for line in lines:
                writer.write(b"%x\r\n%s\r\n" % (len(line), line))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        sending = asyncio.ensure_future(body())
        try:
            await asyncio.wait({sending, answered}, return_when=asyncio.FIRST_COMPLETED)
            if sending.done():
                sending.result()
            status, headers = await wait_within(answered, CALL_TIMEOUT)
            if status >= 300:
                raise error_for(status, await wait_within(read_json(reader, headers), CALL_TIMEOUT))
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            raise errors.Unavailable(f"swarm manager {self.address} did not take {path}: "
                                     f"{exc or type(exc).__name__}") from exc
        finally:
            for pending in (sending, answered):
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
            writer.close()


def error_for(status: int, answer: Any) -> errors.DockyardError:
    """The error an answer of the cluster API carries."""
    message = answer.get("message") if isinstance(answer, dict) else None
    return _BY_STATUS.get(status, errors.SystemError_)(str(message or f"swarm manager answered {status}"))
