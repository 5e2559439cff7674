"""HTTP routes for a container's files: the archive API (cp), export, changes (diff) and commit."""

from __future__ import annotations

import asyncio

from dockyard.errors import InvalidParameter
from dockyard.server.bodyio import BodyReader, stream_from_writer
from dockyard.server.routing import Empty, Json, Request, Router, Stream, run_blocking
from dockyard.server.services import Services

TAR = "application/x-tar"
STAT_HEADER = "X-Docker-Container-Path-Stat"


def register(router: Router, services: Services) -> None:
    """Add the archive, export, changes and commit routes to `router`."""
    files = services.files

    def required_path(req: Request) -> str:
        path = req.arg("path")
        if not path:
            raise InvalidParameter("Path cannot be empty")
        return path

    @router.head("/containers/{id}/archive")
    async def stat(req: Request) -> Empty:
        """ContainerStatPath: the stat header only."""
        header = await run_blocking(files.stat, req.params["id"], required_path(req))
        return Empty(200, headers={STAT_HEADER: header, "Content-Type": "application/json"})

    @router.get("/containers/{id}/archive")
    async def get_archive(req: Request) -> Stream:
        """A tar of the path, with its stat in the header."""
        header, produce = await run_blocking(files.get_archive, req.params["id"], required_path(req))
        return Stream(stream_from_writer(produce), content_type=TAR, headers={STAT_HEADER: header})

    @router.put("/containers/{id}/archive")
    async def put_archive(req: Request) -> Empty:
        """Extract the request's tar into the directory at path."""
        ref, path = req.params["id"], required_path(req)
        no_overwrite, copy_uid_gid = req.arg_bool("noOverwriteDirNonDir"), req.arg_bool("copyUIDGID")
        body = BodyReader(req.stream_body(), asyncio.get_running_loop())
        await run_blocking(files.put_archive, ref, path, body, no_overwrite, copy_uid_gid)
        return Empty(200)

    @router.get("/containers/{id}/export")
    async def export(req: Request) -> Stream:
        """The flattened root file system as a tar."""
        return Stream(stream_from_writer(await run_blocking(files.export, req.params["id"])), content_type=TAR)

    @router.get("/containers/{id}/changes")
    async def changes(req: Request) -> Json:
        """docker diff: [{Path, Kind}] (0 changed, 1 added, 2 deleted)."""
        return Json(await run_blocking(files.changes, req.params["id"]) or None)

    @router.post("/commit")
    async def commit_(req: Request) -> Json:
        """A new image from the container's writable layer; pauses a running container unless pause=0."""
        body = await req.json(required=False)
        image_id = await files.commit(req.arg("container") or "", body, req.arg("repo") or None,
                                      req.arg("tag") or None, _changes(req), req.arg("comment") or "",
                                      req.arg("author") or "", req.arg_bool("pause", True))
        return Json({"Id": image_id}, status=201)


def _changes(req: Request) -> list[str]:
    """The changes parameter: repeated, each value possibly holding several newline-separated lines."""
    return [line for value in req.arg_list("changes") for line in value.splitlines() if line.strip()]
