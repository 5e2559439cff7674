"""HTTP route for /containers/{id}/stats: one reading, two readings a second apart, or a stream."""

from __future__ import annotations

import contextlib
import json
from typing import AsyncIterator

from dockyard.server.routing import Json, Request, Router, Stream
from dockyard.server.services import Services


def register(router: Router, services: Services) -> None:
    """Add the stats route to `router`."""
    stats = services.stats

    @router.get("/containers/{id}/stats")
    async def stats_(req: Request) -> Json | Stream:
        """docker's StatsJSON; stream (default) sends one per second with precpu from the previous one."""
        ref = req.params["id"]
        if not req.arg_bool("stream", True):
            return Json(await stats.once(ref, req.arg_bool("one-shot")))
        readings = await stats.stream(ref)

        async def lines() -> AsyncIterator[bytes]:
            """Each reading as one JSON line."""
            async with contextlib.aclosing(readings):
                async for reading in readings:
                    yield json.dumps(reading).encode() + b"\n"

        return Stream(lines())
