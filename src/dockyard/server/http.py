"""HTTP/1.1 on asyncio streams: request heads, bodies, responses, hijacking and listeners."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import os
import re
import socket
import ssl
import stat
import urllib.parse
from http import HTTPStatus
from pathlib import Path
from typing import Any, AsyncIterator, Protocol

from dockyard.errors import DockyardError, InvalidParameter, SystemError_
from dockyard.server.routing import HIJACKED, Empty, File, Hijack, Raw, Request, Response, Stream
from dockyard.util.tls import start_tls_server
from dockyard.util.aio import wait_within

log = logging.getLogger(__name__)

MAX_LINE = 64 << 10          # one request or header line
MAX_HEAD = 1 << 20           # the whole request head (Go's DefaultMaxHeaderBytes)
MAX_HEADERS = 256
DRAIN_LIMIT = 1 << 20        # unread body we still skip to keep the connection alive
READ_SIZE = 64 << 10
IDLE_TIMEOUT = 300.0         # seconds a connection may take to send the next request head
BACKLOG = 4096               # listen(2) backlog, as dockerd's (bursts of connects are queued, not refused)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_REQUEST_LINE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP/1\.([01])\Z")
_NO_BODY_STATUS = frozenset({204, 304})


class Application(Protocol):
    """What the HTTP layer serves: a request handler, the error mapping and the common headers."""

    headers: list[tuple[str, str]]

    async def handle(self, request: Request) -> Response | object:
        """Answer one request with a Response, or HIJACKED after taking the connection."""

    def error(self, exc: BaseException, where: str = ...) -> Response:
        """The response for an error (`where`: the request it answers, for the log)."""


class RequestHead:
    """A parsed request line and header block."""

    def __init__(self, method: str, target: str, minor: int, headers: dict[str, str]) -> None:
        self.method = method
        self.target = target
        self.minor = minor
        self.headers = headers

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless asked not to; 1.0 is closed after the response."""
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        return self.minor == 1 and "close" not in tokens


def parse_request_line(line: str) -> tuple[str, str, int]:
    """Method, target and minor version of a request line."""
    m = _REQUEST_LINE.match(line)
    if not m or not m.group(2).startswith("/"):
        raise InvalidParameter(f"malformed HTTP request {line[:64]!r}")
    return m.group(1), m.group(2), int(m.group(3))


def parse_header_line(line: str, headers: dict[str, str]) -> None:
    """Add one "Name: value" line to `headers` (lower-case names, repeated ones joined by ", ")."""
    name, sep, value = line.partition(":")
    if not sep or not _TOKEN.match(name):
        raise InvalidParameter(f"malformed HTTP header {line[:64]!r}")
    key, value = name.lower(), value.strip()
    headers[key] = f"{headers[key]}, {value}" if key in headers else value


def body_framing(headers: dict[str, str]) -> tuple[bool, int]:
    """(chunked, content_length) from the headers; rejects ambiguous or invalid framing."""
    te = headers.get("transfer-encoding")
    cl = headers.get("content-length")
    if te is not None:
        if cl is not None:
            raise InvalidParameter("both Transfer-Encoding and Content-Length in request")
        if te.strip().lower() != "chunked":
            raise InvalidParameter(f"unsupported Transfer-Encoding {te!r}")
        return True, 0
    if cl is None:
        return False, 0
    values = {v.strip() for v in cl.split(",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise InvalidParameter(f"invalid Content-Length {cl!r}")
    return False, int(next(iter(values)))


def status_line(status: int, reason: str | None = None) -> bytes:
    """"HTTP/1.1 200 OK" with docker's reason for 101 unless another `reason` is given."""
    if reason is None and status == 101:
        reason = "UPGRADED"
    elif reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    return f"HTTP/1.1 {status} {reason}\r\n".encode()


def encode_head(status: int, headers: list[tuple[str, str]], reason: str | None = None) -> bytes:
    """A full response head."""
    lines = [status_line(status, reason)]
    lines.extend(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)
    lines.append(b"\r\n")
    return b"".join(lines)


class Connection:
    """One client connection: reads requests in order, answers each, until close or hijack."""

    def __init__(self, app: Application, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.app = app
        self.reader = reader
        self.writer = writer
        self.idle_timeout = idle_timeout
        self.idle = True
        self.hijacked = False
        self._pending = bytearray()
        self._chunked = False
        self._left = 0
        self._body_done = True
        self._continue_due = False
        self._pump: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Serve requests until the client leaves, an error closes the connection, or a hijack."""
        try:
            while await self._serve_one():
                pass
        except ConnectionError:
            pass
        finally:
            if not self.hijacked:
                self._close()

    def close_if_idle(self) -> None:
        """Close the connection when it waits for a request (used at shutdown)."""
        if self.idle and not self.hijacked:
            self._close()

    def _close(self) -> None:
        """Close the transport now."""
        self.writer.close()

    async def _serve_one(self) -> bool:
        """Read and answer one request; True when the connection may carry another."""
        self.idle = True
        try:
            head = await wait_within(self._read_head(), self.idle_timeout)
        except asyncio.TimeoutError:
            return False
        except DockyardError as exc:
            await self._send(self.app.error(exc), "GET", keep_alive=False)
            return False
        if head is None:
            return False
        self.idle = False
        try:
            self._chunked, self._left = body_framing(head.headers)
        except DockyardError as exc:
            await self._send(self.app.error(exc), head.method, keep_alive=False)
            return False
        self._body_done = not self._chunked and self._left == 0
        self._continue_due = (not self._body_done
                              and head.headers.get("expect", "").lower() == "100-continue")
        path, _, query = head.target.partition("?")
        request = Request(head.method, path, urllib.parse.parse_qs(query, keep_blank_values=True),
                          head.headers, self)
        result = await self.app.handle(request)
        if self.hijacked:
            if result is not HIJACKED:
                log.error("%s %s hijacked the connection but returned %r", head.method, path, result)
                self._close()
            return False
        if result is HIJACKED or not isinstance(result, Response):
            result = self.app.error(SystemError_(f"handler for {head.method} {path} returned no response"),
                                    f"{head.method} {path}")
        keep_alive = head.keep_alive and not self._continue_due
        sent = await self._send(result, head.method, keep_alive)
        return sent and keep_alive and await self._finish_body()

    async def _read_head(self) -> RequestHead | None:
        """The next request head, or None on a clean end of stream."""
        line = await self._readline()
        while line in (b"\r\n", b"\n"):
            line = await self._readline()
        if not line:
            return None
        method, target, minor = parse_request_line(_text(line))
        headers: dict[str, str] = {}
        size = len(line)
        while True:
            line = await self._readline()
            size += len(line)
            if not line:
                raise InvalidParameter("unexpected EOF in request head")
            if line in (b"\r\n", b"\n"):
                return RequestHead(method, target, minor, headers)
            if size > MAX_HEAD or len(headers) >= MAX_HEADERS:
                raise InvalidParameter("request header too large")
            parse_header_line(_text(line), headers)

    async def _readline(self) -> bytes:
        """One line (with its newline) from pushed-back bytes then the stream; b"" at EOF."""
        prefix = b""
        if self._pending:
            i = self._pending.find(b"\n")
            if i >= 0:
                line = bytes(self._pending[:i + 1])
                del self._pending[:i + 1]
                return line
            prefix = bytes(self._pending)
            self._pending.clear()
        try:
            return prefix + await self.reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if prefix or exc.partial:
                raise InvalidParameter("unexpected EOF in request") from None
            return b""
        except asyncio.LimitOverrunError:
            raise InvalidParameter("request header too large") from None

    async def _read(self, n: int) -> bytes:
        """Up to n bytes, pushed-back ones first; EOF is an error inside a body."""
        if self._pending:
            data = bytes(self._pending[:n])
            del self._pending[:n]
            return data
        data = await self.reader.read(n)
        if not data:
            raise InvalidParameter("unexpected EOF in request body")
        return data

    async def _next_body_piece(self) -> bytes:
        """The next piece of the request body, b"" once it is complete."""
        if self._body_done:
            return b""
        if self._continue_due:
            self._continue_due = False
            self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await self.writer.drain()
        if self._chunked and self._left == 0:
            self._left = await self._chunk_size()
            if self._left == 0:
                await self._skip_trailers()
                self._body_done = True
                return b""
        data = await self._read(min(self._left, READ_SIZE))
        self._left -= len(data)
        if self._left == 0:
            if self._chunked:
                if (await self._readline()).strip():
                    raise InvalidParameter("malformed chunked request body")
            else:
                self._body_done = True
        return data

    async def _chunk_size(self) -> int:
        """Parse a chunk-size line."""
        line = (await self._readline()).split(b";", 1)[0].strip()
        try:
            return int(line, 16)
        except ValueError:
            raise InvalidParameter("malformed chunked request body") from None

    async def _skip_trailers(self) -> None:
        """Read trailer lines up to the blank line ending a chunked body."""
        while True:
            line = await self._readline()
            if not line:
                raise InvalidParameter("unexpected EOF in request body")
            if line in (b"\r\n", b"\n"):
                return

    async def body_chunks(self) -> AsyncIterator[bytes]:
        """The request body as it arrives (Channel protocol)."""
        while True:
            piece = await self._next_body_piece()
            if not piece:
                return
            yield piece

    async def _finish_body(self) -> bool:
        """Skip a small unread body so the next request can be read; False when we must close."""
        if self._body_done:
            return True
        if self._continue_due:
            return False
        skipped = 0
        try:
            while skipped <= DRAIN_LIMIT:
                piece = await self._next_body_piece()
                if not piece:
                    return True
                skipped += len(piece)
        except DockyardError:
            return False
        return False

    async def hijack(self, content_type: str, upgrade: bool) -> Hijack:
        """Send the 101/200 head and hand the raw stream to the handler (Channel protocol)."""
        if upgrade:
            status = 101
            extra = [("Content-Type", content_type), ("Connection", "Upgrade"), ("Upgrade", "tcp")]
        else:
            status, extra = 200, [("Content-Type", content_type)]
        return await self._hand_over(encode_head(status, extra + self.app.headers))

    async def switch_protocols(self, headers: list[tuple[str, str]]) -> Hijack:
        """Answer "101 Switching Protocols" with `headers` (a websocket upgrade) and hand over the raw stream
        (Channel protocol)."""
        return await self._hand_over(encode_head(101, headers + self.app.headers, "Switching Protocols"))

    async def _hand_over(self, head: bytes) -> Hijack:
        """Send the response head, then give the handler the raw stream, pushed-back bytes first."""
        self.writer.write(head)
        await self.writer.drain()
        self.hijacked = True
        reader = self.reader
        if self._pending:
            reader = asyncio.StreamReader(limit=MAX_LINE)
            reader.feed_data(bytes(self._pending))
            self._pending.clear()
            self._pump = asyncio.get_running_loop().create_task(_copy_reader(self.reader, reader))
        return Hijack(reader, self.writer)

    async def _send(self, resp: Response, method: str, keep_alive: bool) -> bool:
        """Write a response; False when the connection has to be closed afterwards."""
        headers = list(self.app.headers)
        headers.append(("Date", email.utils.formatdate(usegmt=True)))
        headers.extend(resp.headers.items())
        bodiless = method == "HEAD" or resp.status in _NO_BODY_STATUS or resp.status < 200
        # a stream whose producer knows its length (a registry blob) is sent as is, not chunked
        framed = isinstance(resp, Stream) and not any(k.lower() == "content-length" for k in resp.headers)
        if isinstance(resp, Stream):
            headers.append(("Content-Type", resp.content_type))
            if not bodiless and framed:
                headers.append(("Transfer-Encoding", "chunked"))
        elif isinstance(resp, Raw):
            headers.append(("Content-Type", resp.content_type))
            if resp.status not in _NO_BODY_STATUS:
                headers.append(("Content-Length", str(len(resp.body))))
        elif isinstance(resp, File):
            headers += [("Content-Type", resp.content_type), ("Content-Length", str(resp.count))]
        elif isinstance(resp, Empty) and resp.status not in _NO_BODY_STATUS:
            headers.append(("Content-Length", "0"))
        if not keep_alive:
            headers.append(("Connection", "close"))
        self.writer.write(encode_head(resp.status, headers))
        if isinstance(resp, Raw) and not bodiless:
            self.writer.write(resp.body)
        await self.writer.drain()
        if isinstance(resp, File) and not bodiless and resp.count > 0:  # sendfile refuses a count of 0
            with open(resp.path, "rb") as handle:
                await asyncio.get_running_loop().sendfile(self.writer.transport, handle, resp.offset, resp.count)
        if isinstance(resp, Stream):
            if bodiless:
                await _aclose(resp.chunks)
                return keep_alive
            return await self._send_stream(resp.chunks, framed) and keep_alive
        return keep_alive

    async def _send_stream(self, chunks: AsyncIterator[bytes], framed: bool) -> bool:
        """Write a streamed body while watching for the client going away; False on failure."""
        writer = asyncio.get_running_loop().create_task(self._write_chunks(chunks, framed))
        watcher = asyncio.get_running_loop().create_task(self._watch_eof()) if self._body_done else None
        try:
            while watcher is not None and not writer.done():
                await asyncio.wait({writer, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if watcher.done():
                    if watcher.result() and not writer.done():
                        writer.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await writer
                        return False
                    watcher = None
            return await writer
        finally:
            # the watcher has to be gone before the next request head is read: a reader allows one waiter
            left = {task for task in (writer, watcher) if task is not None and not task.done()}
            for task in left:
                task.cancel()
            if left:
                await asyncio.wait(left)

    async def _write_chunks(self, chunks: AsyncIterator[bytes], framed: bool = True) -> bool:
        """Flush each chunk (chunk-framed unless the length was given); a failing producer is logged."""
        try:
            async for chunk in chunks:
                if chunk:
                    self.writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if framed else chunk)
                    await self.writer.drain()
        except ConnectionError:
            raise
        except Exception:  # noqa: BLE001 - the head is sent; all we can do is log and cut the body
            log.exception("streamed response failed")
            return False
        finally:
            await _aclose(chunks)
        if framed:
            self.writer.write(b"0\r\n\r\n")
            await self.writer.drain()
        return True

    async def _watch_eof(self) -> bool:
        """True when the client closed its side; False when it sent more bytes (kept for later)."""
        try:
            data = await self.reader.read(READ_SIZE)
        except ConnectionError:
            return True
        self._pending += data
        return not data


async def _aclose(chunks: AsyncIterator[bytes]) -> None:
    """Close an async generator (or anything with aclose) so its cleanup runs."""
    closer = getattr(chunks, "aclose", None)
    if closer is not None:
        await closer()


async def _copy_reader(source: asyncio.StreamReader, target: asyncio.StreamReader) -> None:
    """Feed everything from one stream reader into another, then EOF."""
    try:
        while data := await source.read(READ_SIZE):
            target.feed_data(data)
    except ConnectionError as exc:
        target.set_exception(exc)
        return
    target.feed_eof()


def _text(line: bytes) -> str:
    """A head line without its line ending, decoded as latin-1 like Go does."""
    return line.rstrip(b"\r\n").decode("latin-1")


class HttpServer:
    """Listeners (unix and tcp) feeding connections to one application; closed gracefully."""

    def __init__(self, app: Application, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.app = app
        self.idle_timeout = idle_timeout
        self._servers: list[asyncio.Server] = []
        self._sockets: list[Path] = []
        self._connections: dict[asyncio.Task[Any], Connection] = {}

    async def listen(self, address: str, tls: ssl.SSLContext | None = None) -> None:
        """Start listening on "unix:///path" (mode 0660) or "tcp://host:port" (with TLS when `tls` is given;
        unix sockets stay plain, as dockerd's)."""
        scheme, _, rest = address.partition("://")
        if scheme == "unix":
            path = Path(rest)
            _remove_stale_socket(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            server = await asyncio.start_unix_server(self._accept, path=str(path), limit=MAX_LINE,
                                                     backlog=BACKLOG)
            os.chmod(path, 0o660)
            self._sockets.append(path)
        elif scheme == "tcp":
            host, _, port = rest.rstrip("/").rpartition(":")
            if not port.isdigit():
                raise InvalidParameter(f"invalid listen address {address!r}")
            if tls is None:
                server = await asyncio.start_server(self._accept, host.strip("[]") or None, int(port),
                                                    limit=MAX_LINE, backlog=BACKLOG)
            else:
                server = await start_tls_server(self._accept, host.strip("[]") or None, int(port), tls,
                                                limit=MAX_LINE, backlog=BACKLOG)
        else:
            raise InvalidParameter(f"unsupported listen address {address!r}")
        self._servers.append(server)

    @property
    def addresses(self) -> list[Any]:
        """Bound socket addresses (useful for tcp port 0)."""
        return [s.getsockname() for srv in self._servers for s in srv.sockets]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one accepted connection."""
        conn = Connection(self.app, reader, writer, self.idle_timeout)
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = conn
        try:
            await conn.run()
        finally:
            del self._connections[task]

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting, remove our socket files, drop idle connections, give the busy ones `grace`
        seconds to finish, then cancel what is left (long streams, hijacked sessions)."""
        for server in self._servers:
            server.close()
        for path in self._sockets:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._servers.clear()
        self._sockets.clear()
        for conn in list(self._connections.values()):
            conn.close_if_idle()
        tasks = set(self._connections)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


def _remove_stale_socket(path: Path) -> None:
    """Remove a socket file nobody listens on; refuse to steal a live one."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise SystemError_(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise SystemError_(f"another daemon is already listening on {path}")
