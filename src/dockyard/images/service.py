"""Image service: resolve, list, inspect, history, tag, rmi, prune; import/load/save delegate to their modules."""

from __future__ import annotations

import builtins
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from dockyard.content.store import ContentStore
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.events.publisher import EventPublisher
from dockyard.images import archive, importer, listing, views
from dockyard.images.derive import derive_image
from dockyard.images.records import ImageRecord, ImageRecords
from dockyard.images.transfer import ImageTransfer
from dockyard.metadata.db import MetadataDB
from dockyard.snapshots.overlay import Snapshotter
from dockyard.util import apitypes, reference
from dockyard.util.filters import check_keys
from dockyard.util.imageview import ResolvedImage
from dockyard.util.digest import chain_ids, short_id
from dockyard.util.timeutil import now_rfc3339

UsageCheck = Callable[[str], list[tuple[str, bool]]]


@dataclass
class Image:
    """A resolved image: id (config digest), config JSON, top layer chain id and its references."""

    id: str
    config: dict[str, Any]
    chain_id: str | None
    repo_tags: list[str]
    repo_digests: list[str]
    size: int = 0


class ImageService:
    """Images as names pointing at a config blob plus layer blobs unpacked into snapshots."""

    def __init__(self, root: Path, db: MetadataDB, content: ContentStore, snapshots: Snapshotter,
                 events: EventPublisher, registry_config: dict[str, Any] | None = None) -> None:
        self.root = root
        self.records = ImageRecords(db)
        self.content = content
        self.snapshots = snapshots
        self.events = events
        self.lock = threading.RLock()
        self._usage: UsageCheck = lambda _image_id: []
        self._transfer = ImageTransfer(self, {} if registry_config is None else registry_config)

    def set_usage_check(self, fn: UsageCheck) -> None:
        """Install fn(image_id) -> [(container_id, running)] used by rmi and prune."""
        self._usage = fn

    # ----- lookup ------------------------------------------------------------------------------

    def resolve(self, ref_or_id: str) -> Image:
        """Find an image by name[:tag], name@digest, or full/short id (sha256: optional)."""
        return self._image(self._record_of(ref_or_id))

    def known(self, image_id: str) -> bool:
        """Whether a full image id is stored."""
        return self.records.get(image_id) is not None

    def references(self, image_id: str) -> builtins.list[str]:
        """The normalized references (tags and digests) naming a full image id, sorted."""
        return [ref for ref, _kind in self.records.refs_of(image_id)]

    def stored_size(self, image_id: str) -> int:
        """Unpacked bytes of all layers of a full image id; 0 when it is not stored."""
        record = self.records.get(image_id)
        return record.size if record is not None else 0

    def open_layer(self, image_id: str, index: int) -> BinaryIO:
        """The stored blob of an image's `index`-th layer (as pulled: maybe compressed), open for reading."""
        return self.content.open(self._record_of(image_id).layers[index]["digest"])

    def _record_of(self, ref_or_id: str) -> ImageRecord:
        image_id = self._find_id(ref_or_id)
        record = self.records.get(image_id)
        if record is None:
            raise NotFound(f"No such image: {ref_or_id}")
        return record

    def _find_id(self, ref_or_id: str) -> str:
        """Docker's GetImage order: digest-form id, then a reference, then an id prefix."""
        text = ref_or_id
        if reference.is_full_id(text):
            full = text if text.startswith("sha256:") else "sha256:" + text
            if self.records.get(full):
                return full
            raise NotFound(f"No such image: {full}")
        ref = reference.parse_tagged(text)
        image_id = self.records.lookup_ref(str(ref))
        if image_id:
            return image_id
        prefix = text[len("sha256:"):] if text.startswith("sha256:") else text
        if prefix and all(c in "0123456789abcdef" for c in prefix):
            matches = self.records.ids_with_prefix(prefix)
            if len(matches) == 1:
                return matches[0]
        raise NotFound(f"No such image: {ref.familiar()}")

    def _image(self, record: ImageRecord) -> Image:
        config = self.content.read_json(record.config_digest)
        tags, digests = self._familiar_refs(record.id)
        return Image(record.id, config, record.chain_id, tags, digests, record.size)

    def _familiar_refs(self, image_id: str) -> tuple[list[str], list[str]]:
        refs = self.records.refs_of(image_id)
        tags = [reference.parse(r).familiar() for r, kind in refs if kind == "tag"]
        digests = [reference.parse(r).familiar() for r, kind in refs if kind == "digest"]
        return tags, digests

    def count(self) -> int:
        """Number of images."""
        return len(self.records.all())

    # ----- read-only views ---------------------------------------------------------------------

    def list(self, all_: bool, filters: dict[str, list[str]], digests: bool) -> list[dict]:
        """GET /images/json (newest first); untagged parents (intermediate images) only with `all_`."""
        check_keys(filters, listing.LIST_FILTERS)
        predicate = listing.ImageFilter(filters, lambda ref: views.created_of(self.resolve(ref).config))
        parents = self.parent_ids()
        rows = []
        for record in self.records.all():
            image = self._image(record)
            refs = [reference.parse(r) for r, _kind in self.records.refs_of(record.id)]
            intermediate = not refs and record.id in parents
            if intermediate and not all_:
                continue
            if predicate.matches(image.config, refs, dangling=not refs and not intermediate):
                rows.append(views.summary(image.id, image.config, image.repo_tags, image.repo_digests, image.size,
                                          record.extra.get("parent", "")))
        rows.sort(key=lambda row: (row["Created"], row["Id"]), reverse=True)
        return rows

    def inspect(self, ref: str) -> dict:
        """GET /images/{name}/json."""
        record = self._record_of(ref)
        image = self._image(record)
        lowers = [str(p) for p in self.snapshots.lower_dirs(record.chain_id)] if record.chain_id else []
        return views.inspect(image.id, image.config, image.repo_tags, image.repo_digests, image.size,
                             lowers, record.last_tag_time, record.extra.get("parent", ""))

    def history(self, ref: str) -> builtins.list[dict]:
        """GET /images/{name}/history."""
        image = self.resolve(ref)
        diff_ids = (image.config.get("rootfs") or {}).get("diff_ids") or []
        sizes = [self.snapshots.layer_size(chain) for chain in chain_ids(diff_ids)]
        return views.history(image.id, image.config, image.repo_tags, sizes)

    def total_size(self) -> int:
        """Unpacked bytes of all layers of all images, each layer counted once (for system df)."""
        chains = {c for r in self.records.all() for c in self._chains(r)}
        return sum(self.snapshots.layer_size(c) for c in chains)

    # ----- writing -------------------------------------------------------------------------------

    def tag(self, source: str, repo: str, tag: str) -> None:
        """POST /images/{name}/tag: point repo:tag at the source image."""
        image_id = self._find_id(source)
        ref = reference.repo_tag(repo, tag)
        self.set_tag(ref, image_id)
        self.events.publish("image", "tag", image_id, {"name": ref.familiar()})

    def set_tag(self, ref: reference.Reference, image_id: str) -> str | None:
        """Point a tag at an image and stamp LastTagTime; returns the image it pointed at before."""
        with self.lock:
            previous = self.records.set_ref(str(ref), image_id, "tag")
            record = self.records.get(image_id)
            if record is not None:
                record.last_tag_time = now_rfc3339()
                self.records.put(record)
        return previous

    def add_image(self, config_digest: str, manifest_digest: str | None, layers: builtins.list[dict[str, Any]]) -> ImageRecord:
        """Unpack an image's layer blobs (already in the content store) and record it; idempotent."""
        existing = self.records.get(config_digest)
        if existing is not None:
            return existing
        with self.content.open(config_digest) as handle:
            config = apitypes.image_config(handle.read())  # never record what `docker images` cannot decode
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        if len(diff_ids) != len(layers):
            raise InvalidParameter(f"image {config_digest} has {len(diff_ids)} diff ids but {len(layers)} layers")
        chain: str | None = None
        size = 0
        for layer, diff_id in zip(layers, diff_ids):
            with self.content.open(layer["digest"]) as blob:
                chain = self.snapshots.apply_layer(chain, blob, diff_id)
            size += self.snapshots.layer_size(chain)
        record = ImageRecord(config_digest, config_digest, manifest_digest, layers, chain, size, time.time())
        with self.lock:
            if self.records.get(config_digest) is None:
                self.records.put(record)
        return self.records.get(config_digest) or record

    def remove(self, ref: str, force: bool, prune: bool) -> builtins.list[dict]:
        """DELETE /images/{name}: untag and/or delete as docker's ImageDelete does."""
        with self.lock:
            image_id = self._find_id(ref)
            out: builtins.list[dict] = []
            refs = [reference.parse(r) for r, _kind in self.records.refs_of(image_id)]
            if not reference.is_id_prefix(image_id, ref):
                parsed = reference.parse_tagged(ref)
                if not force and _is_single_reference(refs):
                    users = self._usage(image_id)
                    if users:
                        raise Conflict(
                            f'conflict: unable to remove repository reference "{ref}" (must force) - container '
                            f"{short_id(users[0][0])} is using its referenced image {short_id(image_id)}")
                self._untag(image_id, parsed, out)
                remaining = [reference.parse(r) for r, _ in self.records.refs_of(image_id)]
                if parsed.digest is None and not any(r.digest is None and r.name == parsed.name for r in remaining):
                    for other in [r for r in remaining if r.digest is not None and r.name == parsed.name]:
                        self._untag(image_id, other, out)
                if self.records.refs_of(image_id):
                    return out
                self._delete_helper(image_id, out, force, quiet=True, prune=prune)
                return out
            if _is_single_reference(refs):
                self._check_conflicts(image_id, hard=True, soft=not force, active_reference=False)
                for single in refs:
                    self._untag(image_id, single, out)
            self._delete_helper(image_id, out, force, quiet=False, prune=prune)
            return out

    def _untag(self, image_id: str, ref: reference.Reference, out: builtins.list[dict]) -> None:
        self.records.delete_ref(str(ref))
        out.append({"Untagged": ref.familiar()})
        self.events.publish("image", "untag", image_id, {"name": ref.familiar()})

    def _check_conflicts(self, image_id: str, hard: bool, soft: bool, active_reference: bool) -> bool:
        """Raise docker's image-delete conflicts; returns whether a container uses the image."""
        users = self._usage(image_id)
        running = [cid for cid, is_running in users if is_running]
        if hard and running:
            raise _delete_conflict(image_id, True, f"image is being used by running container {short_id(running[0])}")
        if soft and active_reference and self.records.refs_of(image_id):
            raise _delete_conflict(image_id, False, "image is referenced in multiple repositories")
        if soft and users:
            raise _delete_conflict(image_id, False, f"image is being used by stopped container {short_id(users[0][0])}")
        return bool(users)

    def _delete_helper(self, image_id: str, out: builtins.list[dict], force: bool, quiet: bool, prune: bool = False) -> None:
        """Delete the image unless a conflict stops it; `quiet` drops conflicts after an untag; `prune` also
        deletes the untagged parents nothing else needs (a build's intermediate images), as docker does."""
        try:
            self._check_conflicts(image_id, hard=True, soft=not force, active_reference=True)
        except Conflict:
            if quiet and self._usage(image_id):
                return
            raise
        for ref, _kind in self.records.refs_of(image_id):
            self._untag(image_id, reference.parse(ref), out)
        record = self.records.get(image_id)
        parent = record.extra.get("parent") if record is not None else None
        self.delete_image(image_id, out)
        if prune and parent and self._is_unneeded_intermediate(parent):
            self._delete_helper(parent, out, force=False, quiet=True, prune=True)

    def _is_unneeded_intermediate(self, image_id: str) -> bool:
        """An image that still exists, has no name, no child image and no container."""
        return (self.records.get(image_id) is not None and not self.records.refs_of(image_id)
                and image_id not in self.parent_ids() and not self._usage(image_id))

    def parent_ids(self) -> set[str]:
        """Ids of every image that is the parent of another (docker hides those when untagged)."""
        return {p for p in (r.extra.get("parent") for r in self.records.all()) if p}

    def delete_image(self, image_id: str, out: builtins.list[dict]) -> int:
        """Drop the record, unused layer snapshots and blobs; returns bytes reclaimed."""
        record = self.records.get(image_id)
        if record is None:
            raise NotFound(f"No such image: {image_id}")
        chains = self._chains(record)
        self.records.delete(image_id)
        self.events.publish("image", "delete", image_id, {"name": image_id})
        out.append({"Deleted": image_id})
        others = self.records.all()
        tops = {other.chain_id for other in others}
        reclaimed = 0
        for chain in reversed(chains):
            if chain in tops or self.snapshots.layer_in_use(chain):
                break
            reclaimed += self.snapshots.layer_size(chain)
            self.snapshots.remove_layer(chain)
            out.append({"Deleted": chain})
        kept = {d for other in others for d in other.blobs()}
        for digest in record.blobs() - kept:
            if self.content.exists(digest):
                self.content.delete(digest)
        return reclaimed

    def _chains(self, record: ImageRecord) -> builtins.list[str]:
        config = self.content.read_json(record.config_digest)
        return chain_ids((config.get("rootfs") or {}).get("diff_ids") or [])

    def prune(self, filters: dict[str, builtins.list[str]]) -> dict:
        """POST /images/prune: delete dangling (or, with dangling=false, all unused) images."""
        check_keys(filters, listing.PRUNE_FILTERS)
        dangling_only = listing.dangling_value(filters)
        predicate = listing.ImageFilter({k: v for k, v in filters.items() if k != "dangling"}, lambda r: "")
        deleted: builtins.list[dict] = []
        reclaimed = 0
        with self.lock:
            for record in self.records.all():
                refs = [reference.parse(r) for r, _kind in self.records.refs_of(record.id)]
                if (dangling_only is not False and refs) or self._usage(record.id):
                    continue
                if not predicate.matches(self.content.read_json(record.config_digest), refs, not refs):
                    continue
                for ref in refs:
                    self._untag(record.id, ref, deleted)
                reclaimed += self.delete_image(record.id, deleted)
        self.events.publish("image", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ----- registries ----------------------------------------------------------------------------

    def pull(self, from_image: str, tag: str | None, auth: str | None = None,
             platform: str | None = None) -> Iterator[dict]:
        """POST /images/create?fromImage=: progress messages; `auth` is the X-Registry-Auth header."""
        return self._transfer.pull(from_image, tag, auth, platform)

    def push(self, name: str, tag: str | None, auth: str | None = None) -> Iterator[dict]:
        """POST /images/{name}/push: progress messages; `auth` is the X-Registry-Auth header."""
        return self._transfer.push(name, tag, auth)

    def derive(self, parent: ResolvedImage | None, layer: BinaryIO | None, container_config: dict[str, Any],
               created_by: str, comment: str = "", author: str = "", empty_layer: bool | None = None) -> ImageRecord:
        """A child image of `parent` with `layer` (an uncompressed tar) on top: commit and build steps."""
        return derive_image(self, parent, layer, container_config, created_by, comment, author, empty_layer)

    # ----- archives ------------------------------------------------------------------------------

    def import_(self, stream: BinaryIO, repo: str | None, tag: str | None, changes: builtins.list[str], message: str) -> str:
        """POST /images/create?fromSrc=-: one layer from a tar (plain or gzip); returns the image id."""
        return importer.import_image(self, stream, repo, tag, changes, message)

    def import_url(self, url: str, repo: str | None, tag: str | None, changes: builtins.list[str],
                   message: str) -> str:
        """POST /images/create?fromSrc=<http(s) URL>: docker import from the URL, streamed."""
        if not url.startswith(("http://", "https://")):
            raise InvalidParameter(f"unsupported import source {url!r}")
        with urllib.request.urlopen(url) as response:  # noqa: S310 - scheme checked above
            return self.import_(response, repo, tag, changes, message)

    def load(self, stream: BinaryIO, quiet: bool) -> Iterator[dict]:
        """POST /images/load: docker (legacy or OCI-layout) archive; yields progress objects."""
        return archive.load(self, stream, quiet)

    def save(self, refs: builtins.list[str], out: BinaryIO) -> None:
        """GET /images/get: write the images (and their tags) as a docker 25-style archive."""
        archive.save(self, refs, out)


def _is_single_reference(refs: list[reference.Reference]) -> bool:
    """Docker's isSingleReference: one tag, plus at most digest refs of that same repository."""
    if len(refs) <= 1:
        return len(refs) == 1
    tagged = [r for r in refs if r.digest is None]
    canonical = {r.name for r in refs if r.digest is not None}
    if len(tagged) > 1:
        return False
    single = tagged[0] if tagged else refs[0]
    return len(canonical) == 1 and single.name in canonical


def _delete_conflict(image_id: str, hard: bool, message: str) -> Conflict:
    force = "cannot be forced" if hard else "must be forced"
    return Conflict(f"conflict: unable to delete {short_id(image_id)} ({force}) - {message}")
