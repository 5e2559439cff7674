"""Online garbage collection: mark what tags reach, sweep the rest, never what a push is still using.

Writers that create references (blob commit, mount, manifest put) hold the storage's shared lock, the
mark and sweep hold it exclusively, so a manifest is never stored pointing at a blob being deleted.
Blobs, revisions and links touched within `grace` seconds (or since the oldest open upload) are kept:
they belong to a push that has not put its manifest yet.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from dockyard.registry import manifests
from dockyard.registry.digests import Digest
from dockyard.registry.errors import BlobUnknown, ManifestInvalid
from dockyard.registry.index import Index
from dockyard.registry.storage import Storage
from dockyard.registry.uploads import oldest_upload

DEFAULT_GRACE = 600.0


@dataclass
class Report:
    """What a GC run removed (or would remove, in dry-run mode)."""

    manifests: list[str] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    freed: int = 0

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        out = [f"manifest {m}" for m in self.manifests] + [f"blob {b}" for b in self.blobs]
        out.append(f"{len(self.manifests)} manifests and {len(self.blobs)} blobs eligible, {self.freed} bytes")
        return out


def _mtime(path: os.PathLike[str]) -> float:
    """Modification time, or +inf when the file vanished (treat as fresh)."""
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return float("inf")


def _parsed(storage: Storage, digest: Digest) -> manifests.Manifest | None:
    """A stored manifest, or None when it is missing or not a manifest."""
    try:
        return manifests.parse(storage.read_blob(digest), None)
    except (BlobUnknown, ManifestInvalid):
        return None


def _mark_repository(storage: Storage, name: str, threshold: float, delete_untagged: bool,
                     marked: set[Digest]) -> list[Digest]:
    """Mark the blobs reachable in one repository; returns the revisions to delete."""
    revisions = storage.revisions(name)
    parsed = {d: _parsed(storage, d) for d in revisions}
    roots = set(storage.tags(name).values())
    for digest in revisions:
        recent = _mtime(storage.repo_dir(name) / "_manifests" / "revisions" / digest.algorithm / digest.hex)
        if not delete_untagged or recent >= threshold:
            roots.add(digest)
    kept: set[Digest] = set()
    pending = list(roots)
    while pending:
        digest = pending.pop()
        if digest in kept:
            continue
        kept.add(digest)
        manifest = parsed.get(digest)
        if manifest is not None:
            pending.extend(manifest.children)
        pending.extend(d for d, m in parsed.items() if m is not None and m.subject == digest)
    for digest in kept:
        marked.add(digest)
        manifest = parsed.get(digest)
        if manifest is not None:
            marked.update(manifest.blobs)
    return [d for d in revisions if d not in kept]


def collect(storage: Storage, dry_run: bool = False, grace: float = DEFAULT_GRACE,
            delete_untagged: bool = True, index: Index | None = None) -> Report:
    """Run one mark-and-sweep over the storage while it keeps serving; then bring the hub's `index` up to date
    for the repositories it changed."""
    report = Report()
    with storage.locked(exclusive=True):
        threshold = time.time() - grace
        oldest = oldest_upload(storage)
        if oldest is not None:
            threshold = min(threshold, oldest - grace)
        marked: set[Digest] = set()
        doomed: dict[str, list[Digest]] = {}
        for name in storage.repositories():
            doomed[name] = _mark_repository(storage, name, threshold, delete_untagged, marked)
        for name, revisions in doomed.items():
            for digest in revisions:
                report.manifests.append(f"{name}@{digest}")
                if not dry_run:
                    storage.unlink_manifest(name, digest)
        swept = set()
        for digest in storage.all_blobs():
            path = storage.blob_path(digest)
            if digest in marked or _mtime(path) >= threshold:
                continue
            report.blobs.append(str(digest))
            report.freed += path.stat().st_size
            swept.add(digest)
            if not dry_run:
                storage.delete_blob_file(digest)
        if not dry_run:
            for name in storage.repositories():
                for digest in storage.layer_links(name):
                    if digest in swept:
                        storage.unlink_layer(name, digest)
                storage.delete_repository_if_empty(name)
    if index is not None and not dry_run:
        for name in sorted({entry.split("@", 1)[0] for entry in report.manifests}):
            index.sync(name)
    return report
