"""Registry storage on a directory: blobs by digest, per-repository links, tags, uploads, referrers.

Every file becomes visible by rename after it was verified and fsynced, so a crash leaves only
temporary files behind (removed at start). Layout under the root:
blobs/<alg>/<hex>; uploads/<id>/{data,repo}; repositories/<name>/_layers/<alg>/<hex>,
_manifests/revisions/<alg>/<hex>, _manifests/tags/<tag>, _referrers/<alg>/<subject-hex>/<alg>-<hex>.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

from dockyard.registry import digests
from dockyard.registry.digests import Digest
from dockyard.registry.errors import (BlobUnknown, ManifestUnknown, NameInvalid, NameUnknown,
                                      PaginationInvalid)
from dockyard.util.atomic import write_atomic

_NAME = re.compile(r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*\Z")
_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}\Z")
NAME_MAX = 255


def validate_name(name: str) -> str:
    """Return `name` when it is a valid repository name, else NAME_INVALID."""
    if len(name) > NAME_MAX or not _NAME.match(name):
        raise NameInvalid(f"invalid repository name {name!r}", {"name": name})
    return name


def is_tag(reference: str) -> bool:
    """True when `reference` is a tag (not a digest)."""
    return bool(_TAG.match(reference))


def fsync_dir(path: Path) -> None:
    """fsync a directory so renames into it survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def paginate(items: list[str], n: int | None, last: str | None) -> tuple[list[str], bool]:
    """Items after `last` (sorted), at most `n`; second value tells whether more remain."""
    if n is not None and n < 0:
        raise PaginationInvalid(f"invalid page size {n}", {"n": n})
    rest = [item for item in items if last is None or item > last]
    if n is None:
        return rest, False
    return rest[:n], len(rest) > n


class Storage:
    """The registry's files under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("blobs", "uploads", "repositories", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._lock_path = self.root / "gc.lock"
        self._lock_path.touch()

    def remove_stale(self) -> None:
        """Delete temporary files a crashed server left (only at serve start: a live server writes there)."""
        for stale in (self.root / "tmp").iterdir():
            stale.unlink()

    # ----- locking -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, exclusive: bool = False) -> Iterator[None]:
        """Writers that create references hold the shared lock; GC's sweep holds it exclusively."""
        with open(self._lock_path, "rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # ----- blobs ---------------------------------------------------------------------------------

    def blob_path(self, digest: Digest) -> Path:
        """Where the blob with `digest` lives (it may not exist)."""
        return self.root / "blobs" / digest.algorithm / digest.hex

    def blob_exists(self, digest: Digest) -> bool:
        """True when the blob is stored (in any repository)."""
        return self.blob_path(digest).is_file()

    def all_blobs(self) -> Iterator[Digest]:
        """Every stored blob digest."""
        for algorithm in digests.ALGORITHMS:
            folder = self.root / "blobs" / algorithm
            if folder.is_dir():
                for entry in os.scandir(folder):
                    yield Digest(algorithm, entry.name)

    def commit_file(self, source: Path, digest: Digest) -> None:
        """fsync `source` and rename it into place as the blob `digest` (already verified by the caller)."""
        with open(source, "rb+") as handle:
            os.fsync(handle.fileno())
        target = self.blob_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, target)
        fsync_dir(target.parent)

    def put_blob_bytes(self, data: bytes, algorithm: str = "sha256") -> Digest:
        """Store a small blob (a manifest) given in full; returns its digest."""
        digest = digests.of_bytes(data, algorithm)
        if not self.blob_exists(digest):
            tmp = self.root / "tmp" / uuid.uuid4().hex
            tmp.write_bytes(data)
            self.commit_file(tmp, digest)
        return digest

    def touch_blob(self, digest: Digest) -> None:
        """Refresh a blob's mtime so a running GC treats it as freshly used."""
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.blob_path(digest))

    def delete_blob_file(self, digest: Digest) -> None:
        """Remove a blob file (GC only)."""
        self.blob_path(digest).unlink(missing_ok=True)

    # ----- repositories --------------------------------------------------------------------------

    def repo_dir(self, name: str) -> Path:
        """The directory of repository `name` (validated)."""
        return self.root / "repositories" / validate_name(name)

    def repo_exists(self, name: str) -> bool:
        """True when something was ever pushed to `name`."""
        repo = self.repo_dir(name)
        return (repo / "_layers").is_dir() or (repo / "_manifests").is_dir()

    def repositories(self) -> list[str]:
        """Every repository name, sorted."""
        base = self.root / "repositories"
        names = []
        for dirpath, dirnames, _files in os.walk(base):
            if "_layers" in dirnames or "_manifests" in dirnames:
                names.append(os.path.relpath(dirpath, base))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return sorted(names)

    def _link(self, path: Path) -> None:
        """Create (or refresh) an empty link file atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, b"")

    def link_layer(self, name: str, digest: Digest) -> None:
        """Make blob `digest` part of repository `name`."""
        self._link(self.repo_dir(name) / "_layers" / digest.algorithm / digest.hex)
        self.touch_blob(digest)

    def has_layer(self, name: str, digest: Digest) -> bool:
        """True when blob `digest` is linked into `name` and stored."""
        link = self.repo_dir(name) / "_layers" / digest.algorithm / digest.hex
        return link.is_file() and self.blob_exists(digest)

    def unlink_layer(self, name: str, digest: Digest) -> None:
        """Remove blob `digest` from repository `name`; BLOB_UNKNOWN when it is not there."""
        link = self.repo_dir(name) / "_layers" / digest.algorithm / digest.hex
        if not link.is_file():
            raise BlobUnknown(f"blob {digest} unknown to registry", {"digest": str(digest)})
        link.unlink()

    def layer_links(self, name: str) -> list[Digest]:
        """Every blob linked into a repository."""
        return self._digests_under(self.repo_dir(name) / "_layers")

    # ----- manifests and tags --------------------------------------------------------------------

    def _revision(self, name: str, digest: Digest) -> Path:
        return self.repo_dir(name) / "_manifests" / "revisions" / digest.algorithm / digest.hex

    def _tag_path(self, name: str, tag: str) -> Path:
        return self.repo_dir(name) / "_manifests" / "tags" / tag

    def link_manifest(self, name: str, digest: Digest) -> None:
        """Record manifest `digest` as a revision of `name`."""
        self._link(self._revision(name, digest))
        self.touch_blob(digest)

    def has_manifest(self, name: str, digest: Digest) -> bool:
        """True when `digest` is a stored manifest revision of `name`."""
        return self._revision(name, digest).is_file() and self.blob_exists(digest)

    def revisions(self, name: str) -> list[Digest]:
        """Every manifest revision of a repository."""
        return self._digests_under(self.repo_dir(name) / "_manifests" / "revisions")

    def unlink_manifest(self, name: str, digest: Digest) -> None:
        """Remove a revision, the tags naming it and its referrer entry."""
        revision = self._revision(name, digest)
        if not revision.is_file():
            raise ManifestUnknown(f"manifest {digest} unknown", {"digest": str(digest)})
        for tag, target in self.tags(name).items():
            if target == digest:
                self._tag_path(name, tag).unlink(missing_ok=True)
        revision.unlink()
        for entry in (self.repo_dir(name) / "_referrers").glob(f"*/*/{digest.algorithm}-{digest.hex}"):
            entry.unlink()

    def set_tag(self, name: str, tag: str, digest: Digest) -> None:
        """Point `tag` at manifest `digest`."""
        path = self._tag_path(name, tag)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, str(digest).encode())

    def delete_tag(self, name: str, tag: str) -> None:
        """Remove a tag; MANIFEST_UNKNOWN when absent."""
        path = self._tag_path(name, tag)
        if not path.is_file():
            raise ManifestUnknown(f"manifest tag {tag!r} unknown", {"tag": tag})
        path.unlink()

    def resolve(self, name: str, reference: str) -> Digest:
        """The manifest digest a tag or digest names in `name`; NAME_UNKNOWN / MANIFEST_UNKNOWN."""
        if not self.repo_exists(name):
            raise NameUnknown("repository name not known to registry", {"name": name})
        if is_tag(reference):
            path = self._tag_path(name, reference)
            if not path.is_file():
                raise ManifestUnknown(f"manifest unknown: tag {reference!r}", {"tag": reference})
            return digests.parse(path.read_text().strip())
        digest = digests.parse(reference)
        if not self.has_manifest(name, digest):
            raise ManifestUnknown(f"manifest unknown: {digest}", {"digest": str(digest)})
        return digest

    def tags(self, name: str) -> dict[str, Digest]:
        """Tag -> manifest digest for a repository."""
        folder = self.repo_dir(name) / "_manifests" / "tags"
        out: dict[str, Digest] = {}
        if folder.is_dir():
            for entry in os.scandir(folder):
                if not entry.name.startswith("."):
                    out[entry.name] = digests.parse(Path(entry.path).read_text().strip())
        return out

    def read_blob(self, digest: Digest) -> bytes:
        """The whole content of a (small) blob; BLOB_UNKNOWN when absent."""
        try:
            return self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobUnknown(f"blob {digest} unknown", {"digest": str(digest)}) from None

    # ----- referrers -----------------------------------------------------------------------------

    def add_referrer(self, name: str, subject: Digest, descriptor: dict[str, Any]) -> None:
        """Record that manifest `descriptor` refers to `subject` in `name`."""
        referrer = digests.parse(descriptor["digest"])
        path = (self.repo_dir(name) / "_referrers" / subject.algorithm / subject.hex
                / f"{referrer.algorithm}-{referrer.hex}")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(descriptor).encode())

    def referrers(self, name: str, subject: Digest) -> list[dict[str, Any]]:
        """Descriptors of every manifest in `name` whose subject is `subject`."""
        folder = self.repo_dir(name) / "_referrers" / subject.algorithm / subject.hex
        if not folder.is_dir():
            return []
        return [json.loads(Path(e.path).read_bytes()) for e in sorted(os.scandir(folder), key=lambda e: e.name)
                if not e.name.startswith(".")]

    def delete_repository_if_empty(self, name: str) -> None:
        """Drop a repository directory that holds no revision, tag or layer any more (GC)."""
        if not self.revisions(name) and not self.layer_links(name) and not self.tags(name):
            shutil.rmtree(self.repo_dir(name), ignore_errors=True)

    @staticmethod
    def _digests_under(folder: Path) -> list[Digest]:
        """Digests of the <alg>/<hex> files below `folder`."""
        out: list[Digest] = []
        for algorithm in digests.ALGORITHMS:
            sub = folder / algorithm
            if sub.is_dir():
                out.extend(Digest(algorithm, e.name) for e in os.scandir(sub) if not e.name.startswith("."))
        return out
