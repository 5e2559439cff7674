"""The client side of HTTP/1.1 for Dockyard's own peers (etcd's gateway, the swarm's cluster API): a JSON POST, a
response head, a whole body (Content-Length or chunked) and the NDJSON lines of a chunked stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator


def request_bytes(method: str, path: str, body: Any = None, host: str = "localhost", keep_open: bool = False) -> bytes:
    """An HTTP/1.1 request with a JSON body (none for None)."""
    data = b"" if body is None else json.dumps(body).encode()
    connection = "keep-alive" if keep_open else "close"
    kind = "Content-Type: application/json\r\n" if body is not None else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{kind}Content-Length: {len(data)}\r\n"
            f"Connection: {connection}\r\n\r\n").encode() + data


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of a response."""
    status_line = await reader.readline()
    if not status_line:
        raise asyncio.IncompleteReadError(b"", None)
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def read_json(reader: asyncio.StreamReader, headers: dict[str, str]) -> Any:
    """A whole JSON body, sent with Content-Length or chunked ({} when empty)."""
    if "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        data = b"".join([chunk async for chunk in chunks(reader)])
    else:
        data = await reader.read()
    return json.loads(data) if data.strip() else {}


async def chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The chunks of a chunked body, until its last chunk."""
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        chunk = await reader.readexactly(size)
        await reader.readexactly(2)
        yield chunk


def chunk_lines(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The NDJSON lines of a chunked stream (a line may span chunks, a chunk may hold several lines)."""
    return split_lines(chunks(reader))


async def split_lines(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The non-empty lines of a body read piece by piece (a line may span pieces, a piece may hold several)."""
    pending = b""
    async for chunk in pieces:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield line
    if pending.strip():
        yield pending
