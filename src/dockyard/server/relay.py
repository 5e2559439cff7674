"""Interactive streams between a hijacked client connection and a shim session: stdin with detach keys,
output as raw bytes (TTY) or stdcopy frames, and the exit code of an exec'd process."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

from dockyard.errors import Conflict
from dockyard.runtime import streams
from dockyard.server.backends import AttachBackend, EventsBackend
from dockyard.server.routing import Hijack
from dockyard.util.detachkeys import DetachScanner
from dockyard.util.stdcopy import frame

_READ_SIZE = 65536


@dataclass
class ShimStream:
    """An open shim session (attach or exec) and how to present it to a client."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    tty: bool
    stdin: bool
    wants: set[str] = field(default_factory=lambda: {"stdout", "stderr"})
    detach_keys: bytes = b"\x10\x11"
    drain_after_detach: bool = False  # an exec keeps running: read on to learn its exit code


async def open_attach(containers: AttachBackend, events: EventsBackend, container_id: str, req: dict[str, Any],
                      detach_keys: bytes, tty: bool) -> ShimStream | None:
    """An attach session with the container's shim, waiting for the start of a created container;
    None when the container ended (or is gone) before a session could be opened."""
    sub = events.subscribe(None, None, {"container": [container_id], "type": ["container"],
                                        "event": ["start", "die", "destroy"]})
    try:
        replay = False
        while True:
            doc, shim = containers.runtime_of(container_id)
            if shim is not None:
                break
            if doc.state.status != "created":
                return None
            replay = True  # attached before the start: the shim replays what came out meanwhile
            event = await sub.__anext__()
            if event["Action"] != "start":
                return None
    finally:
        sub.close()
    try:
        reader, writer, answer = await shim.open_stream(dict(req, op="attach", replay=replay))
    except Conflict:
        return None
    if "error" in answer:
        return None
    return ShimStream(reader, writer, tty, bool(req.get("stdin")),
                      {name for name in ("stdout", "stderr") if req.get(name)}, detach_keys)


async def relay(hijack: Hijack | None, stream: ShimStream,
                on_end: Callable[[int | None], None] | None = None) -> None:
    """Copy stdin (until EOF or the detach keys) to the shim and output to the client until the session
    ends; `on_end` gets the exit code an exec session reported (None for attach sessions or a lost shim)
    before the client's connection is closed. `hijack` None runs a detached exec to its end."""
    client = _Client(hijack)
    if hijack is None and stream.writer.can_write_eof():
        stream.writer.write_eof()  # nobody will feed a detached process: its stdin ends now
    down = asyncio.ensure_future(_downstream(stream, client))
    up = asyncio.ensure_future(_upstream(hijack, stream)) if hijack is not None and stream.stdin else None
    code = None
    try:
        if up is not None:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up.done() and up.result():  # detached
                client.close()
                if not stream.drain_after_detach:
                    down.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            code = await down
        if on_end is not None:
            on_end(code)
    finally:
        for task in (up, down):
            if task is not None and not task.done():
                task.cancel()
        client.close()
        stream.writer.close()


class _Client:
    """The hijacked client side of a relay; output to it stops once it is gone or detached."""

    def __init__(self, hijack: Hijack | None) -> None:
        self.hijack = hijack

    async def write(self, data: bytes) -> None:
        """Send output; a client that went away is forgotten."""
        if self.hijack is None:
            return
        try:
            self.hijack.writer.write(data)
            await self.hijack.writer.drain()
        except ConnectionError:
            self.close()

    def close(self) -> None:
        """Close the client's connection (once)."""
        if self.hijack is not None:
            self.hijack.writer.close()
            self.hijack = None


async def _downstream(stream: ShimStream, client: _Client) -> int | None:
    """Shim frames to the client; the exit code from an EXIT frame, None at a plain end of stream."""
    while (item := await streams.read_frame(stream.reader)) is not None:
        kind, payload = item
        if kind == streams.EXIT:
            return streams.decode_exit(payload)
        name = "stdout" if kind == streams.STDOUT else "stderr"
        if name in stream.wants and payload:
            await client.write(payload if stream.tty else frame(kind, payload))
        if client.hijack is None and not stream.drain_after_detach:
            return None  # the client is gone: an attach session has nobody left to serve
    return None


async def _upstream(hijack: Hijack, stream: ShimStream) -> bool:
    """Client bytes to the shim's stdin; True when the client typed the detach keys, False at its EOF."""
    scanner = DetachScanner(stream.detach_keys)
    try:
        while data := await hijack.reader.read(_READ_SIZE):
            forward, detached = scanner.feed(data)
            if forward:
                stream.writer.write(forward)
                await stream.writer.drain()
            if detached:
                return True
        if stream.writer.can_write_eof():
            stream.writer.write_eof()
    except ConnectionError:
        pass  # either side went away: the output side notices and ends the relay
    return False
