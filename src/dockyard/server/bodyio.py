"""Request and response bodies for executor threads: a blocking reader over an async request body, and a
stream fed by a blocking writer."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, BinaryIO, Callable

from dockyard.util.aio import run_blocking

_QUEUE_DEPTH = 8
_FLUSH_SIZE = 256 << 10


class BodyReader:
    """A blocking file-like view (read(n)) of an async request body, for use in an executor thread."""

    def __init__(self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self._chunks = chunks
        self._loop = loop
        self._pending = b""
        self._done = False

    def _next_chunk(self) -> bytes:
        """Fetch the next body chunk from the event loop (b"" at the end)."""
        async def pull() -> bytes:
            """Await the next chunk on the loop."""
            return await anext(self._chunks, b"")
        return asyncio.run_coroutine_threadsafe(pull(), self._loop).result()

    def read(self, n: int = -1) -> bytes:
        """Up to `n` bytes (everything left when n < 0); b"" at the end of the body."""
        while not self._done and (n < 0 or len(self._pending) < n):
            chunk = self._next_chunk()
            if not chunk:
                self._done = True
            self._pending += chunk
        if n < 0:
            data, self._pending = self._pending, b""
        else:
            data, self._pending = self._pending[:n], self._pending[n:]
        return data


class QueueWriter:
    """A blocking writer (for an executor thread) whose bytes become the chunks of an async Stream."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(_QUEUE_DEPTH)
        self._buffer = bytearray()
        self.closed = False

    def _put(self, item: bytes | BaseException | None) -> None:
        asyncio.run_coroutine_threadsafe(self.queue.put(item), self._loop).result()

    def write(self, data: bytes) -> int:
        """Buffer `data`, handing full chunks to the stream; BrokenPipeError once the client has gone."""
        if self.closed:
            raise BrokenPipeError("client went away")
        self._buffer += data
        if len(self._buffer) >= _FLUSH_SIZE:
            self.flush()
        return len(data)

    def flush(self) -> None:
        """Hand whatever is buffered to the stream."""
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()

    def finish(self, error: BaseException | None) -> None:
        """Flush and signal the end (or the error) to the stream."""
        if not self.closed:
            if error is None:
                self.flush()
            self._put(error)


async def stream_from_writer(produce: Callable[[BinaryIO], None]) -> AsyncIterator[bytes]:
    """Run `produce(writer)` in the executor and yield what it writes as it writes it."""
    writer = QueueWriter(asyncio.get_running_loop())

    def run() -> None:
        """Produce in the executor; the end or the error goes through the queue."""
        try:
            produce(writer)  # type: ignore[arg-type]
        except BaseException as exc:  # handed to the stream, which re-raises it
            writer.finish(exc)
            return
        writer.finish(None)

    task = asyncio.ensure_future(run_blocking(run))
    try:
        while (item := await writer.queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        writer.closed = True
        while not task.done():
            while not writer.queue.empty():
                writer.queue.get_nowait()
            await asyncio.sleep(0.01)
