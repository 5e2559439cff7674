"""HTTP routes for /plugins: list, inspect, create, enable, disable, remove, set; the registry operations
(privileges, pull, push, upgrade) answer what the daemon can do without plugin registries."""

from __future__ import annotations

import asyncio

from dockyard.errors import InvalidParameter
from dockyard.server.bodyio import BodyReader
from dockyard.server.routing import Empty, Json, Request, Router, run_blocking
from dockyard.server.services import Services
from dockyard.util.filters import parse_filters


def register(router: Router, services: Services) -> None:
    """Add the plugin routes to the router."""
    plugins = services.plugins

    @router.get("/plugins")
    async def list_(req: Request) -> Json:
        return Json(await run_blocking(plugins.list, parse_filters(req.arg("filters"))))

    @router.get("/plugins/privileges")
    async def privileges(req: Request) -> Json:
        await run_blocking(plugins.refuse_registry, req.arg("remote") or "")
        return Json([])

    @router.post("/plugins/pull")
    async def pull(req: Request) -> Empty:
        await run_blocking(plugins.refuse_registry, req.arg("remote") or "")
        return Empty(status=200)

    @router.post("/plugins/create")
    async def create(req: Request) -> Empty:
        body = BodyReader(req.stream_body(), asyncio.get_running_loop())
        await run_blocking(plugins.create, req.arg("name") or "", body)
        return Empty()

    @router.get("/plugins/{name:path}/json")
    async def inspect(req: Request) -> Json:
        return Json(await run_blocking(plugins.inspect, req.params["name"]))

    @router.post("/plugins/{name:path}/enable")
    async def enable(req: Request) -> Empty:
        timeout = req.arg_int("timeout")
        if timeout is None:  # dockerd's strconv.Atoi requires it
            raise InvalidParameter('strconv.Atoi: parsing "": invalid syntax')
        await run_blocking(plugins.enable, req.params["name"], timeout)
        return Empty(status=200)

    @router.post("/plugins/{name:path}/disable")
    async def disable(req: Request) -> Empty:
        await run_blocking(plugins.disable, req.params["name"], req.arg_bool("force"))
        return Empty(status=200)

    @router.post("/plugins/{name:path}/set")
    async def set_(req: Request) -> Empty:
        args = await req.json()
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise InvalidParameter("json: cannot unmarshal into Go value of type []string")
        await run_blocking(plugins.set, req.params["name"], args)
        return Empty()

    @router.post("/plugins/{name:path}/push")
    async def push(req: Request) -> Empty:
        await run_blocking(plugins.refuse_registry, req.params["name"])
        return Empty(status=200)

    @router.post("/plugins/{name:path}/upgrade")
    async def upgrade(req: Request) -> Empty:
        await run_blocking(plugins.refuse_registry, req.arg("remote") or req.params["name"])
        return Empty(status=200)

    @router.delete("/plugins/{name:path}")
    async def remove(req: Request) -> Empty:
        await run_blocking(plugins.remove, req.params["name"], req.arg_bool("force"))
        return Empty(status=200)
