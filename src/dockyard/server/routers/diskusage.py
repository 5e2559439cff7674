"""HTTP route GET /system/df (disk usage of images, containers, volumes and build cache)."""

from __future__ import annotations

from dockyard.server.routing import Json, Request, Router, run_blocking
from dockyard.server.services import Services


def register(router: Router, services: Services) -> None:
    """Add /system/df to the router."""

    @router.get("/system/df")
    async def df(req: Request) -> Json:
        return Json(await run_blocking(services.disk_usage.usage, req.arg_list("type")))
