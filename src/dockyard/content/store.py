"""Content-addressed blob store (containerd's model): ingest file, fsync, verify, rename into place."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from dockyard.errors import InvalidParameter, NotFound
from dockyard.util.digest import CHUNK, hex_of, is_digest


class Ingest:
    """One blob being written: chunks go to an ingest file; commit verifies and renames it into the store."""

    def __init__(self, store: "ContentStore") -> None:
        self._store = store
        self.path = store.root / "ingest" / uuid.uuid4().hex
        self._file = open(self.path, "xb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        """Append `data` to the blob."""
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    @property
    def digest(self) -> str:
        """Digest of everything written so far."""
        return "sha256:" + self._hash.hexdigest()

    def close(self) -> None:
        """Flush and fsync the ingest file (it can still be read at `path`)."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def commit(self, expected: str | None = None, expected_size: int | None = None) -> tuple[str, int]:
        """Verify size and digest, then rename into blobs/sha256/<hex>; returns (digest, size)."""
        self.close()
        digest = self.digest
        try:
            if expected is not None and expected != digest:
                raise InvalidParameter(f"unexpected commit digest {digest}, expected {expected}: failed precondition")
            if expected_size is not None and expected_size != self.size:
                raise InvalidParameter(f"unexpected commit size {self.size}, expected {expected_size}")
            os.rename(self.path, self._store.path(digest))
        except BaseException:
            self.abort()
            raise
        self._store.sync_blob_dir()
        return digest, self.size

    def abort(self) -> None:
        """Discard the ingest file."""
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class ContentStore:
    """Blobs by digest under root/blobs/sha256/<hex>; partial writes live in root/ingest/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs" / "sha256"
        self._blobs.mkdir(parents=True, exist_ok=True)
        (root / "ingest").mkdir(parents=True, exist_ok=True)
        for stale in (root / "ingest").iterdir():
            stale.unlink()  # left by a crash: an ingest never outlives its daemon

    def begin(self) -> Ingest:
        """Start writing a blob chunk by chunk (see Ingest)."""
        return Ingest(self)

    def ingest(self, stream: BinaryIO | Iterable[bytes], expected: str | None = None) -> tuple[str, int]:
        """Store everything `stream` yields; verify against `expected` when given; returns (digest, size)."""
        writer = self.begin()
        try:
            for chunk in _chunks(stream):
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.commit(expected)

    def path(self, digest: str) -> Path:
        """Where the blob with `digest` lives (it may not exist)."""
        return self._blobs / hex_of(digest)

    def exists(self, digest: str) -> bool:
        """True when the blob is stored."""
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        """Size in bytes of a stored blob."""
        return self._checked(digest).stat().st_size

    def open(self, digest: str) -> BinaryIO:
        """Open a stored blob for reading."""
        return open(self._checked(digest), "rb")

    def read_json(self, digest: str) -> Any:
        """Parse a stored JSON blob (manifest, config)."""
        with self.open(digest) as handle:
            return json.load(handle)

    def delete(self, digest: str) -> None:
        """Remove a blob; NotFound when it is not stored."""
        self._checked(digest).unlink()

    def digests(self) -> Iterator[str]:
        """Every stored digest."""
        for entry in os.scandir(self._blobs):
            digest = "sha256:" + entry.name
            if is_digest(digest):
                yield digest

    def sync_blob_dir(self) -> None:
        """fsync the blob directory so a rename survives a crash."""
        fd = os.open(self._blobs, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _checked(self, digest: str) -> Path:
        path = self.path(digest)
        if not path.is_file():
            raise NotFound(f"content digest {digest}: not found")
        return path


def _chunks(stream: BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    """Yield chunks from a file-like object or pass an iterable of chunks through."""
    read = getattr(stream, "read", None)
    if read is None:
        yield from stream
        return
    while chunk := read(CHUNK):
        yield chunk
