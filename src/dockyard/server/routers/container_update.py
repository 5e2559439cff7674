"""HTTP route for POST /containers/{id}/update (docker update)."""

from __future__ import annotations

from typing import Any

from dockyard.containers.update import apply_update, changes_of, drop_unsupported
from dockyard.server.routing import Json, Request, Router


def register(router: Router, services: Any) -> None:
    """Add the update route to the router."""
    containers = services.containers

    @router.post("/containers/{id}/update")
    async def update(req: Request) -> Json:
        changes = changes_of(await req.json())
        warnings = drop_unsupported(changes)
        container_id = containers.resolve_id(req.params["id"])
        bundle = containers.bundle(container_id)
        await containers.update_host_config(container_id, lambda doc: apply_update(doc, changes, bundle))
        return Json({"Warnings": warnings})
