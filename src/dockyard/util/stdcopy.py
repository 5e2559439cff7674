"""Docker's stdcopy framing: an 8-byte header (stream, 0, 0, 0, big-endian length) before each frame."""

from __future__ import annotations

import struct

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER = struct.Struct(">BxxxI")
MAX_FRAME = 0xFFFFFFFF


def frame(stream: int, data: bytes) -> bytes:
    """Frames carrying `data` on `stream` (split past 4 GiB; nothing for empty data)."""
    if not 0 <= stream <= SYSTEMERR:
        raise ValueError(f"invalid stdcopy stream {stream}")
    return b"".join(HEADER.pack(stream, len(part)) + part
                    for part in (data[i:i + MAX_FRAME] for i in range(0, len(data), MAX_FRAME)))


class Demuxer:
    """Incremental splitter: feed bytes as they arrive, get back complete (stream, payload) frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Frames completed by `data`; a partial frame waits for more bytes."""
        self._buf += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buf) >= HEADER.size:
            stream, size = HEADER.unpack_from(self._buf)
            if stream > SYSTEMERR:
                raise ValueError(f"unrecognized stdcopy stream {stream}")
            end = HEADER.size + size
            if len(self._buf) < end:
                break
            frames.append((stream, bytes(self._buf[HEADER.size:end])))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)
