"""HTTP route for /containers/{id}/stats: one reading, two readings a second apart, or a stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

from dockyard.containers.stats import empty_stats, sample, with_previous
from dockyard.errors import Conflict, NotFound, SystemError_
from dockyard.server.routing import Json, Request, Router, Stream, run_blocking
from dockyard.server.services import Services

INTERVAL = 1.0


def register(router: Router, services: Services) -> None:
    """Add the stats route to `router`."""
    containers = services.containers

    async def reading(ref: str) -> dict[str, Any] | None:
        """A sample of a running container; None when it is not running (or stops meanwhile)."""
        doc = await run_blocking(containers.inspect, ref)
        if not doc["State"]["Running"]:
            return None
        try:
            return await run_blocking(sample, doc, containers.bundle(doc["Id"]))
        except (FileNotFoundError, Conflict, SystemError_):  # it exited between inspect and the reading
            return None

    @router.get("/containers/{id}/stats")
    async def stats(req: Request) -> Json | Stream:
        """docker's StatsJSON; stream (default) sends one per second with precpu from the previous one."""
        ref = req.params["id"]
        doc = await run_blocking(containers.inspect, ref)
        stream = req.arg_bool("stream", True)
        if not stream:
            first = await reading(ref)
            if first is None:
                return Json(empty_stats(doc))
            if req.arg_bool("one-shot"):
                return Json(first)
            await asyncio.sleep(INTERVAL)
            second = await reading(ref)
            return Json(with_previous(second, first) if second is not None else first)

        async def lines() -> AsyncIterator[bytes]:
            """A reading each second while the container runs (nothing while it is stopped, as docker)."""
            previous = None
            while True:
                try:
                    current = await reading(ref)
                except NotFound:  # removed: the stream ends, as docker's does
                    return
                if current is not None:
                    yield json.dumps(with_previous(current, previous)).encode() + b"\n"
                previous = current
                await asyncio.sleep(INTERVAL)

        return Stream(lines())
