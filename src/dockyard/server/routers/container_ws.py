"""HTTP routes for /containers/{id}/attach/ws: attach over a websocket, as dockerd serves it (never
multiplexed; binary frames from API 1.28, text frames before; streams chosen by the query from API 1.42)."""

from __future__ import annotations

from dockyard.server.attach import AttachOptions, serve_attach
from dockyard.server.routing import HIJACKED, Hijack, Request, Router
from dockyard.server.services import Services


def register(router: Router, services: Services) -> None:
    """Add the websocket attach route (GET, and POST as some clients send) to `router`."""

    async def attach_ws(req: Request) -> object:
        """Handshake, then the attach session over websocket frames."""
        options = AttachOptions.from_request(req, default=req.api_older_than("1.42"))

        async def open_client(_content_type: str) -> Hijack:
            """Upgrade once the container is known to be attachable."""
            return await req.hijack_websocket(binary=not req.api_older_than("1.28"))

        await serve_attach(services, req.params["id"], options, open_client, multiplex=False)
        return HIJACKED

    router.get("/containers/{id}/attach/ws")(attach_ws)
    router.post("/containers/{id}/attach/ws")(attach_ws)
