"""Build cache: step keys, source checksums from file contents and metadata, rows in the metadata db."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dockyard.metadata.db import MetadataDB

_CHUNK = 1 << 20


def step_key(parent_id: str, instruction: str, extra: dict[str, Any]) -> str:
    """The cache key of one step: parent image, instruction after substitution, what else it depends on."""
    doc = json.dumps({"parent": parent_id, "instruction": instruction, "extra": extra}, sort_keys=True)
    return "sha256:" + hashlib.sha256(doc.encode()).hexdigest()


KnownDigest = Callable[[os.stat_result], "str | None"]


def checksum_paths(sources: list[tuple[Path, str]], known: KnownDigest | None = None) -> str:
    """sha256 over names, types, modes, owners, sizes, link targets and contents (never mtimes) of each tree;
    `known` may supply a regular file's content sha256 (hashed as the context arrived) instead of a re-read."""
    digest = hashlib.sha256()
    for path, name in sources:
        _hash_tree(digest, path, name, known or _unknown)
    return digest.hexdigest()


def _unknown(st: os.stat_result) -> None:
    """No file's content digest is known in advance."""


def _hash_tree(digest: "hashlib._Hash", path: Path, name: str, known: KnownDigest) -> None:
    """Add one path, and everything below it when it is a directory, in sorted order."""
    st = os.lstat(path)
    header = f"{name}\0{stat.S_IFMT(st.st_mode)}\0{stat.S_IMODE(st.st_mode)}\0{st.st_uid}\0{st.st_gid}\0{st.st_size}\0"
    digest.update(header.encode("utf-8", "surrogateescape"))
    if stat.S_ISLNK(st.st_mode):
        digest.update(os.fsencode(os.readlink(path)))
    elif stat.S_ISREG(st.st_mode):
        digest.update(bytes.fromhex(known(st) or _file_sha256(path)))
    elif stat.S_ISDIR(st.st_mode):
        for child in sorted(os.listdir(path)):
            _hash_tree(digest, path / child, f"{name}/{child}", known)
    digest.update(b"\0\0")


def _file_sha256(path: Path) -> str:
    """A file's content sha256, read in chunks."""
    file_digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            file_digest.update(chunk)
    return file_digest.hexdigest()


@dataclass
class CacheEntry:
    """One cached step result."""

    key: str
    image_id: str
    created: float
    last_used: float


class BuildCache:
    """Step results kept in the `build_cache` table, so they survive daemon restarts."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def get(self, key: str, image_exists: Callable[[str], bool]) -> str | None:
        """The image a step produced before, if that image still exists (a stale row is dropped)."""
        rows = self._db.query("SELECT image_id FROM build_cache WHERE key = ?", (key,))
        if not rows:
            return None
        image_id = rows[0][0]
        with self._db.transaction() as cur:
            if image_exists(image_id):
                cur.execute("UPDATE build_cache SET last_used = ? WHERE key = ?", (time.time(), key))
                return image_id
            cur.execute("DELETE FROM build_cache WHERE key = ?", (key,))
        return None

    def put(self, key: str, image_id: str) -> None:
        """Record a step result."""
        now = time.time()
        with self._db.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO build_cache(key, image_id, created, last_used) VALUES (?, ?, ?, ?)",
                        (key, image_id, now, now))

    def entries(self) -> list[CacheEntry]:
        """Every cached step, oldest first."""
        rows = self._db.query("SELECT key, image_id, created, last_used FROM build_cache ORDER BY created")
        return [CacheEntry(*row) for row in rows]

    def drop(self, keys: list[str]) -> None:
        """Forget these steps."""
        with self._db.transaction() as cur:
            cur.executemany("DELETE FROM build_cache WHERE key = ?", [(k,) for k in keys])
