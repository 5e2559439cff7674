"""Volume records in the metadata database: one row per volume with the containers that reference it."""

from __future__ import annotations

from typing import Any, Iterator

from dockyard.errors import Conflict, NotFound
from dockyard.metadata.db import MetadataDB, dumps, loads


def in_use(name: str, users: list[str]) -> Conflict:
    """dockerd's refusal to remove a volume containers reference."""
    return Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")


class VolumeStore:
    """Rows of the `volumes` table; every change is one transaction, so a crash never half-applies one."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def get(self, name: str) -> tuple[dict[str, Any], list[str]] | None:
        """(document, user container ids) of a volume, or None."""
        rows = self._db.query("SELECT doc, users FROM volumes WHERE name = ?", (name,))
        return (loads(rows[0][0]), loads(rows[0][1])) if rows else None

    def all(self) -> Iterator[tuple[dict[str, Any], list[str]]]:
        """Every volume with its users, by name."""
        for doc, users in self._db.query("SELECT doc, users FROM volumes ORDER BY name"):
            yield loads(doc), loads(users)

    def insert(self, doc: dict[str, Any], users: list[str] | None = None) -> bool:
        """Record a new volume (referenced by `users`); False (and nothing changes) when the name is taken."""
        with self._db.transaction() as cur:
            if cur.execute("SELECT 1 FROM volumes WHERE name = ?", (doc["Name"],)).fetchone():
                return False
            cur.execute("INSERT INTO volumes(name, doc, users) VALUES (?, ?, ?)",
                        (doc["Name"], dumps(doc), dumps(list(users or []))))
        return True

    def delete_unused(self, name: str) -> dict[str, Any]:
        """Delete the row of an unreferenced volume; NotFound or docker's in-use Conflict otherwise."""
        with self._db.transaction() as cur:
            row = cur.execute("SELECT doc, users FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"get {name}: no such volume")
            users = loads(row[1])
            if users:
                raise in_use(name, users)
            cur.execute("DELETE FROM volumes WHERE name = ?", (name,))
        return loads(row[0])

    def add_user(self, name: str, container_id: str) -> dict[str, Any]:
        """Reference a volume from a container; NotFound when it does not exist."""
        return self._change_users(name, lambda users: users if container_id in users else users + [container_id])

    def remove_user(self, name: str, container_id: str) -> None:
        """Drop a container's reference (nothing happens when the volume or the reference is gone)."""
        try:
            self._change_users(name, lambda users: [u for u in users if u != container_id])
        except NotFound:
            return

    def keep_users(self, live: set[str]) -> list[str]:
        """Forget references of containers that no longer exist (left by a crash between two writes);
        returns the volumes left without any reference that way."""
        orphaned = []
        with self._db.transaction() as cur:
            for name, users in cur.execute("SELECT name, users FROM volumes").fetchall():
                kept = [u for u in loads(users) if u in live]
                if kept != loads(users):
                    cur.execute("UPDATE volumes SET users = ? WHERE name = ?", (dumps(kept), name))
                    if not kept:
                        orphaned.append(name)
        return orphaned

    def _change_users(self, name: str, change: Any) -> dict[str, Any]:
        with self._db.transaction() as cur:
            row = cur.execute("SELECT doc, users FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"get {name}: no such volume")
            cur.execute("UPDATE volumes SET users = ? WHERE name = ?", (dumps(change(loads(row[1]))), name))
        return loads(row[0])
