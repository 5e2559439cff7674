"""HTTP routes for the swarm's objects: /nodes, /secrets and /configs share list, inspect and update; secrets and
configs are created and removed alike; a node is removed with `force`."""

from __future__ import annotations

from dockyard.server.backends import ListInspectBackend, SpecObjectBackend, SwarmObjectBackend
from dockyard.server.routers.swarm import object_version
from dockyard.server.routing import Empty, Json, Raw, Request, Router
from dockyard.server.services import Services
from dockyard.util.filters import parse_filters


def register(router: Router, services: Services) -> None:
    """Add the node, secret and config routes to the router."""
    nodes = services.nodes
    register_readable(router, "nodes", nodes)

    @router.delete("/nodes/{id}")
    async def remove_node(req: Request) -> Raw:
        await nodes.remove(req.params["id"], req.arg_bool("force"))
        return Raw(b"")

    for kind, objects in (("secrets", services.secrets), ("configs", services.configs)):
        register_readable(router, kind, objects)
        register_spec_object(router, kind, objects)


def register_list_inspect(router: Router, kind: str, objects: ListInspectBackend) -> None:
    """List (with filters) and inspect of one kind."""

    @router.get(f"/{kind}")
    async def list_(req: Request) -> Json:
        return Json(objects.list(parse_filters(req.arg("filters"))))

    @router.get(f"/{kind}/{{id}}")
    async def inspect(req: Request) -> Json:
        return Json(objects.inspect(req.params["id"]))


def register_readable(router: Router, kind: str, objects: SwarmObjectBackend) -> None:
    """List, inspect and update of one kind."""
    register_list_inspect(router, kind, objects)

    @router.post(f"/{kind}/{{id}}/update")
    async def update(req: Request) -> Raw:
        version = object_version(req, kind[:-1], detailed=kind == "nodes")
        await objects.update(req.params["id"], version, await req.json(required=False))
        return Raw(b"")


def register_spec_object(router: Router, kind: str, objects: SpecObjectBackend) -> None:
    """Create and remove of secrets or configs."""

    @router.post(f"/{kind}/create")
    async def create(req: Request) -> Json:
        return Json(await objects.create(await req.json(required=False)), status=201)

    @router.delete(f"/{kind}/{{id}}")
    async def remove(req: Request) -> Empty:
        await objects.remove(req.params["id"])
        return Empty()
