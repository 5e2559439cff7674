"""Plugin records in the metadata database: docker's Plugin object, one row per plugin."""

from __future__ import annotations

import sqlite3
from typing import Any

from dockyard.errors import Conflict
from dockyard.metadata.db import MetadataDB, dumps, loads


class PluginStore:
    """Rows of the `plugins` table (names unique); every change is one transaction."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def all(self) -> list[dict[str, Any]]:
        """Every plugin object, by name."""
        return [loads(doc) for (doc,) in self._db.query("SELECT doc FROM plugins ORDER BY name")]

    def put(self, plugin: dict[str, Any]) -> None:
        """Record a plugin or replace its object; dockerd's Conflict when another plugin has its name."""
        try:
            with self._db.transaction() as cur:
                cur.execute("INSERT INTO plugins(id, name, doc) VALUES (?, ?, ?) "
                            "ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                            (plugin["Id"], plugin["Name"], dumps(plugin)))
        except sqlite3.IntegrityError as taken:
            raise Conflict(f"plugin {plugin['Name']} already exists") from taken

    def delete(self, plugin_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM plugins WHERE id = ?", (plugin_id,))
