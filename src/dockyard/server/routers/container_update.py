"""HTTP route for POST /containers/{id}/update (docker update)."""

from __future__ import annotations

from dockyard.server.routing import Json, Request, Router
from dockyard.server.services import Services


def register(router: Router, services: Services) -> None:
    """Add the update route to the router."""

    @router.post("/containers/{id}/update")
    async def update(req: Request) -> Json:
        return Json({"Warnings": await services.containers.update(req.params["id"], await req.json())})
