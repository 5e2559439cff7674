"""The OCI distribution endpoints: /v2/ blobs, uploads, manifests, tags, catalog and referrers."""

from __future__ import annotations

import json
import urllib.parse
from typing import AsyncIterator, Callable, Protocol

from dockyard.registry import digests, manifests
from dockyard.registry.digests import Digest
from dockyard.registry.errors import (BlobUnknown, DigestInvalid, ManifestBlobUnknown, ManifestInvalid,
                                      NameUnknown, RangeInvalid)
from dockyard.registry.storage import Storage, is_tag, paginate
from dockyard.registry.uploads import Session, Uploads
from dockyard.server.routing import Empty, File, Json, Raw, Request, Router, Stream, run_blocking


def _location_headers(name: str, session: Session) -> dict[str, str]:
    """Location, Range and Docker-Upload-UUID of an upload in progress."""
    end = max(session.offset - 1, 0)
    return {"Location": f"/v2/{name}/blobs/uploads/{session.id}", "Range": f"0-{end}",
            "Docker-Upload-UUID": session.id}


def _blob_created(name: str, digest: Digest) -> Empty:
    """201 for a blob that is now in the repository."""
    return Empty(201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": str(digest)})


def parse_range(header: str, size: int) -> tuple[int, int]:
    """(start, end inclusive) of a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range; 416 if unsatisfiable."""
    unit, _, spec = header.partition("=")
    first, sep, last = spec.strip().partition("-")
    if unit.strip() != "bytes" or not sep or "," in spec:
        raise RangeInvalid(f"unsupported range {header!r}", headers={"Content-Range": f"bytes */{size}"})
    if first == "":
        start, end = max(size - int(last or 0), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise RangeInvalid(f"range {header!r} not satisfiable", headers={"Content-Range": f"bytes */{size}"})
    return start, end


async def _no_chunks() -> AsyncIterator[bytes]:
    """An empty body (for HEAD with a Content-Length)."""
    nothing: tuple[bytes, ...] = ()
    for chunk in nothing:
        yield chunk


class Events(Protocol):
    """Who hears of pushes, pulls and deletes (the hub's index and audit log)."""

    def pushed(self, name: str, reference: str, digest: str, actor: str) -> None:
        """A manifest was stored under `reference`."""

    def pulled(self, name: str, reference: str, digest: str, actor: str) -> None:
        """A manifest was fetched (GET, not HEAD)."""

    def deleted(self, name: str, reference: str, actor: str) -> None:
        """A tag or manifest was deleted."""


def register(router: Router, storage: Storage, uploads: Uploads, events: Events,
             actor_of: Callable[[Request], str]) -> None:
    """Add every /v2/ endpoint to `router`; `events` hears of manifest pushes, pulls and deletes."""

    @router.get("/v2/")
    async def ping(req: Request) -> Json:
        """API version check."""
        return Json({})

    @router.get("/v2/_catalog")
    async def catalog(req: Request) -> Json:
        """Repositories, sorted, with n/last pagination."""
        names = await run_blocking(storage.repositories)
        page, more = paginate(names, req.arg_int("n"), req.arg("last"))
        headers = {}
        if more and page:
            headers["Link"] = f'</v2/_catalog?n={req.arg_int("n")}&last={urllib.parse.quote(page[-1])}>; rel="next"'
        return Json({"repositories": page}, headers=headers)

    @router.get("/v2/{name:path}/tags/list")
    async def tags_list(req: Request) -> Json:
        """Tags of a repository, sorted, with n/last pagination and Link."""
        name = req.params["name"]
        if not storage.repo_exists(name):
            raise NameUnknown("repository name not known to registry", {"name": name})
        tags = sorted(await run_blocking(storage.tags, name))
        page, more = paginate(tags, req.arg_int("n"), req.arg("last"))
        headers = {}
        if more and page:
            headers["Link"] = (f'</v2/{name}/tags/list?n={req.arg_int("n")}&last={urllib.parse.quote(page[-1])}>;'
                               ' rel="next"')
        return Json({"name": name, "tags": page}, headers=headers)

    # ----- uploads -------------------------------------------------------------------------------

    @router.post("/v2/{name:path}/blobs/uploads/")
    async def upload_start(req: Request) -> Empty:
        """Start an upload, or do it in one POST (?digest=), or mount a blob from another repository."""
        name = req.params["name"]
        storage.repo_dir(name)
        mount, source = req.arg("mount"), req.arg("from")
        if mount and source:
            digest = digests.parse(mount)
            if storage.has_layer(source, digest):
                await run_blocking(_link_locked, storage, name, digest)
                return _blob_created(name, digest)
        session = await run_blocking(uploads.start, name)
        if req.arg("digest"):
            expected = digests.parse(req.arg("digest") or "")
            await _append(req, session, None)
            await run_blocking(uploads.finish, session, expected)
            return _blob_created(name, expected)
        return Empty(202, _location_headers(name, session))

    async def _append(req: Request, session: Session, content_range: str | None) -> None:
        """Append the request body to an upload."""
        appender = await run_blocking(uploads.appender, session, content_range)
        try:
            async for chunk in req.stream_body():
                appender.write(chunk)
        finally:
            appender.close()

    @router.route("PATCH", "/v2/{name:path}/blobs/uploads/{upload}")
    async def upload_chunk(req: Request) -> Empty:
        """Append a chunk; Content-Range must continue where the upload ends."""
        name = req.params["name"]
        session = uploads.get(name, req.params["upload"])
        await _append(req, session, req.headers.get("content-range"))
        return Empty(202, _location_headers(name, session))

    @router.put("/v2/{name:path}/blobs/uploads/{upload}")
    async def upload_finish(req: Request) -> Empty:
        """Close an upload with an optional last chunk; verifies the digest."""
        name = req.params["name"]
        session = uploads.get(name, req.params["upload"])
        expected = digests.parse(req.arg("digest") or "")
        await _append(req, session, None)
        await run_blocking(uploads.finish, session, expected)
        return _blob_created(name, expected)

    @router.get("/v2/{name:path}/blobs/uploads/{upload}")
    async def upload_status(req: Request) -> Empty:
        """Where an upload stands (204 with Range)."""
        name = req.params["name"]
        return Empty(204, _location_headers(name, uploads.get(name, req.params["upload"])))

    @router.delete("/v2/{name:path}/blobs/uploads/{upload}")
    async def upload_cancel(req: Request) -> Empty:
        """Abandon an upload."""
        session = uploads.get(req.params["name"], req.params["upload"])
        await run_blocking(uploads.cancel, session)
        return Empty(204)

    # ----- blobs ---------------------------------------------------------------------------------

    @router.get("/v2/{name:path}/blobs/{digest}")
    async def blob_get(req: Request) -> File | Stream:
        """Blob content (or only its headers for HEAD), whole or one byte range."""
        name, digest = req.params["name"], digests.parse(req.params["digest"])
        if req.method == "HEAD":
            size = await run_blocking(_touch_locked, storage, name, digest)
        else:
            size = _layer_size(storage, name, digest)
        path = storage.blob_path(digest)
        headers = {"Docker-Content-Digest": str(digest), "Accept-Ranges": "bytes", "ETag": f'"{digest}"'}
        start, end, status = 0, size - 1, 200
        if req.headers.get("range"):
            start, end = parse_range(req.headers["range"], size)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1 if size else 0
        if req.method == "HEAD":
            headers["Content-Length"] = str(length)
            return Stream(_no_chunks(), status, "application/octet-stream", headers)
        return File(str(path), start, length, status, "application/octet-stream", headers)

    @router.delete("/v2/{name:path}/blobs/{digest}")
    async def blob_delete(req: Request) -> Empty:
        """Remove a blob from a repository (the data goes at the next GC)."""
        storage.unlink_layer(req.params["name"], digests.parse(req.params["digest"]))
        return Empty(202)

    # ----- manifests -----------------------------------------------------------------------------

    @router.get("/v2/{name:path}/manifests/{reference}")
    async def manifest_get(req: Request) -> Raw | Stream:
        """A manifest by tag or digest, in a media type the client accepts when we can."""
        name = req.params["name"]
        digest = await run_blocking(storage.resolve, name, req.params["reference"])
        manifest = manifests.parse(storage.read_blob(digest), None)
        accept = req.headers.get("accept", "")
        if accept and manifest.media_type in manifests.INDEX_TYPES and manifest.media_type not in accept \
                and "*/*" not in accept and any(t in accept for t in manifests.IMAGE_TYPES):
            child = manifests.amd64_child(manifest)
            if child is not None and storage.has_manifest(name, child):
                digest, manifest = child, manifests.parse(storage.read_blob(child), None)
        headers = {"Docker-Content-Digest": str(digest), "ETag": f'"{digest}"'}
        if req.method == "HEAD":
            return Stream(_no_chunks(), 200, manifest.media_type,
                          {**headers, "Content-Length": str(len(manifest.raw))})
        await run_blocking(events.pulled, name, req.params["reference"], str(digest), actor_of(req))
        return Raw(manifest.raw, 200, manifest.media_type, headers)

    @router.put("/v2/{name:path}/manifests/{reference}")
    async def manifest_put(req: Request) -> Empty:
        """Store a manifest after checking everything it references is here."""
        name, reference = req.params["name"], req.params["reference"]
        storage.repo_dir(name)
        raw = await req.body(limit=manifests.MAX_MANIFEST)
        manifest = manifests.parse(raw, req.headers.get("content-type"))
        algorithm = "sha256" if is_tag(reference) else digests.parse(reference).algorithm
        digest = digests.of_bytes(raw, algorithm)
        if not is_tag(reference) and str(digest) != reference:
            raise DigestInvalid(f"manifest digest {digest} does not match {reference}",
                                {"expected": reference, "actual": str(digest)})
        await run_blocking(_store_manifest, storage, name, reference, digest, manifest)
        await run_blocking(events.pushed, name, reference, str(digest), actor_of(req))
        headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": str(digest)}
        if manifest.subject is not None:
            headers["OCI-Subject"] = str(manifest.subject)
        return Empty(201, headers)

    @router.delete("/v2/{name:path}/manifests/{reference}")
    async def manifest_delete(req: Request) -> Empty:
        """Delete a tag, or a manifest by digest with every tag naming it."""
        name, reference = req.params["name"], req.params["reference"]
        if not storage.repo_exists(name):
            raise NameUnknown("repository name not known to registry", {"name": name})
        if is_tag(reference):
            storage.delete_tag(name, reference)
        else:
            await run_blocking(storage.unlink_manifest, name, digests.parse(reference))
        await run_blocking(events.deleted, name, reference, actor_of(req))
        return Empty(202)

    @router.get("/v2/{name:path}/referrers/{digest}")
    async def referrers(req: Request) -> Raw:
        """The index of manifests whose subject is `digest`, optionally filtered by artifactType."""
        name, subject = req.params["name"], digests.parse(req.params["digest"])
        found = await run_blocking(storage.referrers, name, subject) if storage.repo_exists(name) else []
        headers = {}
        wanted = req.arg("artifactType")
        if wanted:
            found = [d for d in found if d.get("artifactType") == wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        index = {"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": found}
        return Raw(json.dumps(index).encode(), 200, manifests.OCI_INDEX, headers)


def _layer_size(storage: Storage, name: str, digest: Digest) -> int:
    """Size of a blob linked into `name`; BLOB_UNKNOWN when it is not (or was just collected)."""
    try:
        if storage.has_layer(name, digest):
            return storage.blob_path(digest).stat().st_size
    except FileNotFoundError:
        pass
    raise BlobUnknown("blob unknown to registry", {"digest": str(digest)})


def _touch_locked(storage: Storage, name: str, digest: Digest) -> int:
    """HEAD before a push reuses a blob: under the GC lock, so a blob reported present is fresh and survives."""
    with storage.locked():
        size = _layer_size(storage, name, digest)
        storage.touch_blob(digest)
        return size


def _link_locked(storage: Storage, name: str, digest: Digest) -> None:
    """Link a blob into a repository under the GC lock."""
    with storage.locked():
        if not storage.blob_exists(digest):
            raise BlobUnknown("blob unknown to registry", {"digest": str(digest)})
        storage.link_layer(name, digest)


def _store_manifest(storage: Storage, name: str, reference: str, digest: Digest,
                    manifest: manifests.Manifest) -> None:
    """Check references, then store and link the manifest (and its tag and referrer entry) under the GC lock."""
    with storage.locked():
        for blob in manifest.blobs:
            if not storage.blob_exists(blob):
                raise ManifestBlobUnknown(f"blob unknown to registry: {blob}", {"digest": str(blob)})
        for child in manifest.children:
            if not storage.has_manifest(name, child):
                raise ManifestBlobUnknown(f"manifest unknown to registry: {child}", {"digest": str(child)})
        if not manifest.blobs and not manifest.children and manifest.media_type not in manifests.INDEX_TYPES:
            raise ManifestInvalid("manifest invalid: no config")
        for blob in manifest.blobs:
            storage.link_layer(name, blob)
        storage.put_blob_bytes(manifest.raw, digest.algorithm)
        storage.link_manifest(name, digest)
        if is_tag(reference):
            storage.set_tag(name, reference, digest)
        if manifest.subject is not None:
            storage.add_referrer(name, manifest.subject, manifest.descriptor(digest))
