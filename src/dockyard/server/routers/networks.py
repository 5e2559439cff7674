"""HTTP routes for /networks: list, inspect, create, remove, connect, disconnect, prune."""

from __future__ import annotations

from dockyard.server.routing import Empty, Json, Request, Router
from dockyard.server.services import Services
from dockyard.util.filters import parse_filters


def register(router: Router, services: Services) -> None:
    """Add the network routes to the router."""
    networks = services.networks
    containers = services.containers

    @router.get("/networks")
    async def list_(req: Request) -> Json:
        return Json(networks.list(parse_filters(req.arg("filters"))))

    @router.get("/networks/{id}")
    async def inspect(req: Request) -> Json:
        return Json(networks.inspect(req.params["id"]))

    @router.post("/networks/create")
    async def create(req: Request) -> Json:
        return Json(await networks.create(await req.json()), status=201)

    @router.delete("/networks/{id}")
    async def remove(req: Request) -> Empty:
        await networks.remove(req.params["id"])
        return Empty()

    @router.post("/networks/{id}/connect")
    async def connect(req: Request) -> Empty:
        await containers.connect_network(req.params["id"], await req.json())
        return Empty(status=200)

    @router.post("/networks/{id}/disconnect")
    async def disconnect(req: Request) -> Empty:
        await containers.disconnect_network(req.params["id"], await req.json())
        return Empty(status=200)

    @router.post("/networks/prune")
    async def prune(req: Request) -> Json:
        return Json(await networks.prune(parse_filters(req.arg("filters"))))
