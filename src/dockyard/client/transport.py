"""Minimal HTTP/1.1 over unix or TCP sockets: requests, chunked/length bodies, hijacked streams.

Kept on the bare `socket` module (http.client costs ~25 ms of import) so the CLI starts fast.
"""

from __future__ import annotations

import socket
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from io import BufferedReader
    from typing import Callable, Iterator

    from dockyard.client.endpoint import TLSOptions

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
DEFAULT_TLS_HOST = "tcp://localhost:2376"  # where a client with --tls and no host connects, as docker's
CONNECT_TIMEOUT = 30.0  # seconds to reach a tcp daemon (the docker CLI's dial timeout), then no limit


class ConnectionFailed(Exception):
    """The daemon could not be reached; message reads like Docker's."""


class ProtocolError(Exception):
    """The daemon's answer is not valid HTTP/1.1."""


def parse_host(host: str) -> tuple[str, str | tuple[str, int]]:
    """Split "unix:///path" or "tcp://host:port" into (family, address); ValueError when malformed."""
    if host.startswith("unix://"):
        path = host[len("unix://"):]
        if not path:
            raise ValueError(f"invalid bind address ({host}): empty path")
        return "unix", path
    if host.startswith("tcp://") or host.startswith("http://"):
        rest = host.split("://", 1)[1].split("/", 1)[0]
        if rest.startswith("["):
            name, _, port = rest[1:].partition("]")
            port = port.lstrip(":") or "2375"
        else:
            name, sep, port = rest.rpartition(":")
            if not sep:
                name, port = rest, "2375"
        name = name or "127.0.0.1"
        if not port.isdigit():
            raise ValueError(f"invalid bind address ({host}): invalid port")
        return "tcp", (name, int(port))
    if host.startswith("/"):
        return "unix", host
    if host.startswith("ssh://"):
        from dockyard.client.sshconn import parse_ssh
        parse_ssh(host)
        return "ssh", host
    raise ValueError(f"unable to parse docker host `{host}`")


def quote(text: str) -> str:
    """Percent-encode a query component (RFC 3986 unreserved kept)."""
    safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(c if c in safe else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def encode_query(query: dict[str, object] | None) -> str:
    """Build "?a=1&b=x" from a dict; None values are skipped, lists repeat the key, bools become 1/0."""
    if not query:
        return ""
    parts = []
    for key, value in query.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            text = ("1" if v else "0") if isinstance(v, bool) else str(v)
            parts.append(f"{quote(key)}={quote(text)}")
    return "?" + "&".join(parts) if parts else ""


class Response:
    """An HTTP response: status, lower-case headers, and a body read on demand."""

    def __init__(self, sock: socket.socket, reader: BufferedReader, status: int, reason: str,
                 headers: dict[str, str]) -> None:
        self.sock = sock
        self.reader = reader  # buffered binary file over the socket
        self.status = status
        self.reason = reason
        self.headers = headers
        self._done = False
        self._complete = False  # the whole framed body was read: the connection may carry another request
        self.on_complete: Callable[[socket.socket, BufferedReader], None] | None = None  # takes the connection back

    def chunks(self) -> Iterator[bytes]:
        """Yield body bytes as they arrive (chunked, Content-Length or until EOF)."""
        rd = self.reader
        if self._done:
            return
        self._done = True
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                line = rd.readline()
                if not line:
                    raise ProtocolError("unexpected EOF in chunked body")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while rd.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    self._complete = True
                    return
                data = rd.read(size)
                rd.readline()
                yield data
        elif "content-length" in self.headers:
            remaining = int(self.headers["content-length"])
            while remaining > 0:
                data = rd.read1(min(remaining, 65536))
                if not data:
                    raise ProtocolError("unexpected EOF in body")
                remaining -= len(data)
                yield data
            self._complete = True
        elif self.status in (204, 304) or self.status < 200:
            self._complete = True
            return
        else:
            while True:
                data = rd.read1(65536)
                if not data:
                    return
                yield data

    def read(self) -> bytes:
        """The whole body."""
        return b"".join(self.chunks())

    def raw_read(self, n: int = 65536) -> bytes:
        """Read from a hijacked stream (buffered bytes first); b"" at EOF."""
        return self.reader.read1(n)

    def close(self) -> None:
        """Close the connection, or hand it back for the next request when its answer was read whole."""
        if (self._complete and self.on_complete is not None
                and self.headers.get("connection", "").lower() != "close"):
            self.on_complete(self.sock, self.reader)
            return
        self.reader.close()
        self.sock.close()


class Transport:
    """Opens one connection per request to a daemon address (TLS over tcp when `tls` is given)."""

    def __init__(self, host: str, timeout: float | None = None, tls: "TLSOptions | None" = None) -> None:
        self.host = host
        self.family, self.address = parse_host(host)
        self.timeout = timeout
        self.tls = tls if self.family == "tcp" else None
        self._tls_context: object = None
        self._idle: tuple[socket.socket, BufferedReader] | None = None  # an ssh connection kept for the next request

    def connect(self, method: str = "GET", target: str = "/") -> socket.socket:
        """A connected socket (through TLS when configured), or ConnectionFailed with Docker's wording."""
        if self.tls is None:
            return self._connect_raw()
        from dockyard.client import tlsconn
        if self._tls_context is None:
            try:
                self._tls_context = tlsconn.context_for(self.tls)
            except tlsconn.TLSFailed as unusable:
                raise ConnectionFailed(str(unusable)) from None
        sock = self._connect_raw()
        try:
            return tlsconn.wrap(sock, self._tls_context, str(self.address[0]))  # type: ignore[arg-type]
        except tlsconn.TLSFailed as failed:
            sock.close()
            raise self._tls_failure(method, target, str(failed)) from None
        except OSError as exc:
            raise ConnectionFailed(f"error during connect: {exc}") from None

    def _check_relay(self, sock: socket.socket, status_line: bytes, method: str, target: str) -> None:
        """No answer over TLS or ssh: say why, as the docker CLI does (a refused client certificate, ssh's
        exit status and message)."""
        failure = getattr(sock, "failure", None) if not status_line else None
        if failure:
            sock.close()
            raise self._tls_failure(method, target, failure)

    def _broken(self, sock: socket.socket, exc: OSError, method: str, target: str) -> ConnectionFailed:
        """The error for a connection that broke while sending or reading the head: the TLS or ssh reason when
        there is one."""
        failure = getattr(sock, "failure", None)
        sock.close()
        return self._tls_failure(method, target, failure) if failure else ConnectionFailed(
            f"error during connect: {exc}")

    def _tls_failure(self, method: str, target: str, reason: str) -> ConnectionFailed:
        """Go's url.Error wording: `error during connect: Get "https://host:port/path": reason`."""
        url = "http://docker.example.com" if self.family == "ssh" else f"https://{self.address[0]}:{self.address[1]}"
        return ConnectionFailed(f'error during connect: {method.capitalize()} "{url}{target}": {reason}')

    def _connect_raw(self) -> socket.socket:
        """A connected unix or tcp socket, or the pipe of an ssh command."""
        if self.family == "ssh":
            from dockyard.client.sshconn import connect
            try:
                return connect(self.host)
            except OSError as exc:
                raise ConnectionFailed(f"error during connect: {exc}") from None
        try:
            if isinstance(self.address, str):  # a unix socket's path (an ssh host returned above)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(self.address)
            else:
                sock = socket.create_connection(self.address, timeout=self.timeout or CONNECT_TIMEOUT)
                sock.settimeout(self.timeout)
        except OSError as exc:
            if self.family == "unix" and isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
                raise ConnectionFailed(
                    f"Cannot connect to the Docker daemon at {self.host}. Is the docker daemon running?") from None
            if isinstance(exc, PermissionError):
                raise ConnectionFailed(
                    f"permission denied while trying to connect to the Docker daemon socket at {self.host}: "
                    f"{exc.strerror}") from None
            raise ConnectionFailed(
                f"Cannot connect to the Docker daemon at {self.host}. Is the docker daemon running?") from None
        return sock

    def request(self, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, upgrade: bool = False) -> Response:
        """Send one request and read the status line and headers of the answer (over ssh, on the connection
        the previous answer left, when there is one: each ssh connection costs a handshake)."""
        sock, reader = self._idle or (self.connect(method, target), None)
        self._idle = None
        host_header = "api.moby.localhost" if self.family != "tcp" else "%s:%d" % self.address
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}", "User-Agent: Docker-Client/dockyard"]
        for key, value in (headers or {}).items():
            lines.append(f"{key}: {value}")
        if upgrade:
            lines += ["Connection: Upgrade", "Upgrade: tcp"]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        elif method in ("POST", "PUT"):
            lines.append("Content-Length: 0")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            sock.sendall(head + body if body is not None and len(body) < 65536 else head)
            if body is not None and len(body) >= 65536:
                sock.sendall(body)
            reader = reader or sock.makefile("rb")
            status_line = reader.readline()
        except OSError as exc:
            raise self._broken(sock, exc, method, target) from None
        self._check_relay(sock, status_line, method, target)
        response = _read_head(sock, reader, status_line)
        if self.family == "ssh" and not upgrade:
            response.on_complete = self._keep
        return response

    def _keep(self, sock: socket.socket, reader: BufferedReader) -> None:
        """Keep a connection whose answer was read whole for the next request."""
        if self._idle is not None:
            self._idle[0].close()
        self._idle = (sock, reader)

    def request_stream(self, method: str, target: str, body: Iterator[bytes],
                       headers: dict[str, str] | None = None) -> Response:
        """Send a request whose body is streamed with chunked transfer encoding."""
        sock = self.connect(method, target)
        lines = [f"{method} {target} HTTP/1.1", "Host: api.moby.localhost", "User-Agent: Docker-Client/dockyard",
                 "Transfer-Encoding: chunked"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            for chunk in body:
                if chunk:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
            reader = sock.makefile("rb")
            status_line = reader.readline()
        except OSError as exc:
            raise self._broken(sock, exc, method, target) from None
        self._check_relay(sock, status_line, method, target)
        return _read_head(sock, reader, status_line)


def _read_head(sock: socket.socket, reader: BufferedReader, status_line: bytes) -> Response:
    """Parse the status line and headers of a response."""
    parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        sock.close()
        raise ProtocolError(f"malformed HTTP response {status_line!r}")
    headers: dict[str, str] = {}
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    return Response(sock, reader, int(parts[1]), parts[2] if len(parts) > 2 else "", headers)
