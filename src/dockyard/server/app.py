"""The application: version prefixes, routing, common headers, and the one place errors become responses."""

from __future__ import annotations

import importlib
import logging
import re
import ssl

from dockyard import API_VERSION, MIN_API_VERSION, __version__
from dockyard.errors import DockyardError, InvalidParameter, NotFound, status_of
from dockyard.server.http import IDLE_TIMEOUT, HttpServer
from dockyard.server.routing import HIJACKED, Json, Request, Response, Router
from dockyard.server.services import Services
from dockyard.server.validation import Validator

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
    "swarm",
    "swarm_objects",
    "plugins",
    "swarm_services",
)
COMMON_HEADERS = [
    ("Api-Version", API_VERSION),
    ("Docker-Experimental", "false"),
    ("Ostype", "linux"),
    ("Server", f"Dockyard/{__version__} (linux)"),
]
_VERSION_PREFIX = re.compile(r"/v([0-9.]+)(/.*)\Z", re.S)  # docker's /v{version:[0-9.]+}


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    """"1.45" -> ((1, "1"), (2, "45")): components compared as numbers of any length without int() (an
    overlong prefix such as /v1.4444444444444444444 is just a large version); empty components are 0."""
    key = []
    for part in version.split("."):
        digits = part.lstrip("0")
        key.append((len(digits), digits))
    while key and key[-1] == (0, ""):
        key.pop()
    return tuple(key)


def split_version(path: str) -> tuple[str, str]:
    """(api_version, path without the /vX.Y prefix); docker's errors for unsupported versions."""
    m = _VERSION_PREFIX.match(path)
    if not m:
        return API_VERSION, path
    version, rest = m.group(1), m.group(2)
    key = _version_key(version)
    shown = version if len(version) <= 64 else version[:64] + "..."
    if key > _version_key(API_VERSION):
        raise InvalidParameter(f"client version {shown} is too new. "
                               f"Maximum supported API version is {API_VERSION}")
    if key < _version_key(MIN_API_VERSION):
        raise InvalidParameter(f"client version {shown} is too old. Minimum supported API version is "
                               f"{MIN_API_VERSION}, please upgrade your client to a newer version")
    return ".".join(digits or "0" for _, digits in key), rest  # "1.045.0" -> "1.45"


class App:
    """Dispatches requests to a router and maps every error to docker's {"message": ...} body."""

    headers = COMMON_HEADERS

    def __init__(self, router: Router, validator: Validator | None = None) -> None:
        self.router = router
        self.validator = validator or Validator()

    async def handle(self, request: Request) -> Response | object:
        """Answer one request; never raises for a handler's failure."""
        try:
            request.api_version, path = split_version(request.path)
            found = self.router.find(request.method, path)
            if found is None:
                raise NotFound("page not found")
            pattern, handler, request.params = found
            request.path = path
            await self.validator.check(request, pattern)
            result = await handler(request)
        except Exception as exc:  # noqa: BLE001 - this is the one place errors become responses
            return self.error(exc, f"{request.method} {request.path}")
        if result is not HIJACKED and not isinstance(result, Response):
            where = f"{request.method} {request.path}"
            return self.error(TypeError(f"handler for {where} returned {result!r}"), where)
        return result

    def error(self, exc: BaseException, where: str = "a request that could not be read") -> Response:
        """{"message": ...} with the error's status. The daemon says what it refused: a 4xx is logged at
        debug, a 5xx at error with its traceback (unexpected errors are 500s too)."""
        status = status_of(exc)
        message = exc.message if isinstance(exc, DockyardError) else str(exc) or type(exc).__name__
        if not isinstance(exc, DockyardError):
            log.error("unexpected error while serving a request (%s)", where, exc_info=exc)
        elif status >= 500:
            log.error("%s -> %d: %s", where, status, message, exc_info=exc)
        else:
            log.debug("%s -> %d: %s", where, status, message)
        return Json({"message": message}, status=status)


def build_router(services: Services) -> Router:
    """A router with every module of ROUTER_MODULES registered on it."""
    router = Router()
    for name in ROUTER_MODULES:
        module = importlib.import_module(f"dockyard.server.routers.{name}")
        module.register(router, services)
    return router


async def serve(router: Router, listeners: list[str], idle_timeout: float = IDLE_TIMEOUT,
                tls: ssl.SSLContext | None = None) -> HttpServer:
    """Listen on every address ("unix:///path", "tcp://host:port", the tcp ones with `tls` when given);
    `await result.close()` to stop."""
    server = HttpServer(App(router), idle_timeout)
    try:
        for address in listeners:
            await server.listen(address, tls)
    except BaseException:
        await server.close(grace=0)
        raise
    return server


class RpcListener:
    """A TLS listener opened and closed at run time, serving one router only (the swarm listener: the cluster API,
    never the Docker API)."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.server: HttpServer | None = None

    async def open(self, address: str, context: ssl.SSLContext) -> None:
        """Listen on "host:port"."""
        await self.close()
        self.server = await serve(self.router, [f"tcp://{address}"], tls=context)

    async def close(self, grace: float = 2.0) -> None:
        """Stop listening; requests in progress get `grace` seconds to end."""
        if self.server is not None:
            server, self.server = self.server, None
            await server.close(grace)
