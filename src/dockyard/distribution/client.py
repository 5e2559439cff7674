"""A blocking registry HTTP client: ping, Basic and Bearer auth from WWW-Authenticate, blobs, manifests."""

from __future__ import annotations

import base64
import functools
import http.client
import json
import re
import ssl
import urllib.parse
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, Protocol

from dockyard.errors import DockyardError, InvalidParameter, NotFound, SystemError_, Unauthorized
from dockyard.distribution.endpoints import Endpoint

TIMEOUT = 60.0
BLOCK = 1 << 20
USER_AGENT = "dockyard/0.1 (distribution client)"
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"])


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The system's trust store, loaded once per process as Go's SystemCertPool is (loading it took ~30 ms of CPU
    per request: a swarm scale pulls once per task)."""
    return ssl.create_default_context()


@dataclass
class Credentials:
    """What X-Registry-Auth or a login carries."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""

    @classmethod
    def from_header(cls, header: str | None) -> "Credentials":
        """Decode docker's base64url JSON X-Registry-Auth (empty or "{}" means anonymous)."""
        if not header:
            return cls()
        try:
            doc = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        except ValueError:
            raise InvalidParameter("invalid X-Registry-Auth header") from None
        if not isinstance(doc, dict):
            return cls()
        return cls(doc.get("username", ""), doc.get("password", ""), doc.get("identitytoken", ""),
                   doc.get("registrytoken", ""))


class UploadBody(Protocol):
    """A blob being uploaded: read by http.client, rewound for a resend, closed when the upload is done."""

    def read(self, n: int = -1, /) -> bytes:
        """Up to `n` bytes; b"" at the end."""

    def seek(self, offset: int, /) -> int:
        """Move to `offset` (0: the start)."""

    def __enter__(self) -> UploadBody:
        """Itself."""

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
                 /) -> None:
        """Close the file."""


class RegistryError(DockyardError):
    """A registry answered with an error status; the message is its first error, as docker words it (a refusal
    bare, as dockerd shows it: "denied: requested access to the resource is denied"; others after `what`)."""

    def __init__(self, status: int, body: bytes, what: str) -> None:
        self.code = ""
        try:
            first = json.loads(body)["errors"][0]
            self.code = str(first.get("code", ""))
            text = self.code.lower().replace("_", " ")  # docker's errcode text: "denied"
            message = f"{text}: {first.get('message', '')}".strip(": ")
        except (ValueError, KeyError, IndexError, TypeError):
            message = body.decode(errors="replace").strip()[:200] or f"HTTP {status}"
        super().__init__(message if self.code == "DENIED" else f"{what}: {message}")
        self.status = status if status in (401, 403, 404) else 500


class Response:
    """An HTTP response being read, with the connection it came on."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self.conn = conn
        self.raw = resp
        self.status = resp.status

    def header(self, name: str, default: str = "") -> str:
        """A response header."""
        return self.raw.getheader(name, default) or default

    def read(self) -> bytes:
        """The whole body, then close."""
        try:
            return self.raw.read()
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class RegistryClient:
    """Talks to one registry endpoint on behalf of one set of credentials."""

    def __init__(self, endpoint: Endpoint, credentials: Credentials | None = None) -> None:
        self.endpoint = endpoint
        self.credentials = credentials or Credentials()
        self._auth: dict[str, str] = {}

    # ----- transport -----------------------------------------------------------------------------

    def _open(self, url: str, method: str, headers: dict[str, str], body: Any) -> Response:
        """One request on a fresh connection."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.netloc, timeout=TIMEOUT, context=_tls_context(), blocksize=BLOCK)
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT, blocksize=BLOCK)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, target, body=body, headers={"User-Agent": USER_AGENT, **headers})
            return Response(conn, conn.getresponse())
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise SystemError_(f"error contacting registry {self.endpoint.host}: {exc}") from exc

    def request(self, method: str, path: str, scope: str, headers: dict[str, str] | None = None,
                body: Any = None, rewind: Callable[[], Any] | None = None, redirects: int = 3) -> Response:
        """Send a request, answering an auth challenge once; follows redirects (without our auth)."""
        url = path if path.startswith("http") else self.endpoint.base + path
        headers = dict(headers or {})
        if scope in self._auth:
            headers["Authorization"] = self._auth[scope]
        resp = self._open(url, method, headers, body)
        if resp.status == 401:
            challenge = resp.header("WWW-Authenticate")
            resp.read()
            self._auth[scope] = self._authorize(challenge, scope)
            headers["Authorization"] = self._auth[scope]
            resp = self._open(url, method, headers, rewind() if rewind else body)
        while resp.status in (301, 302, 303, 307, 308) and redirects > 0:
            location = urllib.parse.urljoin(url, resp.header("Location"))
            resp.read()
            redirects -= 1
            same = urllib.parse.urlsplit(location).netloc == self.endpoint.host
            extra = {k: v for k, v in headers.items() if same or k != "Authorization"}
            resp = self._open(location, method if resp.status in (307, 308) else "GET", extra, body)
            url = location
        return resp

    def _authorize(self, challenge: str, scope: str) -> str:
        """The Authorization value answering a Basic or Bearer challenge."""
        kind = challenge.split(" ", 1)[0].lower()
        creds = self.credentials
        if kind == "basic":
            if not creds.username:
                raise Unauthorized(f"authentication required by {self.endpoint.host}")
            return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        if kind != "bearer":
            raise Unauthorized(f"unsupported authentication challenge from {self.endpoint.host}: {challenge!r}")
        if creds.registry_token:
            return f"Bearer {creds.registry_token}"
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        if creds.username:
            query["account"] = creds.username
        url = params.get("realm", "") + "?" + urllib.parse.urlencode(query)
        headers = {}
        if creds.username:
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{creds.username}:{creds.password}".encode()).decode()
        resp = self._open(url, "GET", headers, None)
        body = resp.read()
        if resp.status != 200:
            raise Unauthorized(f"getting a token from {params.get('realm')}: HTTP {resp.status}: "
                               f"{body.decode(errors='replace')[:200]}")
        doc = json.loads(body)
        return "Bearer " + (doc.get("token") or doc.get("access_token") or "")

    def checked(self, resp: Response, what: str, ok: tuple[int, ...] = (200,)) -> Response:
        """Raise RegistryError unless the status is one of `ok`."""
        if resp.status not in ok:
            raise RegistryError(resp.status, resp.read(), what)
        return resp

    # ----- API -------------------------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/, authenticating when challenged (used by login)."""
        self.checked(self.request("GET", "/v2/", ""), f"login to {self.endpoint.host}").read()

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        """(body, media type, Docker-Content-Digest) of a manifest by tag or digest."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{reference}", f"repository:{repo}:pull",
                            {"Accept": MANIFEST_ACCEPT})
        if resp.status == 404:
            resp.read()
            raise NotFound(f"manifest for {repo}:{reference} not found: manifest unknown")
        body = self.checked(resp, f"fetching manifest {repo}:{reference}").read()
        media_type = resp.header("Content-Type").split(";")[0]
        return body, media_type, resp.header("Docker-Content-Digest")

    def open_blob(self, repo: str, digest: str) -> Response:
        """A streaming response with the blob's bytes."""
        return self.checked(self.request("GET", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull"),
                            f"fetching blob {digest}")

    def tags(self, repo: str) -> list[str]:
        """Every tag of a repository."""
        resp = self.request("GET", f"/v2/{repo}/tags/list", f"repository:{repo}:pull")
        return list(json.loads(self.checked(resp, f"listing tags of {repo}").read()).get("tags") or [])

    def blob_exists(self, repo: str, digest: str) -> bool:
        """HEAD a blob."""
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", f"repository:{repo}:pull,push")
        resp.read()
        return resp.status == 200

    def upload_blob(self, repo: str, digest: str, size: int, opener: Callable[[], UploadBody]) -> None:
        """POST an upload, then PUT the whole blob with its digest (monolithic)."""
        scope = f"repository:{repo}:pull,push"
        resp = self.checked(self.request("POST", f"/v2/{repo}/blobs/uploads/", scope,
                                         {"Content-Length": "0"}), f"starting upload of {digest}", (202,))
        resp.read()
        location = urllib.parse.urljoin(self.endpoint.base + "/", resp.header("Location"))
        separator = "&" if "?" in location else "?"
        url = f"{location}{separator}digest={urllib.parse.quote(digest)}"
        with opener() as handle:
            headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
            resp = self.request("PUT", url, scope, headers, handle, rewind=lambda: _rewound(handle))
        self.checked(resp, f"uploading blob {digest}", (201,)).read()

    def put_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest; returns the digest the registry reports."""
        resp = self.request("PUT", f"/v2/{repo}/manifests/{reference}", f"repository:{repo}:pull,push",
                            {"Content-Type": media_type, "Content-Length": str(len(body))}, body)
        self.checked(resp, f"pushing manifest {repo}:{reference}", (201,)).read()
        return resp.header("Docker-Content-Digest")

    def search(self, term: str, limit: int) -> dict[str, Any]:
        """GET /v1/search?q= as docker search does."""
        query = urllib.parse.urlencode({"q": term, "n": limit})
        resp = self.request("GET", f"/v1/search?{query}", "registry:catalog:*")
        return json.loads(self.checked(resp, f"searching {self.endpoint.host}").read())


def _rewound(handle: UploadBody) -> UploadBody:
    """The same file, back at its start (to resend a body after an auth challenge)."""
    handle.seek(0)
    return handle
