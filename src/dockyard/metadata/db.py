"""SQLite metadata store: one database per data root, WAL mode, schema migrations, JSON documents."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE images (
        id TEXT PRIMARY KEY,            -- sha256:<config digest>
        doc TEXT NOT NULL               -- JSON: manifest digest, layers, created, size ...
    );
    CREATE TABLE image_refs (
        ref TEXT PRIMARY KEY,           -- normalized reference, e.g. docker.io/library/busybox:latest
        image_id TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'tag' -- 'tag' or 'digest'
    );
    CREATE INDEX image_refs_by_image ON image_refs(image_id);
    CREATE TABLE snapshots (
        key TEXT PRIMARY KEY,           -- chain id of a layer, or container id for a writable layer
        doc TEXT NOT NULL
    );
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT UNIQUE NOT NULL,
        doc TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE build_cache (
        key TEXT PRIMARY KEY,           -- sha256 over parent image, instruction, build args, source checksum
        image_id TEXT NOT NULL,         -- the image the step produced
        created REAL NOT NULL,
        last_used REAL NOT NULL
    );
    CREATE INDEX build_cache_by_image ON build_cache(image_id);
    """,
    """
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT UNIQUE NOT NULL,
        doc TEXT NOT NULL               -- JSON: docker's network document plus the bridge it owns
    );
    CREATE TABLE sandboxes (
        id TEXT PRIMARY KEY,            -- container id
        doc TEXT NOT NULL               -- JSON: namespace path, endpoints, published ports
    );
    """,
    """
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        doc TEXT NOT NULL,              -- JSON: driver, labels, options, created at
        users TEXT NOT NULL DEFAULT '[]' -- JSON: ids of the containers that reference the volume
    );
    """,
    """
    CREATE TABLE plugins (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,      -- familiar reference with its tag (sample:latest)
        doc TEXT NOT NULL               -- JSON: docker's Plugin object (Config, Settings, Enabled...)
    );
    """,
]


class MetadataDB:
    """A thread-safe handle on the metadata database; every write is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        with self.transaction() as cur:
            version = cur.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                cur.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """Run the body in one IMMEDIATE transaction; roll back on any error."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read rows outside any explicit transaction."""
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def dumps(doc: Any) -> str:
    """Serialize a document for a `doc` column."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def loads(text: str) -> Any:
    """Parse a `doc` column."""
    return json.loads(text)
