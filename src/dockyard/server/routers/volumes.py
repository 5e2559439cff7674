"""HTTP routes for /volumes: create, list, inspect, remove, prune."""

from __future__ import annotations

from dockyard.errors import InvalidParameter, NotImplementedYet
from dockyard.server.routing import Empty, Json, Request, Router, run_blocking
from dockyard.server.services import Services
from dockyard.util.filters import parse_filters


def register(router: Router, services: Services) -> None:
    """Add the volume routes to the router."""
    volumes = services.volumes

    @router.post("/volumes/create")
    async def create(req: Request) -> Json:
        body = await req.json()
        if not isinstance(body, dict):
            raise InvalidParameter("json: cannot unmarshal into Go value of type volume.CreateOptions")
        if body.get("ClusterVolumeSpec"):
            raise NotImplementedYet("cluster volumes are not supported")
        for key in ("Name", "Driver"):
            if body.get(key) is not None and not isinstance(body[key], str):
                raise InvalidParameter(f"json: cannot unmarshal into Go struct field CreateOptions.{key} "
                                       "of type string")
        volume = await run_blocking(volumes.create, body.get("Name") or None, body.get("Driver") or None,
                                    body.get("DriverOpts"), body.get("Labels"))
        return Json(volume, status=201)

    @router.get("/volumes")
    async def list_(req: Request) -> Json:
        found = await run_blocking(volumes.list, parse_filters(req.arg("filters")))
        return Json({"Volumes": found, "Warnings": None})

    @router.post("/volumes/prune")
    async def prune(req: Request) -> Json:
        filters = parse_filters(req.arg("filters"))
        if req.api_older_than("1.42"):
            filters["all"] = ["true"]  # dockerd: before 1.42 prune removed every unused volume
        return Json(await run_blocking(volumes.prune, filters))

    @router.get("/volumes/{name}")
    async def inspect(req: Request) -> Json:
        return Json(await run_blocking(volumes.inspect, req.params["name"]))

    @router.put("/volumes/{name}")
    async def update(req: Request) -> Json:
        raise NotImplementedYet("volume update is only supported for cluster volumes")

    @router.delete("/volumes/{name}")
    async def remove(req: Request) -> Empty:
        await run_blocking(volumes.remove, req.params["name"], req.arg_bool("force"))
        return Empty()
