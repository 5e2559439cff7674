"""HTTP routes for a container's files: the archive API (cp), export, changes (diff) and commit."""

from __future__ import annotations

import asyncio
from typing import Any, BinaryIO

from dockyard.containers import archive
from dockyard.containers.access import ContainerAccess
from dockyard.containers.commit import commit, container_changes, export_rootfs
from dockyard.errors import InvalidParameter
from dockyard.oci.users import resolve_user
from dockyard.server.bodyio import BodyReader, stream_from_writer
from dockyard.server.routing import Empty, Json, Request, Router, Stream, run_blocking
from dockyard.server.services import Services
from dockyard.util.tartree import extract_tar

TAR = "application/x-tar"


def register(router: Router, services: Services) -> None:
    """Add the archive, export, changes and commit routes to `router`."""
    access = ContainerAccess(services.containers, services.images.snapshots, services.events)

    def required_path(req: Request) -> str:
        path = req.arg("path")
        if not path:
            raise InvalidParameter("Path cannot be empty")
        return path

    def stat_of(ref: str, path: str) -> tuple[dict[str, Any], archive.PathStat]:
        doc = access.doc(ref)
        with access.files(doc) as view:
            return doc, archive.stat_path(view.root, path, ref)

    @router.head("/containers/{id}/archive")
    async def stat(req: Request) -> Empty:
        """ContainerStatPath: the stat header only."""
        _, found = await run_blocking(stat_of, req.params["id"], required_path(req))
        return Empty(200, headers={archive.STAT_HEADER: found.header(), "Content-Type": "application/json"})

    @router.get("/containers/{id}/archive")
    async def get_archive(req: Request) -> Stream:
        """A tar of the path, with its stat in the header; event archive-path (docker's name for it)."""
        ref, path = req.params["id"], required_path(req)
        doc, found = await run_blocking(stat_of, ref, path)

        def produce(out: BinaryIO) -> None:
            """Tar the resource from a (re)mounted view of the container's files."""
            with access.files(doc) as view:
                archive.write_archive(view.root, path, out)

        access.publish(doc, "archive-path")
        return Stream(stream_from_writer(produce), content_type=TAR, headers={archive.STAT_HEADER: found.header()})

    @router.put("/containers/{id}/archive")
    async def put_archive(req: Request) -> Empty:
        """Extract the request's tar into the directory at path; event extract-to-dir."""
        ref, path = req.params["id"], required_path(req)
        doc = await run_blocking(access.doc, ref)
        no_overwrite = req.arg_bool("noOverwriteDirNonDir")
        body = BodyReader(req.stream_body(), asyncio.get_running_loop())

        def extract() -> None:
            """Resolve the destination and unpack inside the mounted view of the container's files."""
            with access.files(doc) as view:
                dest = archive.extraction_dir(view, path, ref, bool(doc["HostConfig"].get("ReadonlyRootfs")))
                user = doc["Config"].get("User") or ""
                owner = None
                if req.arg_bool("copyUIDGID") and user:
                    resolved = resolve_user(view.root, user)
                    owner = (resolved.uid, resolved.gid)
                extract_tar(body, view.root, dest, no_overwrite, owner)  # type: ignore[arg-type]

        await run_blocking(extract)
        access.publish(doc, "extract-to-dir")
        return Empty(200)

    @router.get("/containers/{id}/export")
    async def export(req: Request) -> Stream:
        """The flattened root file system as a tar; event export."""
        doc = await run_blocking(access.doc, req.params["id"])
        access.publish(doc, "export")
        return Stream(stream_from_writer(lambda out: export_rootfs(access, doc, out)), content_type=TAR)

    @router.get("/containers/{id}/changes")
    async def changes(req: Request) -> Json:
        """docker diff: [{Path, Kind}] (0 changed, 1 added, 2 deleted)."""
        return Json(await run_blocking(container_changes, access, req.params["id"]) or None)

    @router.post("/commit")
    async def commit_(req: Request) -> Json:
        """A new image from the container's writable layer; pauses a running container unless pause=0."""
        ref = req.arg("container") or ""
        doc = await run_blocking(access.doc, ref)
        body = await req.json(required=False)
        loop = asyncio.get_running_loop()
        pause = req.arg_bool("pause", True) and doc["State"]["Running"] and not doc["State"]["Paused"]

        def call(coroutine_fn: Any) -> Any:
            """Run a container-service coroutine from the commit thread."""
            return lambda: asyncio.run_coroutine_threadsafe(coroutine_fn(doc["Id"]), loop).result()

        image_id = await run_blocking(
            commit, access, services.images, doc["Id"], body, req.arg("repo") or None, req.arg("tag") or None,
            _changes(req), req.arg("comment") or "", req.arg("author") or "",
            call(services.containers.pause) if pause else None, call(services.containers.unpause) if pause else None)
        return Json({"Id": image_id}, status=201)


def _changes(req: Request) -> list[str]:
    """The changes parameter: repeated, each value possibly holding several newline-separated lines."""
    return [line for value in req.arg_list("changes") for line in value.splitlines() if line.strip()]
