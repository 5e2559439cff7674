"""HTTP routes for /images: list, inspect, history, tag, rmi, import, load, save, prune."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, Iterator

from dockyard.errors import DockyardError, InvalidParameter
from dockyard.server.bodyio import BodyReader, stream_from_writer
from dockyard.server.routing import Empty, Json, Request, Router, Stream, run_blocking
from dockyard.server.services import Services
from dockyard.util.filters import parse_filters


async def _json_lines(first: dict | None, rest: Iterator[dict],
                      reported: type[DockyardError] = InvalidParameter) -> AsyncIterator[bytes]:
    """Progress objects as JSON lines; a failure (of the `reported` kind) after the first line becomes docker's
    error object in the stream."""
    if first is not None:
        yield json.dumps(first).encode() + b"\n"
    try:
        while (item := await run_blocking(next, rest, None)) is not None:
            yield json.dumps(item).encode() + b"\n"
    except reported as exc:
        yield json.dumps({"errorDetail": {"message": exc.message}, "error": exc.message}).encode() + b"\n"


def register(router: Router, services: Services) -> None:
    """Add the image routes to the router."""
    images = services.images

    @router.get("/images/json")
    async def list_(req: Request) -> Json:
        """GET /images/json."""
        filters = parse_filters(req.arg("filters"))
        return Json(await run_blocking(images.list, req.arg_bool("all"), filters, req.arg_bool("digests")))

    @router.get("/images/{name:path}/json")
    async def inspect(req: Request) -> Json:
        """GET /images/{name}/json."""
        return Json(await run_blocking(images.inspect, req.params["name"]))

    @router.get("/images/{name:path}/history")
    async def history(req: Request) -> Json:
        """GET /images/{name}/history."""
        return Json(await run_blocking(images.history, req.params["name"]))

    @router.post("/images/{name:path}/tag")
    async def tag(req: Request) -> Empty:
        """POST /images/{name}/tag (201)."""
        await run_blocking(images.tag, req.params["name"], req.arg("repo", "") or "", req.arg("tag"))
        return Empty(201)

    @router.delete("/images/{name:path}")
    async def remove(req: Request) -> Json:
        """DELETE /images/{name}: untag/delete records."""
        prune = not req.arg_bool("noprune")
        return Json(await run_blocking(images.remove, req.params["name"], req.arg_bool("force"), prune))

    @router.post("/images/prune")
    async def prune(req: Request) -> Json:
        """POST /images/prune."""
        return Json(await run_blocking(images.prune, parse_filters(req.arg("filters"))))

    @router.post("/images/create")
    async def create(req: Request) -> Stream:
        """POST /images/create?fromSrc=-|URL: docker import; answers {"status": <image id>}."""
        source = req.arg("fromSrc")
        if req.arg("fromImage"):
            messages = images.pull(req.arg("fromImage") or "", req.arg("tag") or None, _auth(req),
                                   req.arg("platform") or None)
            return Stream(_json_lines(await run_blocking(next, messages, None), messages))
        if not source:
            raise InvalidParameter("fromImage or fromSrc is required")
        changes = req.arg_list("changes")
        args = (req.arg("repo") or None, req.arg("tag") or None, changes, req.arg("message") or "")
        if source == "-":
            body = BodyReader(req.stream_body(), asyncio.get_running_loop())
            image_id = await run_blocking(images.import_, body, *args)
        else:
            image_id = await run_blocking(images.import_url, source, *args)
        return Stream(_json_lines({"status": image_id}, iter(())))

    @router.post("/images/{name:path}/push")
    async def push(req: Request) -> Stream:
        """POST /images/{name}/push?tag=: progress as JSON lines."""
        messages = images.push(req.params["name"], req.arg("tag") or None, _auth(req))
        return Stream(_json_lines(await run_blocking(next, messages, None), messages))

    @router.get("/images/search")
    async def search(req: Request) -> Json:
        """GET /images/search?term=&limit=: the registry's /v1/search results."""
        term = req.arg("term") or ""
        if not term:
            raise InvalidParameter("term is required")
        return Json(await run_blocking(services.registry.search, term, req.arg_int("limit", 25) or 25, _auth(req)))

    @router.post("/auth")
    async def auth(req: Request) -> Json:
        """POST /auth: check credentials against the registry."""
        return Json(await run_blocking(services.registry.login, await req.json()))

    @router.post("/images/load")
    async def load(req: Request) -> Stream:
        """POST /images/load: archive in the body, progress as JSON lines."""
        body = BodyReader(req.stream_body(), asyncio.get_running_loop())
        progress = await run_blocking(images.load, body, req.arg_bool("quiet"))
        # dockerd answers 200 and reports a bad archive inside the stream, whatever is wrong with it
        return Stream(_json_lines(None, progress, DockyardError))

    async def save(names: list[str]) -> Stream:
        """Check every name resolves, then stream the archive as save writes it."""
        if not names:
            raise InvalidParameter("no images named")
        for name in names:
            await run_blocking(images.resolve, name)
        chunks = stream_from_writer(lambda out: images.save(names, out))
        return Stream(chunks, content_type="application/x-tar")

    @router.get("/images/get")
    async def save_many(req: Request) -> Stream:
        """GET /images/get?names=..: one archive with every named image."""
        return await save(req.arg_list("names"))

    @router.get("/images/{name:path}/get")
    async def save_one(req: Request) -> Stream:
        """GET /images/{name}/get."""
        return await save([req.params["name"]])


def _auth(req: Request) -> str | None:
    """The X-Registry-Auth header (docker's base64url JSON credentials), decoded by the image service."""
    return req.headers.get("x-registry-auth")
