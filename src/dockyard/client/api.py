"""Docker Engine API client: version negotiation, JSON calls, streams and hijacked connections."""

from __future__ import annotations

import os
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Iterator

    from dockyard.client.endpoint import TLSOptions

from dockyard.client.transport import DEFAULT_HOST, DEFAULT_TLS_HOST, Response, Transport, encode_query

MAX_API_VERSION = "1.45"
MIN_API_VERSION = "1.24"


class APIError(Exception):
    """The daemon answered with an error status; `message` is its {"message": ...}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _vtuple(version: str) -> tuple[int, ...]:
    """"1.45" -> (1, 45)."""
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def resolve_host(flag_host: str | None, tls: bool = False) -> str:
    """-H wins, then DOCKER_HOST, then with TLS tcp://localhost:2376 (the docker CLI's DefaultTLSHost), else
    Dockyard's default socket."""
    return flag_host or os.environ.get("DOCKER_HOST") or (DEFAULT_TLS_HOST if tls else DEFAULT_HOST)


class APIClient:
    """Talks to one daemon; negotiates the API version on first use with GET /_ping."""

    def __init__(self, host: str | None = None, version: str | None = None, tls: "TLSOptions | None" = None) -> None:
        self.host = resolve_host(host)
        self.transport = Transport(self.host, tls=tls)
        self.version = version or os.environ.get("DOCKER_API_VERSION") or None
        self.server_headers: dict[str, str] = {}

    def negotiate(self) -> str:
        """Ping the daemon and pick min(server's API-Version, ours)."""
        if self.version:
            return self.version
        resp = self.transport.request("GET", "/_ping")
        resp.read()
        resp.close()
        self.server_headers = resp.headers
        server = resp.headers.get("api-version") or MAX_API_VERSION
        self.version = server if _vtuple(server) < _vtuple(MAX_API_VERSION) else MAX_API_VERSION
        return self.version

    def _target(self, path: str, query: dict[str, Any] | None) -> str:
        """Versioned request target."""
        return f"/v{self.negotiate()}{path}{encode_query(query)}"

    def request(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
                headers: dict[str, str] | None = None, raw_body: bytes | None = None,
                upgrade: bool = False) -> Response:
        """Send a request (JSON-encoding `body`), raising APIError for 4xx/5xx answers."""
        hdrs = dict(headers or {})
        data = raw_body
        if body is not None:
            import json
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        resp = self.transport.request(method, self._target(path, query), data, hdrs, upgrade=upgrade)
        check(resp, method)
        return resp

    def request_stream(self, method: str, path: str, query: dict[str, Any] | None, body: Iterator[bytes],
                       headers: dict[str, str] | None = None) -> Response:
        """Send a request with a streamed (chunked) body."""
        resp = self.transport.request_stream(method, self._target(path, query), body, headers)
        check(resp)
        return resp

    def call(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """Request and decode a JSON answer (None for an empty body)."""
        resp = self.request(method, path, query, body)
        data = resp.read()
        resp.close()
        if not data.strip():
            return None
        import json
        return json.loads(data)

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        """GET returning decoded JSON."""
        return self.call("GET", path, query)

    def post(self, path: str, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        """POST returning decoded JSON."""
        return self.call("POST", path, query, body)

    def delete(self, path: str, query: dict[str, Any] | None = None) -> Any:
        """DELETE returning decoded JSON."""
        return self.call("DELETE", path, query)

    def get_raw(self, path: str, query: dict[str, Any] | None = None) -> bytes:
        """GET returning the raw body."""
        resp = self.request("GET", path, query)
        data = resp.read()
        resp.close()
        return data


def check(resp: Response, method: str = "GET") -> None:
    """Raise APIError for an error status, reading Docker's {"message": ...}; the answer to a HEAD has no
    body (its Content-Length describes the GET's), so its error is told by the status alone."""
    if resp.status < 400:
        return
    if method == "HEAD":
        resp.close()
        from http import HTTPStatus
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = resp.reason
        raise APIError(resp.status, f"{resp.status} {reason}")
    data = resp.read()
    resp.close()
    message = data.decode("utf-8", "replace").strip()
    if resp.headers.get("content-type", "").startswith("application/json") or message.startswith("{"):
        import json
        try:
            message = json.loads(data).get("message", message).strip()  # the docker client trims it too
        except ValueError:
            pass
    raise APIError(resp.status, message)


def json_stream(resp: Response) -> Iterator[dict[str, Any]]:
    """Decode a stream of JSON objects (one per line or concatenated) such as /events or pull progress."""
    import json
    decoder = json.JSONDecoder()
    buf = ""
    for chunk in resp.chunks():
        buf += chunk.decode("utf-8", "replace")
        while True:
            buf = buf.lstrip()
            if not buf:
                break
            try:
                obj, end = decoder.raw_decode(buf)
            except ValueError:
                break
            buf = buf[end:]
            yield obj
