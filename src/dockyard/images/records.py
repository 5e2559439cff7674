"""Image rows and reference rows in the metadata database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.metadata.db import MetadataDB, dumps, loads


@dataclass
class ImageRecord:
    """What the store keeps about one image besides its config blob."""

    id: str
    config_digest: str
    manifest_digest: str | None
    layers: list[dict[str, Any]]      # [{"digest", "size", "mediaType"}] blobs in manifest order
    chain_id: str | None
    size: int                         # unpacked bytes of all layers
    added: float                      # unix time the image entered this store
    last_tag_time: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        """The JSON document stored in images.doc."""
        return {"config": self.config_digest, "manifest": self.manifest_digest, "layers": self.layers,
                "chain_id": self.chain_id, "size": self.size, "added": self.added,
                "last_tag_time": self.last_tag_time, "extra": self.extra}

    def blobs(self) -> set[str]:
        """Digests of every content blob the image owns (config, manifest, layers)."""
        blobs = {self.config_digest} | {layer["digest"] for layer in self.layers}
        if self.manifest_digest:
            blobs.add(self.manifest_digest)
        return blobs

    @classmethod
    def from_doc(cls, image_id: str, doc: dict[str, Any]) -> "ImageRecord":
        """Rebuild a record from its stored document."""
        return cls(image_id, doc["config"], doc.get("manifest"), doc["layers"], doc.get("chain_id"),
                   doc.get("size", 0), doc.get("added", 0.0), doc.get("last_tag_time"), doc.get("extra", {}))


class ImageRecords:
    """CRUD over the images and image_refs tables."""

    def __init__(self, db: MetadataDB) -> None:
        self._db = db

    def get(self, image_id: str) -> ImageRecord | None:
        """The record of a full image id, or None."""
        rows = self._db.query("SELECT doc FROM images WHERE id = ?", (image_id,))
        return ImageRecord.from_doc(image_id, loads(rows[0][0])) if rows else None

    def all(self) -> list[ImageRecord]:
        """Every image record."""
        return [ImageRecord.from_doc(i, loads(d)) for i, d in self._db.query("SELECT id, doc FROM images")]

    def ids_with_prefix(self, prefix: str) -> list[str]:
        """Full ids starting with sha256:<prefix>."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.query("SELECT id FROM images WHERE id LIKE ? ESCAPE '\\'", (f"sha256:{escaped}%",))
        return [row[0] for row in rows]

    def put(self, record: ImageRecord) -> None:
        """Insert or replace an image record."""
        with self._db.transaction() as cur:
            cur.execute("INSERT OR REPLACE INTO images(id, doc) VALUES (?, ?)", (record.id, dumps(record.to_doc())))

    def delete(self, image_id: str) -> None:
        """Delete an image record and every reference to it."""
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM image_refs WHERE image_id = ?", (image_id,))
            cur.execute("DELETE FROM images WHERE id = ?", (image_id,))

    def lookup_ref(self, ref: str) -> str | None:
        """The image id a normalized reference points at, or None."""
        rows = self._db.query("SELECT image_id FROM image_refs WHERE ref = ?", (ref,))
        return rows[0][0] if rows else None

    def refs_of(self, image_id: str) -> list[tuple[str, str]]:
        """[(normalized ref, kind)] pointing at an image, sorted."""
        rows = self._db.query("SELECT ref, kind FROM image_refs WHERE image_id = ? ORDER BY ref", (image_id,))
        return [(row[0], row[1]) for row in rows]

    def all_refs(self) -> list[tuple[str, str, str]]:
        """[(ref, image id, kind)] for the whole store."""
        return [(r[0], r[1], r[2]) for r in self._db.query("SELECT ref, image_id, kind FROM image_refs ORDER BY ref")]

    def set_ref(self, ref: str, image_id: str, kind: str = "tag") -> str | None:
        """Point `ref` at `image_id`; returns the image it pointed at before (None if new)."""
        with self._db.transaction() as cur:
            row = cur.execute("SELECT image_id FROM image_refs WHERE ref = ?", (ref,)).fetchone()
            cur.execute("INSERT OR REPLACE INTO image_refs(ref, image_id, kind) VALUES (?, ?, ?)",
                        (ref, image_id, kind))
        return row[0] if row else None

    def delete_ref(self, ref: str) -> None:
        """Remove one reference."""
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM image_refs WHERE ref = ?", (ref,))
