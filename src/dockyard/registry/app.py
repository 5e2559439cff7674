"""The registry application: its router, auth check, OCI error bodies, and the (optionally TLS) server."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl

from dockyard import __version__
from dockyard.errors import DockyardError, NotFound, status_of
from dockyard.registry import hubapi, routes
from dockyard.registry.accounts import Principal
from dockyard.registry.auth import CATALOG, Authorizer, Scope
from dockyard.registry.hub import Hub, register_pages
from dockyard.registry.hubapi import HubApi
from dockyard.registry.errors import RegistryError, code_of
from dockyard.registry.storage import Storage
from dockyard.registry.uploads import Uploads
from dockyard.registry.web import front
from dockyard.registry.web.front import WebFront
from dockyard.server.http import IDLE_TIMEOUT, MAX_LINE, HttpServer
from dockyard.server.routing import Json, Raw, Request, Response, Router, run_blocking

log = logging.getLogger(__name__)

_PUBLIC = ("/auth/token",)
_READ_METHODS = ("GET", "HEAD")


def scope_for(method: str, path: str, params: dict[str, str]) -> Scope | None:
    """The access a request needs: repository pull/push/delete, the catalog, or plain login (None)."""
    if path == "/v2/_catalog":
        return CATALOG
    name = params.get("name")
    if name is None:
        return None
    if method in _READ_METHODS:
        return Scope("repository", name, ("pull",))
    if method == "DELETE" and "/uploads/" not in path:
        return Scope("repository", name, ("delete",))
    return Scope("repository", name, ("pull", "push"))


class RegistryApp:
    """Dispatches to the hub's routes (which check their caller themselves) or, after the auth check, to the
    registry's; errors become OCI error bodies (Docker Hub's {"detail", "message"} on hub routes)."""

    headers = [("Docker-Distribution-Api-Version", "registry/2.0"), ("Server", f"Dockyard-Registry/{__version__}")]

    def __init__(self, router: Router, authorizer: Authorizer, scheme: str = "http",
                 hub_router: Router | None = None) -> None:
        self.router = router
        self.hub_router = hub_router or Router()
        self.authorizer = authorizer
        self.scheme = scheme

    def base_url(self, request: Request) -> str:
        """scheme://host of this server as the client addressed it."""
        return f"{self.scheme}://{request.headers.get('host', 'localhost')}"

    async def handle(self, request: Request) -> Response:
        """Answer one request; never raises for a handler's failure."""
        found = self.hub_router.match(request.method, request.path)
        if found is not None:
            handler, request.params = found
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - the one place hub errors become responses
                return self.hub_error(exc)
        try:
            found = self.router.match(request.method, request.path)
            if found is None:
                raise NotFound(f"no route for {request.method} {request.path}")
            handler, request.params = found
            if request.path not in _PUBLIC:
                scope = scope_for(request.method, request.path, request.params)
                self.authorizer.check(request.headers.get("authorization", ""), scope, self.base_url(request))
            return await handler(request)
        except Exception as exc:  # noqa: BLE001 - the one place registry errors become responses
            return self.error(exc)

    def error(self, exc: BaseException, where: str = "a registry request") -> Response:
        """{"errors": [{"code", "message", "detail"}]} with the error's status and extra headers (`where`: the
        request it answers, for the log)."""
        if isinstance(exc, DockyardError):
            body = {"code": code_of(exc), "message": exc.message,
                    "detail": getattr(exc, "detail", None) or {}}
        else:
            log.error("unexpected error while serving %s", where, exc_info=exc)
            body = {"code": "UNKNOWN", "message": str(exc) or type(exc).__name__, "detail": {}}
        return Raw(json.dumps({"errors": [body]}).encode() + b"\n", status_of(exc), "application/json",
                   _extra_headers(exc))

    def hub_error(self, exc: BaseException) -> Response:
        """Docker Hub's error body: {"detail", "message"}."""
        if isinstance(exc, DockyardError):
            message = exc.message
        else:
            log.error("unexpected error while serving a hub request", exc_info=exc)
            message = str(exc) or type(exc).__name__
        return Raw(json.dumps({"detail": message, "message": message}).encode() + b"\n", status_of(exc),
                   "application/json", _extra_headers(exc))


def _extra_headers(exc: BaseException) -> dict[str, str]:
    """Headers an error carries (WWW-Authenticate, Content-Range)."""
    headers = exc.headers if isinstance(exc, RegistryError) else {}
    return {k: v for k, v in headers.items() if v}


def build(storage: Storage, authorizer: Authorizer, hub: Hub, scheme: str = "http") -> RegistryApp:
    """The registry application over `storage`, with the hub's routes in front."""
    router = Router()
    hub_router = Router()
    app = RegistryApp(router, authorizer, scheme, hub_router)

    def header_viewer(req: Request) -> Principal | None:
        """Who calls a hub route, by its Authorization header."""
        return authorizer.viewer(req.headers.get("authorization", ""), app.base_url(req), hub.issuer)

    web = WebFront(hub, header_viewer, authorizer.mode == "hub", scheme == "https", app.base_url)

    def viewer(req: Request) -> Principal | None:
        """Who calls a hub route: the Authorization header, or for a read without one, a web session (the
        pages' search as you type); a session never authorizes a change, so no CSRF reaches the API."""
        if not req.headers.get("authorization") and req.method in _READ_METHODS:
            who = web.session_principal(req)
            if who is not None:
                return who
        return header_viewer(req)

    def actor(req: Request) -> str:
        """The user name a registry request carries, for the audit log."""
        return authorizer.subject(req.headers.get("authorization", ""))

    register_pages(hub_router, hub, viewer)
    front.register(hub_router, web)
    hubapi.register(hub_router, HubApi(hub, viewer, app.base_url))

    @router.get("/auth/token")
    async def token(req: Request) -> Json:
        """Docker's token endpoint: Basic credentials (optional) in, signed scopes out."""
        return Json(await run_blocking(authorizer.token, req.headers.get("authorization", ""),
                                       req.arg_list("scope")))

    routes.register(router, storage, Uploads(storage), hub, actor)
    return app


class RegistryServer(HttpServer):
    """The project's HTTP server with an extra TLS listener."""

    async def listen_tls(self, address: str, context: ssl.SSLContext) -> None:
        """Listen on "tcp://host:port" with TLS."""
        host, _, port = address.partition("://")[2].rstrip("/").rpartition(":")
        server = await asyncio.start_server(self._accept, host.strip("[]") or None, int(port), ssl=context,
                                            limit=MAX_LINE)
        self._servers.append(server)


async def serve(hub: Hub, address: str, authorizer: Authorizer, tls: tuple[str, str] | None = None,
                idle_timeout: float = IDLE_TIMEOUT) -> RegistryServer:
    """Start serving the registry of `hub.storage` at `address` ("tcp://host:port"); `await result.close()`."""
    hub.storage.remove_stale()
    await run_blocking(hub.index.ensure)
    hub.webhooks.start()
    app = build(hub.storage, authorizer, hub, "https" if tls else "http")
    server = RegistryServer(app, idle_timeout)
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
        await server.listen_tls(address, context)
    else:
        await server.listen(address)
    return server
