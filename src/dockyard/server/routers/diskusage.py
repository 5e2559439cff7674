"""HTTP route GET /system/df (disk usage of images, containers, volumes and build cache)."""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidParameter
from dockyard.server.routing import Json, Request, Router, run_blocking
from dockyard.system.diskusage import DF_TYPES, disk_usage


def register(router: Router, services: Any) -> None:
    """Add /system/df to the router."""

    @router.get("/system/df")
    async def df(req: Request) -> Json:
        types = req.arg_list("type")
        for kind in types:
            if kind not in DF_TYPES:
                raise InvalidParameter(f"unknown object type: {kind}")
        return Json(await run_blocking(disk_usage, services.images, services.containers,
                                       services.volumes, services.builder, types))
