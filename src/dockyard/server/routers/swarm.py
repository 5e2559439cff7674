"""HTTP routes for /swarm: init, join, leave, inspect, update, unlock key and unlock."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from dockyard.errors import InvalidParameter
from dockyard.server.routing import Json, Raw, Request, Router
from dockyard.server.services import Services


async def body_object(req: Request, go_type: str) -> dict[str, Any]:
    """The request's JSON object (null counts as {}), or Go's decoding error."""
    body = await req.json(required=False)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidParameter(f"json: cannot unmarshal into Go value of type {go_type}")
    return body


def object_version(req: Request, kind: str, detailed: bool = True) -> int:
    """The `version` query parameter as moby's routers parse it (strconv.ParseUint), with their texts."""
    raw = req.arg("version") or ""
    number = int(raw) if raw.isascii() and raw.isdigit() else -1
    if 0 <= number < 2 ** 64:
        return number
    problem = "value out of range" if number > 0 else "invalid syntax"
    detail = f" '{raw}': strconv.ParseUint: parsing \"{raw}\": {problem}" if detailed else ""
    raise InvalidParameter(f"invalid {kind} version{detail}")


def register(router: Router, services: Services) -> None:
    """Add the swarm routes to the router."""
    swarm = services.swarm

    @router.post("/swarm/init")
    async def init(req: Request) -> Json:
        return Json(await swarm.init(await body_object(req, "swarm.InitRequest")))

    @router.post("/swarm/leave")
    async def leave(req: Request) -> Raw:
        await swarm.leave(req.arg_bool("force"))
        return Raw(b"")

    @router.get("/swarm")
    async def inspect(req: Request) -> Json:
        return Json(swarm.inspect())

    @router.post("/swarm/update")
    async def update(req: Request) -> Raw:
        await swarm.update(object_version(req, "swarm"), await req.json(required=False),
                           req.arg_bool("rotateWorkerToken"), req.arg_bool("rotateManagerToken"),
                           req.arg_bool("rotateManagerUnlockKey"))
        return Raw(b"")

    @router.get("/swarm/unlockkey")
    async def unlock_key(req: Request) -> Json:
        return Json(swarm.unlock_key())

    for path, go_type, action in (("/swarm/join", "swarm.JoinRequest", swarm.join),
                                  ("/swarm/unlock", "swarm.UnlockRequest", swarm.unlock)):
        register_body_action(router, path, go_type, action)


def register_body_action(router: Router, path: str, go_type: str,
                         action: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """A POST whose JSON object body goes to `action`, answered with an empty 200."""

    @router.post(path)
    async def handle(req: Request) -> Raw:
        await action(await body_object(req, go_type))
        return Raw(b"")
