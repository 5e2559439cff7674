"""HTTP routes of the swarm's cluster API (`/swarmrpc/v1/*`), served only on the swarm listener: the root CA and
join need no client certificate, every other route is refused without a node certificate of the swarm. A node
publishes the logs a manager asked for as the chunked body of `logs/{subscription}`."""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidParameter
from dockyard.server.backends import SwarmRpcBackend
from dockyard.server.routing import Json, Request, Response, Router, Stream
from dockyard.util.tls import peer_certificate

PREFIX = "/swarmrpc/v1"


async def _object(req: Request) -> dict[str, Any]:
    """The request's JSON object."""
    body = await req.json(required=False)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidParameter("the body must be a JSON object")
    return body


def register(router: Router, rpc: SwarmRpcBackend) -> None:
    """Add the cluster API's routes to the swarm listener's router."""

    @router.get(f"{PREFIX}/ca")
    async def root_ca(req: Request) -> Response:
        return Json({"Certificate": rpc.ca()})

    @router.post(f"{PREFIX}/join")
    async def join(req: Request) -> Response:
        return Json(await rpc.join(await _object(req)))

    @router.post(f"{PREFIX}/session")
    async def session(req: Request) -> Response:
        lines = await rpc.session(peer_certificate(), await _object(req))
        return Stream(lines, content_type="application/x-ndjson")

    @router.post(f"{PREFIX}/heartbeat")
    async def heartbeat(req: Request) -> Response:
        return Json(await rpc.heartbeat(peer_certificate(), await _object(req)))

    @router.post(f"{PREFIX}/renew")
    async def renew(req: Request) -> Response:
        return Json(await rpc.renew(peer_certificate(), await _object(req)))

    @router.post(f"{PREFIX}/logs/{{subscription}}")
    async def publish_logs(req: Request) -> Response:
        await rpc.publish_logs(peer_certificate(), req.params["subscription"], req.stream_body())
        return Json({})

    @router.post(f"{PREFIX}/status")
    async def status(req: Request) -> Response:
        await rpc.status(peer_certificate(), await _object(req))
        return Json({})
