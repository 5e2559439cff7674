"""Networks and sandboxes (a running container's namespace, endpoints and ports) in the metadata database."""

from __future__ import annotations

from typing import Any, Iterator

from dockyard.errors import Conflict
from dockyard.metadata.db import MetadataDB, dumps, loads


class NetworkStore:
    """Rows of the `networks` and `sandboxes` tables, each a JSON document."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def networks(self) -> Iterator[dict[str, Any]]:
        for (doc,) in self._db.query("SELECT doc FROM networks"):
            yield loads(doc)

    def insert_network(self, record: dict[str, Any]) -> None:
        """Add a network; Conflict when its name is taken."""
        with self._db.transaction() as cur:
            if cur.execute("SELECT 1 FROM networks WHERE name = ?", (record["Name"],)).fetchone():
                raise Conflict(f"network with name {record['Name']} already exists")
            cur.execute("INSERT INTO networks (id, name, doc) VALUES (?, ?, ?)",
                        (record["Id"], record["Name"], dumps(record)))

    def save_network(self, record: dict[str, Any]) -> None:
        with self._db.transaction() as cur:
            cur.execute("UPDATE networks SET doc = ? WHERE id = ?", (dumps(record), record["Id"]))

    def delete_network(self, network_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    def sandboxes(self) -> Iterator[dict[str, Any]]:
        for (doc,) in self._db.query("SELECT doc FROM sandboxes"):
            yield loads(doc)

    def save_sandbox(self, sandbox: dict[str, Any]) -> None:
        with self._db.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO sandboxes (id, doc) VALUES (?, ?)", (sandbox["Id"], dumps(sandbox)))

    def delete_sandbox(self, container_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM sandboxes WHERE id = ?", (container_id,))
