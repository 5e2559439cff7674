"""The application: version prefixes, routing, common headers, and the one place errors become responses."""

from __future__ import annotations

import importlib
import logging
import re

from dockyard import API_VERSION, MIN_API_VERSION, __version__
from dockyard.errors import DockyardError, InvalidParameter, NotFound, status_of
from dockyard.server.http import IDLE_TIMEOUT, HttpServer
from dockyard.server.routing import HIJACKED, Json, Request, Response, Router
from dockyard.server.services import Services

log = logging.getLogger(__name__)

ROUTER_MODULES = (
    "system",
    "images",
    "containers",
    "build",
    "container_files",
    "container_stats",
    "container_ws",
    "networks",
    "volumes",
    "diskusage",
    "exec",
    "container_update",
)
COMMON_HEADERS = [
    ("Api-Version", API_VERSION),
    ("Docker-Experimental", "false"),
    ("Ostype", "linux"),
    ("Server", f"Dockyard/{__version__} (linux)"),
]
_VERSION_PREFIX = re.compile(r"/v(\d+(?:\.\d+)?)(/.*)\Z", re.S)


def _version_key(version: str) -> tuple[int, ...]:
    """"1.45" -> (1, 45) for comparisons."""
    return tuple(int(part) for part in version.split("."))


def split_version(path: str) -> tuple[str, str]:
    """(api_version, path without the /vX.Y prefix); docker's errors for unsupported versions."""
    m = _VERSION_PREFIX.match(path)
    if not m:
        return API_VERSION, path
    version, rest = m.group(1), m.group(2)
    if _version_key(version) > _version_key(API_VERSION):
        raise InvalidParameter(f"client version {version} is too new. "
                               f"Maximum supported API version is {API_VERSION}")
    if _version_key(version) < _version_key(MIN_API_VERSION):
        raise InvalidParameter(f"client version {version} is too old. Minimum supported API version is "
                               f"{MIN_API_VERSION}, please upgrade your client to a newer version")
    return version, rest


class App:
    """Dispatches requests to a router and maps every error to docker's {"message": ...} body."""

    headers = COMMON_HEADERS

    def __init__(self, router: Router) -> None:
        self.router = router

    async def handle(self, request: Request) -> Response | object:
        """Answer one request; never raises for a handler's failure."""
        try:
            request.api_version, path = split_version(request.path)
            found = self.router.match(request.method, path)
            if found is None:
                raise NotFound("page not found")
            handler, request.params = found
            request.path = path
            result = await handler(request)
        except Exception as exc:  # noqa: BLE001 - this is the one place errors become responses
            return self.error(exc)
        if result is not HIJACKED and not isinstance(result, Response):
            return self.error(TypeError(f"handler for {request.method} {request.path} returned {result!r}"))
        return result

    def error(self, exc: BaseException) -> Response:
        """{"message": ...} with the error's status; unexpected errors are logged with their traceback."""
        if isinstance(exc, DockyardError):
            message = exc.message
        else:
            log.error("unexpected error while serving a request", exc_info=exc)
            message = str(exc) or type(exc).__name__
        return Json({"message": message}, status=status_of(exc))


def build_router(services: Services) -> Router:
    """A router with every module of ROUTER_MODULES registered on it."""
    router = Router()
    for name in ROUTER_MODULES:
        module = importlib.import_module(f"dockyard.server.routers.{name}")
        module.register(router, services)
    return router


async def serve(router: Router, listeners: list[str], idle_timeout: float = IDLE_TIMEOUT) -> HttpServer:
    """Listen on every address ("unix:///path", "tcp://host:port"); `await result.close()` to stop."""
    server = HttpServer(App(router), idle_timeout)
    try:
        for address in listeners:
            await server.listen(address)
    except BaseException:
        await server.close(grace=0)
        raise
    return server
