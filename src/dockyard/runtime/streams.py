"""Framing of a shim stream session (attach or exec): stdcopy-style 8-byte headers, plus an exit frame.

After a JSON answer line, the shim sends frames (kind, 3 zero bytes, big-endian length, payload):
kind 1 is stdout (and a TTY's output), 2 stderr, EXIT carries the process's exit code as a signed int.
The other direction is raw bytes for the process's stdin; a half-close ends its stdin.
"""

from __future__ import annotations

import asyncio
import struct

STDOUT, STDERR, EXIT = 1, 2, 0x7F
HEADER = struct.Struct(">BxxxI")
STREAM_KINDS = {"stdout": STDOUT, "stderr": STDERR}


def encode(kind: int, data: bytes) -> bytes:
    """One frame."""
    return HEADER.pack(kind, len(data)) + data


def encode_exit(code: int) -> bytes:
    """The final frame of an exec session."""
    return encode(EXIT, struct.pack(">i", code))


def decode_exit(payload: bytes) -> int:
    """The exit code in an EXIT frame's payload."""
    return int(struct.unpack(">i", payload)[0])


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """The next frame, or None at the end of the stream (a cut-off frame counts as the end)."""
    try:
        head = await reader.readexactly(HEADER.size)
        kind, size = HEADER.unpack(head)
        return kind, await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
