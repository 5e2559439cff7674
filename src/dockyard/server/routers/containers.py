"""HTTP routes for /containers: lifecycle, inspect, list, logs, attach, top, wait, prune."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

from dockyard.errors import InvalidParameter
from dockyard.server.attach import MULTIPLEXED, RAW, AttachOptions, serve_attach
from dockyard.server.backends import LogLine
from dockyard.server.logstream import LogQuery, log_body
from dockyard.server.routing import HIJACKED, Empty, Json, Request, Router, Stream, run_blocking
from dockyard.server.services import Services
from dockyard.util.filters import parse_filters


def register(router: Router, services: Services) -> None:
    """Add the container routes to the router."""
    containers = services.containers

    @router.post("/containers/create")
    async def create(req: Request) -> Json:
        body = await req.json()
        if req.api_older_than("1.45") and _asks_subpath(body):
            raise InvalidParameter("VolumeOptions.Subpath needs API v1.45 or newer")
        return Json(await containers.create(body, req.arg("name")), status=201)

    @router.get("/containers/json")
    async def list_(req: Request) -> Json:
        filters = parse_filters(req.arg("filters"))
        limit = req.arg_int("limit", -1)
        return Json(await run_blocking(containers.list, req.arg_bool("all"), limit, req.arg_bool("size"), filters))

    @router.get("/containers/{id}/json")
    async def inspect(req: Request) -> Json:
        return Json(await run_blocking(containers.inspect, req.params["id"], req.arg_bool("size")))

    @router.post("/containers/{id}/start")
    async def start(req: Request) -> Empty:
        await containers.start(req.params["id"])
        return Empty()

    @router.post("/containers/{id}/stop")
    async def stop(req: Request) -> Empty:
        await containers.stop(req.params["id"], req.arg_int("t"), req.arg("signal"))
        return Empty()

    @router.post("/containers/{id}/restart")
    async def restart(req: Request) -> Empty:
        await containers.restart(req.params["id"], req.arg_int("t"), req.arg("signal"))
        return Empty()

    @router.post("/containers/{id}/kill")
    async def kill(req: Request) -> Empty:
        await containers.kill(req.params["id"], req.arg("signal"))
        return Empty()

    @router.post("/containers/{id}/pause")
    async def pause(req: Request) -> Empty:
        await containers.pause(req.params["id"])
        return Empty()

    @router.post("/containers/{id}/unpause")
    async def unpause(req: Request) -> Empty:
        await containers.unpause(req.params["id"])
        return Empty()

    @router.post("/containers/{id}/rename")
    async def rename(req: Request) -> Empty:
        await containers.rename(req.params["id"], req.arg("name") or "")
        return Empty()

    @router.delete("/containers/{id:path}")
    async def remove(req: Request) -> Empty:
        if req.arg_bool("link"):  # the path names a link: /containers//parent/alias?link=1
            await containers.remove_link(req.params["id"])
        else:
            await containers.remove(req.params["id"], req.arg_bool("force"), req.arg_bool("v"))
        return Empty()

    @router.post("/containers/prune")
    async def prune(req: Request) -> Json:
        return Json(await containers.prune(parse_filters(req.arg("filters"))))

    @router.post("/containers/{id}/wait")
    async def wait(req: Request) -> Stream:
        waiter = containers.register_wait(req.params["id"], req.arg("condition") or "not-running")

        async def body() -> AsyncIterator[bytes]:
            code = await waiter
            yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"

        return Stream(body())

    @router.get("/containers/{id}/top")
    async def top(req: Request) -> Json:
        return Json(await run_blocking(containers.top, req.params["id"], req.arg("ps_args") or "-ef"))

    @router.get("/containers/{id}/logs")
    async def logs(req: Request) -> Stream:
        query = LogQuery.of(req)
        tty, entries = await services.logs.logs(req.params["id"], query.tail, query.since, query.until, query.follow)

        async def without_details() -> AsyncIterator[tuple[dict[str, str], LogLine]]:
            async for entry in entries:
                yield {}, entry
        return Stream(log_body(without_details(), query, tty), content_type=RAW if tty else MULTIPLEXED)

    @router.post("/containers/{id}/attach")
    async def attach(req: Request) -> object:
        await serve_attach(services, req.params["id"], AttachOptions.from_request(req), req.hijack)
        return HIJACKED


def _asks_subpath(body: Any) -> bool:
    """Whether a create body names a volume subpath (dockerd refuses it before API 1.45)."""
    host = body.get("HostConfig") if isinstance(body, dict) else None
    mounts = host.get("Mounts") if isinstance(host, dict) else None
    return any(isinstance(m, dict) and isinstance(m.get("VolumeOptions"), dict) and m["VolumeOptions"].get("Subpath")
               for m in mounts or [])
