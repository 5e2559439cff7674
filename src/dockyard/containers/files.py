"""A container's files as the API reaches them: the archive API (cp), export, changes (diff) and commit."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, BinaryIO, Callable

from dockyard.containers import archive
from dockyard.containers.access import ContainerAccess
from dockyard.containers.protocols import CommitImages
from dockyard.containers.commit import commit, container_changes, export_rootfs
from dockyard.containers.record import ContainerRecord
from dockyard.errors import Conflict
from dockyard.oci.users import resolve_user
from dockyard.util.aio import run_blocking
from dockyard.util.tartree import extract_tar

log = logging.getLogger(__name__)

Writer = Callable[[BinaryIO], None]


class ContainerFiles:
    """cp, export, diff and commit over the container access (record, mounted files, events) and the images."""

    def __init__(self, access: ContainerAccess, images: CommitImages) -> None:
        self._access = access
        self._images = images

    def _stat(self, ref: str, path: str) -> tuple[ContainerRecord, archive.PathStat]:
        """The container's record and the stat of `path` in its files."""
        doc = self._access.doc(ref)
        with self._access.files(doc) as view:
            return doc, archive.stat_path(view.root, path, ref)

    def stat(self, ref: str, path: str) -> str:
        """HEAD /containers/{id}/archive: the stat header's value."""
        return self._stat(ref, path)[1].header()

    def get_archive(self, ref: str, path: str) -> tuple[str, Writer]:
        """GET /containers/{id}/archive: the stat header and a writer of the path's tar (from a freshly mounted
        view of the files); event archive-path (docker's name for it)."""
        doc, found = self._stat(ref, path)

        def produce(out: BinaryIO) -> None:
            """Tar the resource from a (re)mounted view of the container's files."""
            with self._access.files(doc) as view:
                archive.write_archive(view.root, path, out)

        self._access.publish(doc, "archive-path")
        return found.header(), produce

    def put_archive(self, ref: str, path: str, body: BinaryIO, no_overwrite: bool, copy_uid_gid: bool) -> None:
        """PUT /containers/{id}/archive: extract the tar `body` into the directory at path; event extract-to-dir."""
        doc = self._access.doc(ref)
        with self._access.files(doc) as view:
            dest = archive.extraction_dir(view, path, ref, bool(doc.host_config.get("ReadonlyRootfs")))
            user = doc.config.get("User") or ""
            owner = None
            if copy_uid_gid and user:
                resolved = resolve_user(view.root, user)
                owner = (resolved.uid, resolved.gid)
            extract_tar(body, view.root, dest, no_overwrite, owner)
        self._access.publish(doc, "extract-to-dir")

    def export(self, ref: str) -> Writer:
        """GET /containers/{id}/export: a writer of the flattened root file system's tar; event export."""
        doc = self._access.doc(ref)
        self._access.publish(doc, "export")
        return lambda out: export_rootfs(self._access, doc, out)

    def changes(self, ref: str) -> list[dict[str, Any]]:
        """GET /containers/{id}/changes: docker diff's [{Path, Kind}]."""
        return container_changes(self._access, ref)

    async def commit(self, ref: str, body: Any, repo: str | None, tag: str | None, changes: list[str],
                     comment: str, author: str, pause: bool) -> str:
        """POST /commit: a new image from the container's writable layer, the container paused meanwhile when it
        runs and `pause`; returns the image id."""
        doc = await run_blocking(self._access.doc, ref)
        loop = asyncio.get_running_loop()
        containers = self._access.containers
        pause = pause and doc.state.running and not doc.state.paused

        def call(coroutine_fn: Any) -> Callable[[], None]:
            """Run a container-service coroutine from the commit thread. A container that stopped meanwhile
            (an exit lands at any moment) needs no pause nor unpause: its layer is at rest already."""
            def run() -> None:
                try:
                    asyncio.run_coroutine_threadsafe(coroutine_fn(doc.id), loop).result()
                except Conflict as stopped:
                    log.debug("commit of %s goes on unpaused: %s", doc.id[:12], stopped.message)
            return run

        return await run_blocking(
            commit, self._access, self._images, doc.id, body, repo, tag, changes, comment, author,
            call(containers.pause) if pause else None, call(containers.unpause) if pause else None)
