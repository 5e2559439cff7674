"""The registry application: its router, auth check, OCI error bodies, and the (optionally TLS) server."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from pathlib import Path

from dockyard import __version__
from dockyard.errors import DockyardError, NotFound, status_of
from dockyard.registry import hub, routes
from dockyard.registry.auth import Authorizer, Scope
from dockyard.registry.errors import RegistryError, code_of
from dockyard.registry.storage import Storage
from dockyard.registry.uploads import Uploads
from dockyard.server.http import IDLE_TIMEOUT, MAX_LINE, HttpServer
from dockyard.server.routing import Json, Raw, Request, Response, Router

log = logging.getLogger(__name__)

_PUBLIC = ("/auth/token",)
_READ_METHODS = ("GET", "HEAD")


def scope_for(method: str, path: str, params: dict[str, str]) -> Scope | None:
    """The access a request needs: repository pull/push/delete, the catalog, or plain login (None)."""
    if path == "/v2/_catalog" or path == "/" or path == "/v1/search":
        return Scope("registry", "catalog", ("*",))
    name = params.get("name")
    if name is None:
        return None
    if method in _READ_METHODS:
        return Scope("repository", name, ("pull",))
    if method == "DELETE" and "/uploads/" not in path:
        return Scope("repository", name, ("delete",))
    return Scope("repository", name, ("pull", "push"))


class RegistryApp:
    """Dispatches to the registry router after the auth check; errors become OCI error bodies."""

    headers = [("Docker-Distribution-Api-Version", "registry/2.0"), ("Server", f"Dockyard-Registry/{__version__}")]

    def __init__(self, router: Router, authorizer: Authorizer, scheme: str = "http") -> None:
        self.router = router
        self.authorizer = authorizer
        self.scheme = scheme

    async def handle(self, request: Request) -> Response:
        """Answer one request; never raises for a handler's failure."""
        try:
            found = self.router.match(request.method, request.path)
            if found is None:
                raise NotFound(f"no route for {request.method} {request.path}")
            handler, request.params = found
            if request.path not in _PUBLIC:
                base = f"{self.scheme}://{request.headers.get('host', 'localhost')}"
                scope = scope_for(request.method, request.path, request.params)
                self.authorizer.check(request.headers.get("authorization", ""), scope, base)
            return await handler(request)
        except Exception as exc:  # noqa: BLE001 - the one place registry errors become responses
            return self.error(exc)

    def error(self, exc: BaseException) -> Response:
        """{"errors": [{"code", "message", "detail"}]} with the error's status and extra headers."""
        if isinstance(exc, DockyardError):
            body = {"code": code_of(exc), "message": exc.message,
                    "detail": getattr(exc, "detail", None) or {}}
        else:
            log.error("unexpected error while serving a registry request", exc_info=exc)
            body = {"code": "UNKNOWN", "message": str(exc) or type(exc).__name__, "detail": {}}
        headers = exc.headers if isinstance(exc, RegistryError) else {}
        headers = {k: v for k, v in headers.items() if v}
        return Raw(json.dumps({"errors": [body]}).encode() + b"\n", status_of(exc), "application/json", headers)


def build(root: Path, authorizer: Authorizer) -> Router:
    """The registry's router over the storage at `root`."""
    storage = Storage(root)
    storage.remove_stale()
    router = Router()
    hub.register(router, storage)

    @router.get("/auth/token")
    async def token(req: Request) -> Json:
        """Docker's token endpoint: Basic credentials (optional) in, signed scopes out."""
        return Json(authorizer.token(req.headers.get("authorization", ""), req.arg_list("scope")))

    routes.register(router, storage, Uploads(storage))
    return router


class RegistryServer(HttpServer):
    """The project's HTTP server with an extra TLS listener."""

    async def listen_tls(self, address: str, context: ssl.SSLContext) -> None:
        """Listen on "tcp://host:port" with TLS."""
        host, _, port = address.partition("://")[2].rstrip("/").rpartition(":")
        server = await asyncio.start_server(self._accept, host.strip("[]") or None, int(port), ssl=context,
                                            limit=MAX_LINE)
        self._servers.append(server)


async def serve(root: Path, address: str, authorizer: Authorizer, tls: tuple[str, str] | None = None,
                idle_timeout: float = IDLE_TIMEOUT) -> RegistryServer:
    """Start serving the registry at `address` ("tcp://host:port"); `await result.close()` to stop."""
    app = RegistryApp(build(root, authorizer), authorizer, "https" if tls else "http")
    server = RegistryServer(app, idle_timeout)
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        await server.listen_tls(address, context)
    else:
        await server.listen(address)
    return server
