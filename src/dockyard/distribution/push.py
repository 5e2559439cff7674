"""docker push: upload an image's layers (skipping those the registry has), config and manifest."""

from __future__ import annotations

import json
from typing import Any, BinaryIO, Iterator

from dockyard.distribution import parallel, progress
from dockyard.distribution.client import Credentials, RegistryClient
from dockyard.distribution.endpoints import endpoints
from dockyard.distribution.imagestore import ImageSource, LocalImage
from dockyard.errors import DockyardError, NotFound
from dockyard.util import mediatypes as media
from dockyard.util import reference

CHUNK = 1 << 20


class _MeteredFile:
    """A blob file whose reads are counted into a Meter (http.client reads the body through it)."""

    def __init__(self, handle: BinaryIO, meter: parallel.Meter) -> None:
        self._handle = handle
        self._meter = meter

    def read(self, n: int = -1) -> bytes:
        """Read and count."""
        data = self._handle.read(n if n and n > 0 else CHUNK)
        self._meter.add(len(data))
        return data

    def seek(self, offset: int) -> int:
        """Rewind for a resend."""
        self._meter.current = offset
        return self._handle.seek(offset)

    def __enter__(self) -> "_MeteredFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def tags_to_push(images: ImageSource, name: str, tag: str | None) -> list[reference.Reference]:
    """The tagged references to push: one tag, or all tags of the repository (docker push -a)."""
    ref = reference.parse(name)
    if tag or ref.tag:
        wanted = reference.Reference(ref.name, tag or ref.tag)
        if images.image_of(str(wanted)) is None:
            raise NotFound(f"An image does not exist locally with the tag: {wanted.familiar_name()}")
        return [wanted]
    found = sorted((reference.parse(r) for r in images.tag_refs() if reference.parse(r).name == ref.name), key=str)
    if not found:
        raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
    return found


class Pusher:
    """One push operation to the registry of a repository."""

    def __init__(self, images: ImageSource, config: dict[str, Any], credentials: Credentials) -> None:
        self.images = images
        self.config = config
        self.credentials = credentials

    def push(self, name: str, tag: str | None) -> Iterator[dict[str, Any]]:
        """Progress messages of the push; failures end the stream with docker's error object."""
        try:
            refs = tags_to_push(self.images, name, tag)
            yield progress.status(f"The push refers to repository [{refs[0].name}]")
            endpoint = [e for e in endpoints(refs[0].domain, self.config) if not e.mirror][0]
            client = RegistryClient(endpoint, self.credentials)
            for ref in refs:
                yield from self._push_one(client, ref)
        except DockyardError as exc:
            yield progress.error(exc.message)

    def _manifest(self, record: LocalImage) -> tuple[bytes, str]:
        """The image's stored manifest when it matches its layers, else a fresh OCI manifest."""
        content = self.images.content
        if record.manifest_digest and content.exists(record.manifest_digest):
            with content.open(record.manifest_digest) as handle:
                body = handle.read()
            doc = json.loads(body)
            if doc.get("config", {}).get("digest") == record.config_digest:
                return body, doc.get("mediaType", media.MANIFEST)
        return (media.manifest_bytes(record.config_digest, content.size(record.config_digest), record.layers),
                media.MANIFEST)

    def _push_one(self, client: RegistryClient, ref: reference.Reference) -> Iterator[dict[str, Any]]:
        """Push the image one tag names."""
        record = self.images.image_of(str(ref))
        if record is None:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
        body, media_type = self._manifest(record)
        doc = json.loads(body)
        repo = ref.path
        jobs = []
        for layer in doc.get("layers", []):
            ident = layer["digest"].split(":", 1)[1][:12]
            yield progress.status("Preparing", ident)
            jobs.append(self._upload_job(client, repo, layer, ident))
        jobs.append(self._upload_job(client, repo, doc["config"], None))
        yield from parallel.run(jobs, workers=5)
        digest = client.put_manifest(repo, ref.tag or reference.DEFAULT_TAG, body, media_type)
        self.images.add_digest_ref(f"{ref.name}@{digest}", record.id)
        self.images.publish("push", record.id, ref.familiar())
        yield progress.status(f"{ref.tag}: digest: {digest} size: {len(body)}")
        yield {"progressDetail": {}, "aux": {"Tag": ref.tag, "Digest": digest, "Size": len(body)}}

    def _upload_job(self, client: RegistryClient, repo: str, desc: dict[str, Any],
                    ident: str | None) -> parallel.Job:
        """A job uploading one blob unless the registry already has it."""
        content = self.images.content

        def job(report: parallel.Report) -> None:
            """HEAD, then upload when missing."""
            digest, size = desc["digest"], int(desc["size"])
            if client.blob_exists(repo, digest):
                if ident is not None:
                    report(progress.status("Layer already exists", ident))
                return
            meter = parallel.Meter(report if ident is not None else (lambda _m: None), "Pushing", ident or "",
                                   size)
            client.upload_blob(repo, digest, size, lambda: _MeteredFile(content.open(digest), meter))
            if ident is not None:
                report(progress.status("Pushed", ident))

        return job
