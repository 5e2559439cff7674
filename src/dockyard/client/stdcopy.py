"""Demultiplex Docker's stdcopy stream (8-byte header: stream, 0, 0, 0, big-endian length)."""

from __future__ import annotations

import io
import sys
from typing import BinaryIO, Callable, Iterator


def frames(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes]]:
    """(stream id, payload) of each frame."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], "big")
            if len(buf) < 8 + size:
                break
            stream, payload, buf = buf[0], buf[8:8 + size], buf[8 + size:]
            if stream not in (0, 1, 2, 3):
                raise ValueError(f"Unrecognized input header: {stream}")
            yield stream, payload
    if buf:
        raise ValueError("unexpected EOF in multiplexed stream")


def demux(chunks: Iterator[bytes], stdout: BinaryIO, stderr: BinaryIO) -> None:
    """Copy framed output to stdout (streams 0/1) and stderr (stream 2), flushing per frame."""
    for stream, payload in frames(chunks):
        out = stderr if stream in (2, 3) else stdout
        out.write(payload)
        out.flush()


def stdin_chunks(size: int = 65536) -> Iterator[bytes]:
    """Yield stdin's bytes as they arrive (read1 when buffered: a terminal or pipe is not waited on to fill
    `size`) until EOF."""
    stream = sys.stdin.buffer
    read = stream.read1 if isinstance(stream, io.BufferedIOBase) else stream.read
    while data := read(size):
        yield data


def raw_chunks(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """Yield reads from a raw (hijacked) stream until EOF."""
    while True:
        data = read(65536)
        if not data:
            return
        yield data
