"""Blob upload sessions: resumable by id, appended in order, verified against the digest at the end."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.registry import digests
from dockyard.registry.digests import Digest
from dockyard.registry.errors import BlobUploadInvalid, BlobUploadUnknown, DigestInvalid, RangeInvalid, SizeInvalid
from dockyard.registry.storage import Storage

@dataclass
class Session:
    """One upload: its data file, owner repository and the running sha256 of what was appended."""

    id: str
    repo: str
    folder: Path
    hasher: Any = field(default_factory=hashlib.sha256)
    offset: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def data(self) -> Path:
        """The file holding the bytes received so far."""
        return self.folder / "data"


class Appender:
    """Writes one request's bytes at the end of a session (hold it only for that request)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._file = open(session.data, "ab")

    def write(self, data: bytes) -> None:
        """Append `data`."""
        self._file.write(data)
        self.session.hasher.update(data)
        self.session.offset += len(data)

    def close(self) -> None:
        """Flush the data file and release the session."""
        self._file.close()
        self.session.lock.release()


class Uploads:
    """Upload sessions under root/uploads; sessions survive in memory, data on disk."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._sessions: dict[str, Session] = {}
        self._guard = threading.Lock()
        for stale in (storage.root / "uploads").iterdir():
            shutil.rmtree(stale)

    def start(self, repo: str) -> Session:
        """Open a new, empty upload for `repo`."""
        upload_id = str(uuid.uuid4())
        folder = self.storage.root / "uploads" / upload_id
        folder.mkdir()
        (folder / "data").touch()
        (folder / "startedat").write_text(str(time.time()))
        session = Session(upload_id, repo, folder)
        with self._guard:
            self._sessions[upload_id] = session
        return session

    def get(self, repo: str, upload_id: str) -> Session:
        """The session `upload_id` of `repo`; BLOB_UPLOAD_UNKNOWN otherwise."""
        with self._guard:
            session = self._sessions.get(upload_id)
        if session is None or session.repo != repo or not session.folder.is_dir():
            raise BlobUploadUnknown("blob upload unknown to registry", {"uuid": upload_id})
        return session

    def appender(self, session: Session, content_range: str | None) -> Appender:
        """Lock the session and check a PATCH's Content-Range starts where the data ends (416 if not)."""
        if not session.lock.acquire(timeout=30):
            raise BlobUploadInvalid("upload is busy with another request", {"uuid": session.id})
        try:
            if content_range:
                start = _range_start(content_range)
                if start != session.offset:
                    raise RangeInvalid(f"range {content_range} does not continue the upload at {session.offset}",
                                       headers={"Range": f"0-{max(session.offset - 1, 0)}",
                                                "Location": "", "Docker-Upload-UUID": session.id})
            return Appender(session)
        except BaseException:
            session.lock.release()
            raise

    def finish(self, session: Session, expected: Digest) -> Digest:
        """Verify the data against `expected`, move it into the blob store, link it to the repository."""
        with session.lock:
            if expected.algorithm == "sha256" and session.data.stat().st_size == session.offset:
                actual = Digest("sha256", session.hasher.hexdigest())
            else:
                actual = digests.of_file(session.data, expected.algorithm)
            if actual != expected:
                self.cancel(session, locked=True)
                raise DigestInvalid(f"digest mismatch: uploaded content has digest {actual}",
                                    {"expected": str(expected), "actual": str(actual)})
            with self.storage.locked():
                if self.storage.blob_exists(expected):
                    self.storage.touch_blob(expected)
                else:
                    self.storage.commit_file(session.data, expected)
                self.storage.link_layer(session.repo, expected)
            self._forget(session)
        return expected

    def cancel(self, session: Session, locked: bool = False) -> None:
        """Drop a session and its data (DELETE on the upload URL)."""
        if not locked and not session.lock.acquire(timeout=30):
            raise BlobUploadInvalid("upload is busy with another request", {"uuid": session.id})
        try:
            self._forget(session)
        finally:
            if not locked:
                session.lock.release()

    def _forget(self, session: Session) -> None:
        with self._guard:
            self._sessions.pop(session.id, None)
        shutil.rmtree(session.folder, ignore_errors=True)


def _range_start(content_range: str) -> int:
    """Start offset of a "start-end" (or "bytes start-end") Content-Range; 416 for junk."""
    text = content_range.strip()
    if text.startswith("bytes"):
        text = text[5:].strip(" =")
    start, sep, end = text.partition("-")
    if not sep or not start.isdigit() or not end.split("/")[0].isdigit():
        raise RangeInvalid(f"invalid Content-Range {content_range!r}")
    if int(end.split("/")[0]) < int(start):
        raise SizeInvalid(f"invalid Content-Range {content_range!r}")
    return int(start)


def oldest_upload(storage: Storage) -> float | None:
    """Start time of the oldest upload still open (GC keeps blobs newer than that)."""
    times = []
    for folder in (storage.root / "uploads").iterdir():
        try:
            times.append(float((folder / "startedat").read_text()))
        except (FileNotFoundError, ValueError):
            continue
    return min(times) if times else None
