"""Request, response types and the path router that server/routers/*.py register handlers on."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Protocol, cast

from dockyard import API_VERSION
from dockyard.errors import InvalidParameter
from dockyard.util import jsonsafe, websocket
from dockyard.util.aio import run_blocking  # noqa: F401  (routers import it from here)
from dockyard.util.timeutil import parse_timestamp

DEFAULT_BODY_LIMIT = 64 << 20
_FALSE_WORDS = frozenset({"", "0", "no", "false", "none"})
_INT = re.compile(r"[+-]?[0-9]+\Z")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_UNSET: Any = object()


@dataclass
class Hijack:
    """The raw duplex stream of a hijacked connection (or a websocket's data frames); the handler closes
    `writer` when done."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter | websocket.FrameWriter


HIJACKED: object = object()


class Channel(Protocol):
    """What the HTTP connection offers a request: its body and the raw socket."""

    def body_chunks(self) -> AsyncIterator[bytes]:
        """Yield the request body as it arrives."""

    async def hijack(self, content_type: str, upgrade: bool) -> Hijack:
        """Send the hijack response head and hand over the raw stream."""

    async def switch_protocols(self, headers: list[tuple[str, str]]) -> Hijack:
        """Send "101 Switching Protocols" with `headers` and hand over the raw stream."""


class Response:
    """Base of every handler result: a status and extra headers."""

    def __init__(self, status: int, headers: dict[str, str] | None) -> None:
        self.status = status
        self.headers = dict(headers or {})


class Raw(Response):
    """A complete body of bytes."""

    def __init__(self, body: bytes, status: int = 200, content_type: str = "text/plain; charset=utf-8",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, headers)
        self.body = body
        self.content_type = content_type


class Json(Raw):
    """An object sent as JSON (with docker's trailing newline)."""

    def __init__(self, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        super().__init__(json.dumps(obj).encode() + b"\n", status, "application/json", headers)
        self.obj = obj


class Stream(Response):
    """A chunked body; each chunk is flushed to the client as soon as it is produced."""

    def __init__(self, chunks: AsyncIterator[bytes], status: int = 200, content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, headers)
        self.chunks = chunks
        self.content_type = content_type


class File(Response):
    """`count` bytes of a file from `offset`, sent with sendfile(2) (registry blobs)."""

    def __init__(self, path: str, offset: int, count: int, status: int = 200,
                 content_type: str = "application/octet-stream", headers: dict[str, str] | None = None) -> None:
        super().__init__(status, headers)
        self.path = path
        self.offset = offset
        self.count = count
        self.content_type = content_type


class Empty(Response):
    """No body at all (204 by default)."""

    def __init__(self, status: int = 204, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, headers)


Handler = Callable[["Request"], Awaitable[Any]]


def _version_key(text: str) -> tuple[int, ...]:
    """"1.45" -> (1, 45)."""
    return tuple(int(part) for part in text.split(".") if part.isdigit())


class Request:
    """One HTTP request as a handler sees it."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
                 channel: Channel, api_version: str = API_VERSION) -> None:
        self.method = method
        self.path = path
        self.api_version = api_version
        self.query = query
        self.headers = headers
        self.params: dict[str, str] = {}
        self._channel = channel
        self._body: bytes | None = None
        self._json: Any = _UNSET
        self._streamed = False
        self._websocket_pump: asyncio.Task[None] | None = None

    def api_older_than(self, version: str) -> bool:
        """Whether the client asked for an API version before `version` ("1.42"): old clients, old rules."""
        return _version_key(self.api_version) < _version_key(version)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter, or `default` when absent."""
        values = self.query.get(name)
        return values[0] if values else default

    def arg_bool(self, name: str, default: bool = False) -> bool:
        """Docker's boolean: "", "0", "no", "false", "none" are false, anything else true."""
        value = self.arg(name)
        if value is None:
            return default
        return value.strip().lower() not in _FALSE_WORDS

    def arg_int(self, name: str, default: int | None = None) -> int | None:
        """Integer parameter (Go's strconv.ParseInt, 64 bits); empty or absent gives `default`, junk or a
        number beyond int64 raises InvalidParameter."""
        value = self.arg(name)
        if value is None or value == "":
            return default
        if not _INT.match(value):
            raise InvalidParameter(f'invalid value for "{name}": strconv.ParseInt: parsing "{value[:64]}": '
                                   "invalid syntax")
        number = int(value, 10) if len(value) <= 21 else _INT64_MAX + 1
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise InvalidParameter(f'invalid value for "{name}": strconv.ParseInt: parsing "{value[:64]}": '
                                   "value out of range")
        return number

    def arg_json(self, name: str, default: Any = None) -> Any:
        """JSON-encoded parameter; empty or absent gives `default`."""
        value = self.arg(name)
        if value is None or value == "":
            return default
        return jsonsafe.loads(value, f'invalid JSON in parameter "{name}"')

    def arg_list(self, name: str) -> list[str]:
        """Every value of a repeated parameter (t=a&t=b)."""
        return list(self.query.get(name, []))

    def arg_time(self, name: str, default: float | None = None) -> float | None:
        """A since/until style timestamp in unix seconds (see `util.timeutil.parse_timestamp`)."""
        value = self.arg(name)
        if value is None or value == "":
            return default
        return parse_timestamp(value)

    async def body(self, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
        """The whole request body (read once, then cached); InvalidParameter past `limit` bytes."""
        if self._body is None:
            parts: list[bytes] = []
            size = 0
            async for chunk in self.stream_body():
                size += len(chunk)
                if size > limit:
                    raise InvalidParameter(f"request body too large (limit {limit} bytes)")
                parts.append(chunk)
            self._body = b"".join(parts)
        return self._body

    async def json(self, required: bool = True) -> Any:
        """The body decoded as JSON (`util.jsonsafe`: only what Go would decode); None when empty and not
        required. A body the validation layer already decoded and checked is handed over as it is."""
        raw = await self.body()
        if not raw.strip():
            if required:
                raise InvalidParameter("invalid JSON: got EOF while reading request body")
            return None
        if self._json is _UNSET:
            self._json = jsonsafe.loads(raw)
        return self._json

    def set_json(self, value: Any) -> None:
        """Record the decoded body (server/validation.py), so handlers do not decode it again."""
        self._json = value

    def stream_body(self) -> AsyncIterator[bytes]:
        """The request body chunk by chunk (Content-Length or chunked); can be consumed once."""
        if self._body is not None:
            return _once(self._body)
        if self._streamed:
            raise InvalidParameter("request body already consumed")
        self._streamed = True
        return self._channel.body_chunks()

    async def hijack(self, content_type: str) -> Hijack:
        """Answer 101 UPGRADED (or 200 OK without upgrade) and return the raw duplex stream."""
        if not self._streamed:
            await self.body()
        upgrade = self.headers.get("upgrade", "").lower() == "tcp"
        return await self._channel.hijack(content_type, upgrade)

    async def hijack_websocket(self, binary: bool = True) -> Hijack:
        """Complete an RFC 6455 handshake (101 Switching Protocols with Sec-WebSocket-Accept) and return a
        Hijack whose reader yields the payloads of the client's data frames and whose writer sends each write
        as one binary (or text) frame; pings are answered and a close is echoed. InvalidParameter (before any
        answer) for a request that is not a websocket handshake."""
        key = self.headers.get("sec-websocket-key", "")
        connection = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.headers.get("upgrade", "").lower() != "websocket" or "upgrade" not in connection:
            raise InvalidParameter("websocket: the client is not using the websocket protocol")
        if self.headers.get("sec-websocket-version", "").strip() != "13":
            raise InvalidParameter("websocket: unsupported version (want Sec-WebSocket-Version: 13)")
        if not websocket.valid_key(key):
            raise InvalidParameter("websocket: missing or malformed Sec-WebSocket-Key")
        if not self._streamed:
            await self.body()
        headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                   ("Sec-WebSocket-Accept", websocket.accept_key(key))]
        protocols = [p.strip() for p in self.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        if protocols:
            headers.append(("Sec-WebSocket-Protocol", protocols[0]))
        raw = await self._channel.switch_protocols(headers)
        assert isinstance(raw.writer, asyncio.StreamWriter)  # the connection itself, not yet framed
        stream = websocket.open_stream(raw.reader, raw.writer, websocket.BINARY if binary else websocket.TEXT)
        self._websocket_pump = stream.pump  # a strong reference: the loop keeps only weak ones to tasks
        return Hijack(stream.reader, stream.writer)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    """Yield `data` once if it is not empty."""
    if data:
        yield data


@dataclass
class Route:
    """One registered pattern and its handlers by method."""

    pattern: str
    regex: re.Pattern[str]
    handlers: dict[str, Handler]
    auto_head: bool = False


_PARAM = re.compile(r"\{(\w+)(:path)?\}")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Turn "/images/{name:path}/json" into an anchored regex with named groups."""
    out, pos = [], 0
    for m in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>{'.+' if m.group(2) else '[^/]+'})")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out) + r"\Z")


class Router:
    """Maps (method, path) to handlers; literal routes win over patterns, then registration order."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for `method` on `pattern` (GET also answers HEAD)."""
        def register(handler: Handler) -> Handler:
            """Add `handler` to the route table and return it unchanged."""
            route = self._routes.get(pattern)
            if route is None:
                route = self._routes[pattern] = Route(pattern, compile_pattern(pattern), {})
            verb = method.upper()
            if verb in route.handlers and not (verb == "HEAD" and route.auto_head):
                raise ValueError(f"duplicate route {verb} {pattern}")
            route.handlers[verb] = handler
            if verb == "HEAD":
                route.auto_head = False
            elif verb == "GET" and "HEAD" not in route.handlers:
                route.handlers["HEAD"] = handler
                route.auto_head = True
            return handler
        return register

    def get(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register a GET (and HEAD) handler."""
        return self.route("GET", pattern)

    def post(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register a POST handler."""
        return self.route("POST", pattern)

    def put(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register a PUT handler."""
        return self.route("PUT", pattern)

    def delete(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register a DELETE handler."""
        return self.route("DELETE", pattern)

    def head(self, pattern: str) -> Callable[[Handler], Handler]:
        """Register a HEAD handler (overrides the GET one for HEAD)."""
        return self.route("HEAD", pattern)

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler and decoded path parameters for a request, or None (docker: page not found)."""
        found = self.find(method, path)
        return None if found is None else (found[1], found[2])

    def find(self, method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
        """(route pattern, handler, decoded path parameters) for a request, or None."""
        route = self._routes.get(path)
        if route is not None and "{" not in route.pattern and method in route.handlers:
            return route.pattern, route.handlers[method], {}
        for route in self._routes.values():
            if method not in route.handlers:
                continue
            m = route.regex.match(path)
            if m:
                params = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
                return route.pattern, route.handlers[method], params
        return None
