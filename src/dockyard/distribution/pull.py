"""docker pull: resolve a reference, fetch manifest, config and layers (concurrently, verified), unpack, tag."""

from __future__ import annotations

import json
from typing import Any, Iterator

from dockyard.distribution import parallel, progress
from dockyard.distribution.client import Credentials, RegistryClient, RegistryError
from dockyard.distribution.endpoints import endpoints
from dockyard.distribution.imagestore import ImageSink
from dockyard.distribution.layers import layer_descriptors
from dockyard.errors import DockyardError, InvalidParameter, NotFound
from dockyard.util import mediatypes as media
from dockyard.util import reference
from dockyard.util.digest import CHUNK, is_digest

DEFAULT_PLATFORM = ("linux", "amd64", "")


def parse_platform(text: str | None) -> tuple[str, str, str]:
    """"linux/arm64/v8" -> (os, architecture, variant); None -> linux/amd64."""
    if not text:
        return DEFAULT_PLATFORM
    parts = text.split("/")
    if len(parts) == 1:
        return "linux", parts[0], ""
    return parts[0], parts[1], parts[2] if len(parts) > 2 else ""


def pick(index: dict[str, Any], platform: tuple[str, str, str]) -> dict[str, Any]:
    """The manifest descriptor of an index matching the platform."""
    os_, arch, variant = platform
    for entry in index.get("manifests") or []:
        p = entry.get("platform") or {}
        if p.get("os") == os_ and p.get("architecture") == arch and (not variant or p.get("variant") == variant):
            return entry
    raise NotFound(f"no matching manifest for {os_}/{arch}{'/' + variant if variant else ''} "
                   "in the manifest list entries")


def target_refs(from_image: str, tag: str | None) -> tuple[reference.Reference, bool]:
    """The reference to pull and whether every tag is wanted (docker pull -a sends an empty tag)."""
    ref = reference.parse(from_image)
    if tag:
        if is_digest(tag):
            return reference.Reference(ref.name, None, tag), False
        return reference.Reference(ref.name, reference.validate_tag(tag)), False
    if ref.tag or ref.digest:
        return ref, False
    return ref, True


class Puller:
    """One pull operation against the endpoints of one registry."""

    def __init__(self, images: ImageSink, config: dict[str, Any], credentials: Credentials,
                 platform: str | None = None) -> None:
        self.images = images
        self.config = config
        self.credentials = credentials
        self.platform = parse_platform(platform)

    def pull(self, from_image: str, tag: str | None) -> Iterator[dict[str, Any]]:
        """Progress messages of the whole pull; failures end the stream with docker's error object (a refusal in
        dockerd's words: "pull access denied for X, repository does not exist or may require 'docker login'")."""
        ref: reference.Reference | None = None
        try:
            ref, all_tags = target_refs(from_image, tag)
            yield from self._pull_ref(ref, all_tags)
        except DockyardError as exc:
            message = exc.message
            if ref is not None and isinstance(exc, RegistryError) and exc.code == "DENIED":
                message = (f"pull access denied for {ref.familiar_name()}, repository does not exist or may require "
                           f"'docker login': {message}")
            yield progress.error(message)

    def _pull_ref(self, ref: reference.Reference, all_tags: bool) -> Iterator[dict[str, Any]]:
        """Try each endpoint (mirrors first) until one works."""
        candidates = endpoints(ref.domain, self.config)
        for endpoint in candidates:
            client = RegistryClient(endpoint, self.credentials)
            try:
                if all_tags:
                    yield progress.status(f"Pulling from {ref.path}", "")
                    for tag in sorted(client.tags(ref.path)):
                        yield from self._pull_one(client, reference.Reference(ref.name, tag), announce=False)
                    yield progress.status(f"Status: Downloaded all tags of {ref.familiar_name()}")
                else:
                    yield from self._pull_one(client, ref, announce=True)
                return
            except DockyardError:
                if not endpoint.mirror:
                    raise

    def _pull_one(self, client: RegistryClient, ref: reference.Reference, announce: bool) -> Iterator[dict]:
        """Pull one tag or digest."""
        repo = ref.path
        wanted = ref.digest or ref.tag or reference.DEFAULT_TAG
        if announce:
            yield progress.status(f"Pulling from {repo}", ref.digest or wanted)
        body, media_type, digest = client.get_manifest(repo, wanted)
        top_digest = self._store(body, ref.digest)
        doc = json.loads(body)
        media_type = doc.get("mediaType") or media_type
        manifest_digest = top_digest
        if media_type in media.INDEX_TYPES or "manifests" in doc:
            entry = pick(doc, self.platform)
            body, media_type, _ = client.get_manifest(repo, entry["digest"])
            manifest_digest = self._store(body, entry["digest"])
            doc = json.loads(body)
        if doc.get("schemaVersion") != 2 or "config" not in doc:
            raise InvalidParameter(f"unsupported manifest type {media_type or 'schema1'} for {ref.familiar()}")
        config_desc = doc["config"]
        layers = layer_descriptors(doc)
        content = self.images.content
        jobs = []
        fetched: list[str] = []
        for layer in layers:
            ident = layer["digest"].split(":", 1)[1][:12]
            if content.exists(layer["digest"]):
                yield progress.status("Already exists", ident)
            else:
                yield progress.status("Pulling fs layer", ident)
                fetched.append(ident)
                jobs.append(self._download_job(client, repo, layer, ident))
        if not content.exists(config_desc["digest"]):
            jobs.append(self._download_job(client, repo, config_desc, None))
        yield from parallel.run(jobs)
        existed = self.images.has_image(config_desc["digest"])
        image_id = self.images.add_image(config_desc["digest"], manifest_digest, layers)
        for ident in fetched:
            yield progress.status("Pull complete", ident)
        yield from self._finish(ref, image_id, top_digest, existed)

    def _finish(self, ref: reference.Reference, image_id: str, digest: str, existed: bool) -> Iterator[dict]:
        """Tag, record the repo digest, publish the event and say how it went."""
        previous = None
        if ref.tag:
            previous = self.images.set_tag(reference.Reference(ref.name, ref.tag), image_id)
        self.images.add_digest_ref(f"{ref.name}@{digest}", image_id)
        self.images.publish("pull", image_id, ref.familiar())
        yield progress.status(f"Digest: {digest}")
        shown = ref.familiar() if ref.tag else f"{ref.familiar_name()}@{digest}"
        if existed and (previous == image_id or not ref.tag):
            yield progress.status(f"Status: Image is up to date for {shown}")
        else:
            yield progress.status(f"Status: Downloaded newer image for {shown}")

    def _store(self, body: bytes, expected: str | None) -> str:
        """Store a manifest blob, verified against the digest it was asked by; returns its digest."""
        digest, _ = self.images.content.ingest([body], expected if expected and is_digest(expected) else None)
        return digest

    def _download_job(self, client: RegistryClient, repo: str, desc: dict[str, Any],
                      ident: str | None) -> parallel.Job:
        """A job downloading one blob into the content store, verified against its digest and size."""
        content = self.images.content

        def job(report: parallel.Report) -> None:
            """Download, verify, commit."""
            meter = parallel.Meter(report, "Downloading", ident or "", int(desc.get("size", 0)))
            resp = client.open_blob(repo, desc["digest"])
            writer = content.begin()
            try:
                while chunk := resp.raw.read(CHUNK):
                    writer.write(chunk)
                    if ident is not None:
                        meter.add(len(chunk))
            except BaseException:
                writer.abort()
                raise
            finally:
                resp.close()
            if ident is not None:
                report(progress.status("Verifying Checksum", ident))
            writer.commit(desc["digest"], int(desc["size"]) if "size" in desc else None)
            if ident is not None:
                report(progress.status("Download complete", ident))

        return job
