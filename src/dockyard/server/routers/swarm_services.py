"""HTTP routes for /services and /tasks."""

from __future__ import annotations

from dockyard.server.attach import MULTIPLEXED, RAW
from dockyard.server.logstream import LogQuery, log_body
from dockyard.server.routers.swarm_objects import register_list_inspect
from dockyard.server.routing import Json, Raw, Request, Router, Stream
from dockyard.server.services import Services
from dockyard.util.filters import parse_filters


def register(router: Router, services: Services) -> None:
    """Add the service and task routes to the router."""
    swarm_services = services.swarm_services

    @router.post("/services/create")
    async def create(req: Request) -> Json:
        return Json(await swarm_services.create(await req.json(required=False)), status=201)

    @router.get("/services")
    async def list_services(req: Request) -> Json:
        return Json(swarm_services.list(parse_filters(req.arg("filters")), req.arg_bool("status")))

    @router.get("/services/{id}")
    async def inspect_service(req: Request) -> Json:
        return Json(swarm_services.inspect(req.params["id"], req.arg_bool("insertDefaults")))

    @router.post("/services/{id}/update")
    async def update(req: Request) -> Json:
        return Json(await swarm_services.update(req.params["id"], req.arg("version"), await req.json(required=False),
                                                req.arg("rollback")))

    @router.delete("/services/{id}")
    async def remove(req: Request) -> Raw:
        await swarm_services.remove(req.params["id"])
        return Raw(b"")

    register_list_inspect(router, "tasks", services.swarm_tasks)
    for kind in ("services", "tasks"):
        register_logs(router, services, kind)


def register_logs(router: Router, services: Services, kind: str) -> None:
    """GET /<kind>/{id}/logs: the task containers' logs with the details the docker CLI needs."""

    @router.get(f"/{kind}/{{id}}/logs")
    async def logs(req: Request) -> Stream:
        query = LogQuery.of(req)
        tty, entries = await services.swarm_logs.logs(kind, req.params["id"], query.tail, query.since, query.until,
                                                      query.follow)
        return Stream(log_body(entries, query, tty), content_type=RAW if tty else MULTIPLEXED)
