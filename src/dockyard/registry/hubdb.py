"""The hub's SQLite database (`hub.db` in the registry root): accounts, the repository index, stars, audit.

One connection per process, serialised by a lock (the server's worker threads share it); WAL mode and a
busy timeout let `dockyard registry user ...` and `dockyard registry gc` write while a server runs.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

FILE = "hub.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, email TEXT NOT NULL DEFAULT '', password TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS org_members (
    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'member')), PRIMARY KEY (org, user));
CREATE TABLE IF NOT EXISTS teams (
    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE, name TEXT NOT NULL, PRIMARY KEY (org, name));
CREATE TABLE IF NOT EXISTS team_members (
    org TEXT NOT NULL, team TEXT NOT NULL, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    PRIMARY KEY (org, team, user), FOREIGN KEY (org, team) REFERENCES teams(org, name) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS team_repos (
    org TEXT NOT NULL, team TEXT NOT NULL, repository TEXT NOT NULL,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    PRIMARY KEY (org, team, repository), FOREIGN KEY (org, team) REFERENCES teams(org, name) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS collaborators (
    repository TEXT NOT NULL, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')), PRIMARY KEY (repository, user));
CREATE TABLE IF NOT EXISTS tokens (
    uuid TEXT PRIMARY KEY, user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, label TEXT NOT NULL,
    scope TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, created REAL NOT NULL, last_used REAL,
    active INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS repositories (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, namespace TEXT NOT NULL, private INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '', full_description TEXT NOT NULL DEFAULT '',
    star_count INTEGER NOT NULL DEFAULT 0, pull_count INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,
    last_pushed REAL, last_pusher TEXT, last_pulled REAL);
CREATE INDEX IF NOT EXISTS repositories_namespace ON repositories (namespace, name);
CREATE INDEX IF NOT EXISTS repositories_pushed ON repositories (last_pushed);
CREATE TABLE IF NOT EXISTS tags (
    repo INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE, name TEXT NOT NULL,
    digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL, platforms TEXT NOT NULL,
    pushed REAL, pusher TEXT, last_pulled REAL, PRIMARY KEY (repo, name));
CREATE TABLE IF NOT EXISTS stars (
    repo INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE, user TEXT NOT NULL,
    PRIMARY KEY (repo, user));
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    repository TEXT NOT NULL, namespace TEXT NOT NULL, reference TEXT NOT NULL DEFAULT '',
    digest TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS audit_namespace ON audit (namespace, id);
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY, repository TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, webhook INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    created REAL NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, last_status INTEGER, last_error TEXT NOT NULL DEFAULT '', finished REAL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
"""


class Database:
    """The hub database: `read()` for queries, `write()` for a transaction (BEGIN IMMEDIATE)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        os.chmod(self.path, 0o600)  # password hashes and the token secret: root's only (WAL files follow)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(SCHEMA)

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for queries."""
        with self._lock:
            yield self._conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction, committed at the end or rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        """A value of the meta table."""
        with self.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def open_db(root: Path) -> Database:
    """The hub database of the registry storage at `root`."""
    Path(root).mkdir(parents=True, exist_ok=True)
    return Database(Path(root) / FILE)


def rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """Every row of a cursor as a dict."""
    return [dict(row) for row in cursor.fetchall()]
