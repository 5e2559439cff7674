"""Container records in the metadata database, looked up by id, short id or name."""

from __future__ import annotations

from typing import Iterator

from dockyard.containers.record import ContainerRecord
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.metadata.db import MetadataDB, dumps, loads


class ContainerStore:
    """Persist container records (as docker's inspect JSON) one transaction per change."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def insert(self, doc: ContainerRecord) -> None:
        """Record a new container; Conflict with docker's text when the name is taken."""
        with self._db.transaction() as cur:
            row = cur.execute("SELECT id FROM containers WHERE name = ?", (doc.name,)).fetchone()
            if row:
                raise Conflict(name_conflict(doc.name, row[0]))
            cur.execute("INSERT INTO containers (id, name, doc) VALUES (?, ?, ?)",
                        (doc.id, doc.name, dumps(doc.to_json())))

    def save(self, doc: ContainerRecord) -> None:
        """Write back a changed container record."""
        with self._db.transaction() as cur:
            cur.execute("UPDATE containers SET name = ?, doc = ? WHERE id = ?",
                        (doc.name, dumps(doc.to_json()), doc.id))

    def rename(self, doc: ContainerRecord, new_name: str) -> None:
        """Change the name atomically; Conflict if another container has it."""
        with self._db.transaction() as cur:
            row = cur.execute("SELECT id FROM containers WHERE name = ?", (new_name,)).fetchone()
            if row and row[0] != doc.id:
                raise Conflict(name_conflict(new_name, row[0]))
            doc.name = new_name
            cur.execute("UPDATE containers SET name = ?, doc = ? WHERE id = ?",
                        (new_name, dumps(doc.to_json()), doc.id))

    def delete(self, container_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM containers WHERE id = ?", (container_id,))

    def all(self) -> Iterator[ContainerRecord]:
        for (text,) in self._db.query("SELECT doc FROM containers"):
            yield ContainerRecord.from_json(loads(text))

    def find_id(self, ref: str) -> str:
        """Docker's lookup order: full id, exact name, unique id prefix."""
        if not ref:
            raise NotFound("No such container: ")
        rows = self._db.query("SELECT id FROM containers WHERE id = ?", (ref,))
        if rows:
            return rows[0][0]
        name = ref if ref.startswith("/") else "/" + ref
        rows = self._db.query("SELECT id FROM containers WHERE name = ?", (name,))
        if rows:
            return rows[0][0]
        prefix = ref.lower()
        if all(c in "0123456789abcdef" for c in prefix):
            rows = self._db.query("SELECT id FROM containers WHERE id >= ? AND id < ?", (prefix, prefix + "g"))
            if len(rows) == 1:
                return rows[0][0]
            if len(rows) > 1:
                raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")


def name_conflict(name: str, holder: str) -> str:
    """Docker's message for a container name already in use."""
    return (f'Conflict. The container name "{name}" is already in use by container "{holder}". '
            "You have to remove (or rename) that container to be able to reuse that name.")
