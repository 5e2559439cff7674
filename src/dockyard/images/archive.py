"""docker save/load archives: manifest.json + repositories + OCI layout (docker 25+), and the legacy layout."""

from __future__ import annotations

import io
import json
import os
import posixpath
import tarfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

from dockyard.content.store import ContentStore, Ingest
from dockyard.errors import InvalidParameter
from dockyard.util import mediatypes as media
from dockyard.util import reference
from dockyard.util.digest import CHUNK, digest_bytes, hex_of
from dockyard.util.tarsafe import clean_name

if TYPE_CHECKING:
    from dockyard.images.records import ImageRecord
    from dockyard.images.service import ImageService

_METADATA_FILES = {"manifest.json", "index.json", "repositories", "oci-layout"}
_METADATA_LIMIT = 32 << 20
_MAX_LINK_HOPS = 32
_NAME_ANNOTATION = "io.containerd.image.name"
_REF_ANNOTATION = "org.opencontainers.image.ref.name"


# ----- load ---------------------------------------------------------------------------------------


@dataclass
class _Staged:
    """An archive read once: small metadata in memory, every other file in an uncommitted ingest."""

    content: ContentStore
    metadata: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, Ingest] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    committed: dict[str, str] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)

    def resolve(self, path: str) -> str:
        """Follow symlinks and hardlinks between archive members."""
        name = clean_name(path)
        for _ in range(_MAX_LINK_HOPS):
            if name not in self.links:
                break
            name = self.links[name]
        if name not in self.files:
            raise InvalidParameter(f"invalid archive: {path} is missing")
        return name

    def digest(self, path: str) -> str:
        """Digest of a staged file (committed or not)."""
        name = self.resolve(path)
        return self.committed.get(name) or self.files[name].digest

    def read(self, path: str) -> bytes:
        """Bytes of a small staged file (manifests, configs)."""
        ingest = self.files[self.resolve(path)]
        if ingest.size > _METADATA_LIMIT:
            raise InvalidParameter(f"invalid archive: {path} is too large")
        path_on_disk = ingest.path if ingest.path.exists() else self.content.path(self.digest(path))
        return path_on_disk.read_bytes()

    def head(self, path: str) -> bytes:
        """First bytes of a staged file."""
        ingest = self.files[self.resolve(path)]
        path_on_disk = ingest.path if ingest.path.exists() else self.content.path(self.digest(path))
        with open(path_on_disk, "rb") as handle:
            return handle.read(4)

    def commit(self, path: str) -> tuple[str, int]:
        """Move a staged file into the content store (verified against blobs/sha256/<hex> names)."""
        name = self.resolve(path)
        ingest = self.files[name]
        if name not in self.committed:
            expected = _expected_digest(name)
            existed = self.content.exists(ingest.digest)
            digest, _size = ingest.commit(expected)
            self.committed[name] = digest
            if not existed:
                self.created.add(digest)
        return self.committed[name], ingest.size

    def store_bytes(self, data: bytes) -> str:
        """Put a blob made during the load (a synthesized manifest) into the store, tracked like the rest."""
        digest = digest_bytes(data)
        if not self.content.exists(digest):
            self.content.ingest([data], expected=digest)
            self.created.add(digest)
        return digest

    def discard(self) -> None:
        """Abort every uncommitted ingest."""
        for name, ingest in self.files.items():
            if name not in self.committed:
                ingest.abort()


def _expected_digest(name: str) -> str | None:
    parts = name.split("/")
    if len(parts) == 3 and parts[:2] == ["blobs", "sha256"]:
        return "sha256:" + parts[2]
    return None


def _stage(content: ContentStore, stream: BinaryIO) -> _Staged:
    """Read the archive once, streaming each file into an ingest."""
    staged = _Staged(content)
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:
            for member in tar:
                _stage_member(staged, tar, member)
    except tarfile.TarError as exc:
        staged.discard()
        raise InvalidParameter(f"invalid archive: {exc}") from exc
    except BaseException:
        staged.discard()
        raise
    return staged


def _stage_member(staged: _Staged, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    name = clean_name(member.name)
    if member.issym():
        staged.links[name] = clean_name(posixpath.join(posixpath.dirname(name), member.linkname))
    elif member.islnk():
        staged.links[name] = clean_name(member.linkname)
    elif member.isreg():
        source = tar.extractfile(member)
        assert source is not None
        if name in _METADATA_FILES:
            if member.size > _METADATA_LIMIT:
                raise InvalidParameter(f"invalid archive: {name} is too large")
            staged.metadata[name] = source.read()
            return
        ingest = staged.content.begin()
        staged.files[name] = ingest
        while chunk := source.read(CHUNK):
            ingest.write(chunk)
        ingest.close()


@dataclass
class _Planned:
    """One image found in an archive."""

    config_path: str
    layer_paths: list[str]
    tags: list[reference.Reference]
    manifest_path: str | None = None
    layer_media_types: list[str] = field(default_factory=list)


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"invalid archive: {what}: {exc}") from exc


def _oci_manifests(staged: _Staged) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """[(manifest path, manifest, annotations)] reachable from index.json (nested indexes followed)."""
    if "index.json" not in staged.metadata:
        return []
    found: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    pending = [(d, d.get("annotations") or {}) for d in _json(staged.metadata["index.json"], "index.json")
               .get("manifests", [])]
    while pending:
        descriptor, annotations = pending.pop(0)
        path = "blobs/sha256/" + hex_of(descriptor["digest"])
        if path not in staged.files and path not in staged.links:
            continue
        document = _json(staged.read(path), path)
        kind = descriptor.get("mediaType") or document.get("mediaType")
        if kind in media.INDEX_TYPES:
            platform_ok = [d for d in document.get("manifests", []) if _is_amd64(d.get("platform"))]
            pending += [(d, annotations) for d in platform_ok]
        elif kind in media.MANIFEST_TYPES:
            found.append((path, document, annotations))
    return found


def _is_amd64(platform: dict[str, Any] | None) -> bool:
    return platform is None or (platform.get("os") == "linux" and platform.get("architecture") == "amd64")


def _plan(staged: _Staged) -> list[_Planned]:
    """Images in the archive: from manifest.json when present, else from the OCI index."""
    oci = _oci_manifests(staged)
    by_config = {m["config"]["digest"]: (path, m) for path, m, _a in oci}
    if "manifest.json" in staged.metadata:
        planned = []
        for entry in _json(staged.metadata["manifest.json"], "manifest.json"):
            tags = [reference.parse_tagged(t) for t in entry.get("RepoTags") or []]
            item = _Planned(entry["Config"], list(entry.get("Layers") or []), tags)
            match = by_config.get(staged.digest(item.config_path))
            if match and [l["digest"] for l in match[1]["layers"]] == [staged.digest(p) for p in item.layer_paths]:
                item.manifest_path = match[0]
                item.layer_media_types = [l["mediaType"] for l in match[1]["layers"]]
            planned.append(item)
        return planned
    if not oci:
        raise InvalidParameter("invalid archive: neither manifest.json nor index.json with an image manifest")
    planned_by_manifest: dict[str, _Planned] = {}
    for path, document, image_annotations in oci:
        item = planned_by_manifest.setdefault(path, _Planned(
            "blobs/sha256/" + hex_of(document["config"]["digest"]),
            ["blobs/sha256/" + hex_of(l["digest"]) for l in document["layers"]], [], path,
            [l["mediaType"] for l in document["layers"]]))
        name = image_annotations.get(_NAME_ANNOTATION) or image_annotations.get(_REF_ANNOTATION)
        if name and ":" in name.split("/")[-1]:
            item.tags.append(reference.parse_tagged(name))
    return list(planned_by_manifest.values())


def load(service: "ImageService", stream: BinaryIO, quiet: bool) -> Iterator[dict]:
    """Load every image of an archive; yields docker's progress objects once everything is stored."""
    staged = _stage(service.content, stream)
    messages: list[str] = []
    try:
        for item in _plan(staged):
            messages += _load_one(service, staged, item)
    except BaseException:
        staged.discard()
        _drop_unreferenced(service, staged.created)
        raise
    staged.discard()
    for message in messages:
        yield {"stream": message}


def _load_one(service: "ImageService", staged: _Staged, item: _Planned) -> list[str]:
    config_digest, _ = staged.commit(item.config_path)
    layers = []
    for index, path in enumerate(item.layer_paths):
        media_type = item.layer_media_types[index] if item.layer_media_types else media.layer_media_type(
            staged.head(path))
        digest, size = staged.commit(path)
        layers.append({"digest": digest, "size": size, "mediaType": media_type})
    if item.manifest_path:
        manifest_digest, _ = staged.commit(item.manifest_path)
    else:
        config_size = service.content.size(config_digest)
        manifest_digest = staged.store_bytes(media.manifest_bytes(config_digest, config_size, layers))
    record = service.add_image(config_digest, manifest_digest, layers)
    messages = []
    for tag in item.tags:
        previous = service.set_tag(tag, record.id)
        if previous and previous != record.id:
            messages.append(f"The image {tag.familiar()} already exists, renaming the old one with ID "
                            f"{previous} to empty string\n")
        messages.append(f"Loaded image: {tag.familiar()}\n")
        service.events.publish("image", "load", record.id, {"name": tag.familiar()})
    if not item.tags:
        messages.append(f"Loaded image ID: {record.id}\n")
        service.events.publish("image", "load", record.id, {"name": record.id})
    return messages


def _drop_unreferenced(service: "ImageService", digests: set[str]) -> None:
    """Delete blobs this load created that no image record references."""
    used = {d for record in service.records.all() for d in record.blobs()}
    for digest in digests - used:
        if service.content.exists(digest):
            service.content.delete(digest)


# ----- save ---------------------------------------------------------------------------------------


def _selected(service: "ImageService", refs: list[str]) -> dict[str, list[reference.Reference]]:
    """image id -> the tags to write, in request order (ids give no tags; a bare name gives all its tags)."""
    chosen: dict[str, list[reference.Reference]] = {}
    for text in refs:
        parsed = None
        if not reference.is_full_id(text):
            parsed = reference.parse(text)
            if parsed.tag is None and parsed.digest is None:
                repo_refs = [(reference.parse(r), i) for r, i, kind in service.records.all_refs()
                             if kind == "tag" and reference.parse(r).name == parsed.name]
                for ref, ref_image in repo_refs:
                    chosen.setdefault(ref_image, []).append(ref)
                if repo_refs:
                    continue
        image_id = service.resolve(text).id
        tags = chosen.setdefault(image_id, [])
        if parsed is not None and parsed.tag and not reference.is_id_prefix(image_id, text):
            tags.append(reference.Reference(parsed.name, parsed.tag))
    return chosen


def save(service: "ImageService", refs: list[str], out: BinaryIO) -> None:
    """Write a docker 25-style archive: blobs/sha256/*, index.json, manifest.json, repositories, oci-layout."""
    selected = _selected(service, refs)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_dir(tar, "blobs")
        _add_dir(tar, "blobs/sha256")
        written: set[str] = set()
        index: list[dict[str, Any]] = []
        manifests: list[dict[str, Any]] = []
        repositories: dict[str, dict[str | None, str]] = {}
        for image_id, tags in selected.items():
            record = service.records.get(image_id)
            assert record is not None
            manifest_digest, manifest_size = _write_image_blobs(service, tar, record, written)
            descriptor = {"mediaType": media.MANIFEST, "digest": manifest_digest, "size": manifest_size}
            for tag in tags:
                index.append({**descriptor, "annotations": {_NAME_ANNOTATION: str(tag), _REF_ANNOTATION: tag.tag}})
                if record.layers:
                    repositories.setdefault(tag.familiar_name(), {})[tag.tag] = hex_of(record.layers[-1]["digest"])
            if not tags:
                index.append(descriptor)
            manifests.append({
                "Config": "blobs/sha256/" + hex_of(record.config_digest),
                "RepoTags": [t.familiar() for t in tags] or None,
                "Layers": ["blobs/sha256/" + hex_of(layer["digest"]) for layer in record.layers],
            })
            service.events.publish("image", "save", image_id, {"name": tags[0].familiar() if tags else image_id})
        _add_bytes(tar, "index.json", _dumps({"schemaVersion": 2, "mediaType": media.INDEX, "manifests": index}))
        _add_bytes(tar, "manifest.json", _dumps(manifests))
        _add_bytes(tar, "oci-layout", _dumps({"imageLayoutVersion": "1.0.0"}))
        if repositories:
            _add_bytes(tar, "repositories", _dumps(repositories))


def _write_image_blobs(service: "ImageService", tar: tarfile.TarFile, record: "ImageRecord",
                       written: set[str]) -> tuple[str, int]:
    """Write config, layers and manifest blobs once each; returns the manifest descriptor's digest and size."""
    content = service.content
    for digest in [record.config_digest] + [layer["digest"] for layer in record.layers]:
        if digest not in written:
            written.add(digest)
            _add_file(tar, "blobs/sha256/" + hex_of(digest), content.path(digest), content.size(digest))
    if record.manifest_digest and content.exists(record.manifest_digest):
        manifest = content.path(record.manifest_digest).read_bytes()
    else:
        manifest = media.manifest_bytes(record.config_digest, content.size(record.config_digest), record.layers)
    digest = digest_bytes(manifest)
    if digest not in written:
        written.add(digest)
        _add_bytes(tar, "blobs/sha256/" + hex_of(digest), manifest)
    return digest, len(manifest)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _info(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mtime = size, kind, 0
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    tar.addfile(_info(name, 0, tarfile.DIRTYPE))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: os.PathLike[str], size: int) -> None:
    with open(path, "rb") as handle:
        tar.addfile(_info(name, size), handle)
