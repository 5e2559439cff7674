"""Attach over a websocket (/containers/{id}/attach/ws) with a raw-socket client, the frame codec, and logs=1
on the live attach path (log replayed, then live)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time

import pytest

from daemon_harness import Daemon
from dockyard.util import websocket
from helpers import unique, wait_for


# ----- a tiny websocket client written for the test (independent of the codec under test) ----------------------

class WsClient:
    """A raw-socket websocket client: masked frames out, frames in."""

    def __init__(self, sock: socket.socket, head: bytes) -> None:
        self.sock = sock
        self.head = head
        self.buffer = b""

    def send(self, opcode: int, payload: bytes) -> None:
        key = os.urandom(4)
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        size = len(payload)
        length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack("!H", size)
        self.sock.sendall(bytes([0x80 | opcode]) + length + key + masked)

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def recv(self) -> tuple[int, bytes]:
        first, second = self._take(2)
        assert not second & 0x80, "server frames are not masked"
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self._take(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self._take(8))
        return first & 0x0F, self._take(size)

    def read_until(self, wanted: bytes, opcode: int = 0x2) -> bytes:
        """Concatenate data frames (of `opcode`) until `wanted` has been seen."""
        data = b""
        while wanted not in data:
            kind, payload = self.recv()
            assert kind == opcode, (kind, payload)
            data += payload
        return data

    def close(self) -> None:
        self.sock.close()


def ws_connect(clean: Daemon, path: str, key: str | None = None, version: str = "1.45",
               method: str = "GET") -> WsClient:
    key = key or base64.b64encode(os.urandom(16)).decode()
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(15)
    sock.connect(str(clean.socket))
    sock.sendall(f"{method} /v{version}{path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
                 f"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
                 f"Origin: http://localhost\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    return WsClient(sock, head)


def create(clean: Daemon, cmd: list[str], **extra) -> str:
    name = unique("ws")
    body = {"Image": "busybox", "Cmd": cmd, "HostConfig": {"NetworkMode": "none"}, **extra}
    clean.api("POST", f"/containers/create?name={name}", body)
    return name


def wait_exit(clean: Daemon, name: str, timeout: float = 15) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = clean.api("GET", f"/containers/{name}/json")["State"]
        if not state["Running"]:
            return state["ExitCode"]
        time.sleep(0.1)
    raise AssertionError(f"{name} still running")


# ----- the daemon ----------------------------------------------------------------------------------------

def test_ws_stdin_echo_with_cat_ping_and_close(clean: Daemon) -> None:
    name = create(clean, ["cat"], OpenStdin=True, StdinOnce=True, AttachStdin=True)
    clean.api("POST", f"/containers/{name}/start")
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's example
    ws = ws_connect(clean, f"/containers/{name}/attach/ws?stdin=1&stdout=1&stderr=1&stream=1", key=key)
    try:
        head = ws.head.decode()
        assert head.startswith("HTTP/1.1 101 Switching Protocols\r\n"), head
        assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in head
        assert "Upgrade: websocket\r\n" in head
        ws.send(0x2, b"hello over ws\n")
        assert ws.read_until(b"hello over ws\n") == b"hello over ws\n"  # raw bytes, never stdcopy-framed
        ws.send(0x9, b"are you there")
        assert ws.recv() == (0xA, b"are you there")
        ws.send(0x1, b"second line\n")  # text frames are stdin too
        assert ws.read_until(b"second line\n") == b"second line\n"
        ws.send(0x8, struct.pack("!H", 1000))
        kind, payload = ws.recv()
        assert kind == 0x8 and payload[:2] == struct.pack("!H", 1000)
        assert ws.sock.recv(100) == b""
    finally:
        ws.close()
    assert wait_exit(clean, name) == 0  # the close ended cat's stdin
    assert clean.request("GET", f"/containers/{name}/logs?stdout=1")[1] == (
        b"\x01\x00\x00\x00\x00\x00\x00\x0ehello over ws\n\x01\x00\x00\x00\x00\x00\x00\x0csecond line\n")


def test_ws_logs_then_follow_without_stdin_and_old_api_text_frames(clean: Daemon) -> None:
    name = create(clean, ["sh", "-c", "echo one; read x; echo two; echo err >&2"], OpenStdin=True)
    clean.api("POST", f"/containers/{name}/start")
    wait_for(lambda: b"one" in clean.request("GET", f"/containers/{name}/logs?stdout=1")[1], interval=0.05)
    # API 1.27: text frames, and every stream by default (the query chooses only from 1.42)
    ws = ws_connect(clean, f"/containers/{name}/attach/ws?logs=1&stream=1", version="1.27")
    try:
        assert ws.head.startswith(b"HTTP/1.1 101 ")
        assert ws.read_until(b"one\n", opcode=0x1) == b"one\n"  # replayed from the log
        ws.send(0x2, b"go\n")
        assert set(ws.read_until(b"err\n", opcode=0x1).split()) >= {b"two", b"err"}
        kind, _ = ws.recv()
        assert kind == 0x8  # the container ended: the daemon closes the session
    finally:
        ws.close()
    assert wait_exit(clean, name) == 0


def test_ws_stream_selection_from_api_1_42(clean: Daemon) -> None:
    name = create(clean, ["sh", "-c", "echo out; echo err >&2"])
    clean.api("POST", f"/containers/{name}/start")
    assert wait_exit(clean, name) == 0
    ws = ws_connect(clean, f"/containers/{name}/attach/ws?logs=1&stdout=1")
    try:  # dockerd attaches to a stopped container too (the CLI refuses, not the daemon): its log, then close
        assert ws.head.startswith(b"HTTP/1.1 101 ")
        received = b""
        while (frame := ws.recv())[0] != 0x8:
            received += frame[1]
        assert received == b"out\n"  # only stdout, as asked from API 1.42 on
    finally:
        ws.close()


def test_ws_handshake_errors(clean: Daemon) -> None:
    name = create(clean, ["sleep", "30"])
    clean.api("POST", f"/containers/{name}/start")
    assert clean.request("GET", f"/containers/{name}/attach/ws?stream=1")[0] == 400  # not an upgrade
    bad_key = ws_connect(clean, f"/containers/{name}/attach/ws?stream=1", key="c2hvcnQ=")
    try:
        assert bad_key.head.startswith(b"HTTP/1.1 400 ")
    finally:
        bad_key.close()
    missing = ws_connect(clean, "/containers/no-such-container/attach/ws?stream=1")
    try:
        assert missing.head.startswith(b"HTTP/1.1 404 ")
    finally:
        missing.close()
    unmasked = ws_connect(clean, f"/containers/{name}/attach/ws?stream=1&stdout=1&stdin=1", method="POST")
    try:
        assert unmasked.head.startswith(b"HTTP/1.1 101 ")
        unmasked.sock.sendall(b"\x82\x02hi")  # a client frame without a mask: protocol error 1002
        kind, payload = unmasked.recv()
        assert kind == 0x8 and payload[:2] == struct.pack("!H", 1002)
    finally:
        unmasked.close()


# ----- logs=1 on the live (stdin) attach path ----------------------------------------------------------

def _hijack(clean: Daemon, path: str) -> socket.socket:
    sock, head = clean.hijack(path, timeout=15)
    assert head.startswith(b"HTTP/1.1 101 UPGRADED"), head
    return sock


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, data
        data += chunk
    return data


@pytest.mark.parametrize("tty", [False, True])
def test_attach_logs_replayed_before_live_stdin(clean: Daemon, tty: bool) -> None:
    name = create(clean, ["sh", "-c", "echo before; exec cat"], OpenStdin=True, Tty=tty)
    clean.api("POST", f"/containers/{name}/start")
    wait_for(lambda: b"before" in clean.request("GET", f"/containers/{name}/logs?stdout=1")[1], interval=0.05)
    sock = _hijack(clean, f"/containers/{name}/attach?logs=1&stream=1&stdin=1&stdout=1&stderr=1")
    with sock:
        if tty:
            assert _read_exactly(sock, 8) == b"before\r\n"
            sock.sendall(b"live\n")
            data = b""
            while data.count(b"live") < 2:  # the pty echoes the input, then cat prints it
                data += sock.recv(65536)
        else:
            assert _read_exactly(sock, 15) == b"\x01\x00\x00\x00\x00\x00\x00\x07before\n"
            sock.sendall(b"live\n")
            assert _read_exactly(sock, 13) == b"\x01\x00\x00\x00\x00\x00\x00\x05live\n"
    clean.api("POST", f"/containers/{name}/kill")


# ----- the codec -----------------------------------------------------------------------------------------

def test_accept_key_and_key_validation() -> None:
    assert websocket.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert websocket.valid_key(base64.b64encode(os.urandom(16)).decode())
    assert not websocket.valid_key("c2hvcnQ=") and not websocket.valid_key("not base64!")


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 200000])
def test_frames_round_trip_masked_and_unmasked(size: int) -> None:
    payload = os.urandom(size)

    async def decode(raw: bytes, require_mask: bool) -> websocket.Frame | None:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await websocket.read_frame(reader, require_mask=require_mask)

    masked = websocket.encode_frame(websocket.BINARY, payload, mask_key=b"\x01\x02\x03\x04")
    frame = asyncio.run(decode(masked, True))
    assert frame == websocket.Frame(websocket.BINARY, payload, True)
    plain = websocket.encode_frame(websocket.TEXT, payload, fin=False)
    assert asyncio.run(decode(plain, False)) == websocket.Frame(websocket.TEXT, payload, False)
    with pytest.raises(websocket.ProtocolError):
        asyncio.run(decode(plain, True))
    assert asyncio.run(decode(b"", True)) is None
    with pytest.raises(websocket.ProtocolError):
        asyncio.run(decode(masked[:-1], True) if size else decode(masked[:1], True))


def test_pump_answers_pings_reassembles_fragments_and_rejects_bad_frames() -> None:
    async def run(raw: bytes) -> tuple[bytes, bytes]:
        server_side = asyncio.StreamReader()
        server_side.feed_data(raw)
        server_side.feed_eof()
        sent = bytearray()

        class Transport:
            def write(self, data: bytes) -> None:
                sent.extend(data)

            async def drain(self) -> None:
                return None

            def close(self) -> None:
                return None

            def is_closing(self) -> bool:
                return False

        out = websocket.FrameWriter(Transport())  # type: ignore[arg-type]
        data = asyncio.StreamReader()
        await websocket.pump_frames(server_side, data, out)
        return await data.read(), bytes(sent)

    key = b"abcd"
    raw = (websocket.encode_frame(websocket.TEXT, b"hel", fin=False, mask_key=key)
           + websocket.encode_frame(websocket.PING, b"p", mask_key=key)
           + websocket.encode_frame(websocket.CONTINUATION, b"lo", mask_key=key)
           + websocket.encode_frame(websocket.CLOSE, struct.pack("!H", 1001), mask_key=key)
           + websocket.encode_frame(websocket.BINARY, b"after close", mask_key=key))
    data, sent = asyncio.run(run(raw))
    assert data == b"hello"
    assert sent == websocket.encode_frame(websocket.PONG, b"p") + websocket.encode_frame(
        websocket.CLOSE, struct.pack("!H", 1001))
    big_ping = websocket.encode_frame(websocket.PING, b"x" * 126, mask_key=key)
    data, sent = asyncio.run(run(big_ping))
    assert data == b"" and sent == websocket.encode_frame(websocket.CLOSE, struct.pack("!H", 1002))
    reserved = bytes([0x80 | 0x40 | websocket.BINARY]) + websocket.encode_frame(
        websocket.BINARY, b"x", mask_key=key)[1:]
    assert asyncio.run(run(reserved))[1] == websocket.encode_frame(websocket.CLOSE, struct.pack("!H", 1002))
