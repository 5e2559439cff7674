"""System routes: /_ping, /version, /info and the /events stream."""

from __future__ import annotations

import contextlib
import json
from typing import AsyncIterator

from dockyard.server.routing import Json, Raw, Request, Router, Stream, run_blocking
from dockyard.server.services import Services
from dockyard.util.filters import check_keys, parse_filters

EVENT_FILTERS = ("config", "container", "daemon", "event", "image", "label", "network", "node", "plugin",
                 "scope", "secret", "service", "type", "volume")
PING_HEADERS = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
                "Builder-Version": "1"}


def register(router: Router, services: Services) -> None:
    """Add the system routes to `router`."""

    @router.get("/_ping")
    async def ping(req: Request) -> Raw:
        """Liveness check; also tells clients the API and builder versions through headers."""
        return Raw(b"OK", headers=PING_HEADERS)

    @router.get("/version")
    async def version(req: Request) -> Json:
        """SystemVersion."""
        return Json(await run_blocking(services.system.version))

    @router.get("/info")
    async def info(req: Request) -> Json:
        """SystemInfo."""
        return Json(await run_blocking(services.system.info))

    @router.get("/events")
    async def events(req: Request) -> Stream | Raw:
        """Replay (since) and follow (until) events as JSON lines, filtered the way docker does."""
        filters = parse_filters(req.arg("filters"))
        check_keys(filters, EVENT_FILTERS)
        if req.method == "HEAD":
            return Raw(b"", content_type="application/json")
        subscription = services.events.subscribe(req.arg_time("since"), req.arg_time("until"), filters)

        async def lines() -> AsyncIterator[bytes]:
            """Each event as one JSON line."""
            async with contextlib.aclosing(subscription):
                async for msg in subscription:
                    yield json.dumps(msg).encode() + b"\n"
        return Stream(lines())
