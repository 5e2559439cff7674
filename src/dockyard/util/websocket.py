"""RFC 6455 websockets: the handshake's accept key, frame encoding and decoding, and a duplex byte stream
over an upgraded connection (data frames in, data frames out; pings answered, closes echoed)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from dataclasses import dataclass

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG = 1000, 1002, 1009
MAX_PAYLOAD = 16 << 20
_CONTROL = frozenset({CLOSE, PING, PONG})
_DATA = frozenset({CONTINUATION, TEXT, BINARY})


class ProtocolError(Exception):
    """The peer broke RFC 6455; `code` is the close status to answer with."""

    def __init__(self, message: str, code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Frame:
    """One decoded frame."""

    opcode: int
    payload: bytes
    fin: bool = True


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key.strip() + GUID).encode()).digest()).decode()


def valid_key(key: str) -> bool:
    """A Sec-WebSocket-Key is the base64 of 16 bytes."""
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except ValueError:
        return False


def _mask(payload: bytes, key: bytes) -> bytes:
    """XOR `payload` with the 4-byte masking key (its own inverse)."""
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


def encode_frame(opcode: int, payload: bytes, fin: bool = True, mask_key: bytes | None = None) -> bytes:
    """One frame; a server sends unmasked frames, a client masks with a 4-byte `mask_key`."""
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if mask_key is not None else 0
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", first, mask_bit | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, size)
    if mask_key is None:
        return head + payload
    return head + mask_key + _mask(payload, mask_key)


def close_payload(code: int, reason: str = "") -> bytes:
    """The body of a close frame: status code then a UTF-8 reason."""
    return struct.pack("!H", code) + reason.encode()[:123]


async def read_frame(reader: asyncio.StreamReader, require_mask: bool = True,
                     max_payload: int = MAX_PAYLOAD) -> Frame | None:
    """The next frame, unmasked; None at a clean EOF between frames. Clients must mask (`require_mask`)."""
    try:
        first = await reader.readexactly(2)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("truncated frame header") from None
        return None
    fin, rsv, opcode = bool(first[0] & 0x80), first[0] & 0x70, first[0] & 0x0F
    masked, size = bool(first[1] & 0x80), first[1] & 0x7F
    if rsv:
        raise ProtocolError("reserved bits set without a negotiated extension")
    if opcode not in _CONTROL and opcode not in _DATA:
        raise ProtocolError(f"unknown opcode {opcode:#x}")
    if opcode in _CONTROL and (size > 125 or not fin):
        raise ProtocolError("control frames must be short and unfragmented")
    if require_mask and not masked:
        raise ProtocolError("client frames must be masked")
    try:
        if size == 126:
            (size,) = struct.unpack("!H", await reader.readexactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", await reader.readexactly(8))
        if size > max_payload:
            raise ProtocolError(f"frame of {size} bytes is too big", CLOSE_TOO_BIG)
        key = await reader.readexactly(4) if masked else None
        payload = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise ProtocolError("truncated frame") from None
    return Frame(opcode, _mask(payload, key) if key else payload, fin)


class FrameWriter:
    """The writing half a relay sees: write() sends each piece of output as one data frame, close() ends the
    session with a close frame (once) and closes the connection."""

    def __init__(self, writer: asyncio.StreamWriter, opcode: int = BINARY) -> None:
        self._writer = writer
        self.opcode = opcode
        self.closing = False

    def write(self, data: bytes) -> None:
        """Queue `data` as one data frame; ConnectionResetError once the session is closing."""
        if self.closing:
            raise ConnectionResetError("websocket closed")
        if data:
            self._writer.write(encode_frame(self.opcode, data))

    def control(self, opcode: int, payload: bytes) -> None:
        """Queue a control frame (pong, close)."""
        if not self.closing:
            self._writer.write(encode_frame(opcode, payload))

    async def drain(self) -> None:
        """Wait until the transport's buffer is low."""
        await self._writer.drain()

    def close(self, code: int = CLOSE_NORMAL) -> None:
        """Send a close frame (once) and close the connection after what is queued."""
        if not self.closing:
            self.control(CLOSE, close_payload(code))
            self.closing = True
        self._writer.close()

    def is_closing(self) -> bool:
        """True once the close frame went out or the transport is closing."""
        return self.closing or self._writer.is_closing()


async def pump_frames(source: asyncio.StreamReader, target: asyncio.StreamReader, out: FrameWriter) -> None:
    """Feed the payload of every data frame from `source` into `target`; answer pings, echo a close and end
    `target` at the close or EOF. A protocol error closes the session with its status code."""
    try:
        while (frame := await read_frame(source)) is not None:
            if frame.opcode in _DATA:
                if frame.payload:
                    target.feed_data(frame.payload)
            elif frame.opcode == PING:
                out.control(PONG, frame.payload)
                await out.drain()
            elif frame.opcode == CLOSE:
                code = struct.unpack("!H", frame.payload[:2])[0] if len(frame.payload) >= 2 else CLOSE_NORMAL
                out.close(code)  # echo the peer's close and hang up
                break
    except ProtocolError as exc:
        out.close(exc.code)
    except ConnectionError:
        pass  # the peer vanished: end of input, like a close
    target.feed_eof()


@dataclass
class WebSocketStream:
    """A duplex byte stream over a websocket: `reader` yields the client's data, `writer` frames output."""

    reader: asyncio.StreamReader
    writer: FrameWriter
    pump: asyncio.Task[None]


def open_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, opcode: int = BINARY,
                limit: int = 1 << 16) -> WebSocketStream:
    """Start decoding client frames from an upgraded connection into a byte stream (call on the loop)."""
    out = FrameWriter(writer, opcode)
    data = asyncio.StreamReader(limit=limit)
    pump = asyncio.get_running_loop().create_task(pump_frames(reader, data, out))
    return WebSocketStream(data, out, pump)
