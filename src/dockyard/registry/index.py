"""The hub's index of repositories and tags in SQLite, kept up to date on push, delete and GC.

Listing and search read only this index. Storage stays the truth: an update for a repository re-reads its
tags from storage inside one transaction, so concurrent pushes of one tag leave the index as storage ends up;
a missing index is rebuilt from storage at start.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.registry import digests, manifests
from dockyard.registry.accounts import ADMIN_NAMESPACES, namespace_of
from dockyard.registry.digests import Digest
from dockyard.registry.errors import BlobUnknown, ManifestInvalid, NameUnknown
from dockyard.registry.hubdb import Database, rows
from dockyard.registry.storage import Storage, is_tag

INDEX_VERSION = "1"
ORDERINGS = {"name": "r.name", "-name": "r.name DESC", "last_updated": "r.last_pushed, r.name",
             "-last_updated": "r.last_pushed DESC, r.name", "pull_count": "r.pull_count, r.name",
             "-pull_count": "r.pull_count DESC, r.name", "star_count": "r.star_count, r.name",
             "-star_count": "r.star_count DESC, r.name",
             "official": "r.namespace IN ('library', '') DESC, r.star_count DESC, r.pull_count DESC, r.name"}
TAG_ORDERINGS = {"last_updated": "t.pushed DESC, t.name", "-last_updated": "t.pushed DESC, t.name",
                 "name": "t.name", "-name": "t.name DESC"}


@dataclass
class TagInfo:
    """What the index keeps of a tagged manifest: media type, compressed size, platforms."""

    media_type: str
    size: int
    platforms: list[dict[str, Any]] = field(default_factory=list)


def read_config(storage: Storage, manifest: manifests.Manifest) -> dict[str, Any]:
    """An image manifest's config blob as a dict ({} when missing or not a JSON object)."""
    if not manifest.blobs:
        return {}
    try:
        loaded = json.loads(storage.read_blob(manifest.blobs[0]))
    except (BlobUnknown, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _image(storage: Storage, digest: Digest, manifest: manifests.Manifest) -> dict[str, Any]:
    """One platform entry of an image manifest: os/architecture/variant from its config, compressed size."""
    size = sum(int(layer.get("size", 0)) for layer in manifest.doc.get("layers", []) if isinstance(layer, dict))
    config = read_config(storage, manifest)
    return {"os": str(config.get("os") or ""), "architecture": str(config.get("architecture") or ""),
            "variant": config.get("variant"), "digest": str(digest), "size": size}


def describe(storage: Storage, digest: Digest) -> TagInfo:
    """The TagInfo of a stored manifest (an index lists every platform but attestations)."""
    manifest = manifests.parse(storage.read_blob(digest), None)
    if not manifest.children:
        image = _image(storage, digest, manifest)
        return TagInfo(manifest.media_type, image["size"], [image])
    platforms = []
    for entry in manifest.doc.get("manifests", []):
        platform = entry.get("platform") or {}
        if platform.get("os") == "unknown":
            continue
        child = digests.parse(entry["digest"])
        try:
            image = _image(storage, child, manifests.parse(storage.read_blob(child), None))
        except (BlobUnknown, ManifestInvalid):
            image = {"digest": str(child), "size": int(entry.get("size", 0))}
        image.update({"os": platform.get("os", ""), "architecture": platform.get("architecture", ""),
                      "variant": platform.get("variant")})
        platforms.append(image)
    main = next((p for p in platforms if (p["os"], p["architecture"]) == ("linux", "amd64")),
                platforms[0] if platforms else {"size": 0})
    return TagInfo(manifest.media_type, int(main["size"]), platforms)


def _mtime(path: os.PathLike[str]) -> float:
    """A file's modification time; now when it vanished."""
    try:
        return os.stat(path).st_mtime
    except FileNotFoundError:
        return time.time()


class Index:
    """Repositories, tags, stars, pull counts and the audit log, as the hub reads them."""

    def __init__(self, db: Database, storage: Storage, private_by_default: bool = True) -> None:
        self.db = db
        self.storage = storage
        self.private_by_default = private_by_default

    # ----- keeping it right ----------------------------------------------------------------------

    def ensure(self) -> bool:
        """Rebuild from storage when the index was never built (or the database is new); True when it did."""
        if self.db.get_meta("index_version") == INDEX_VERSION:
            return False
        self.rebuild()
        return True

    def rebuild(self) -> None:
        """Re-read every repository from storage (keeping descriptions, stars, pulls of those still there)."""
        present = set(self.storage.repositories())
        for name in sorted(present):
            self.sync(name)
        with self.db.write() as conn:
            for row in conn.execute("SELECT name FROM repositories").fetchall():
                if row["name"] not in present:
                    conn.execute("DELETE FROM repositories WHERE name = ?", (row["name"],))
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('index_version', ?)", (INDEX_VERSION,))

    def _repo_id(self, conn: Any, name: str, now: float) -> int:
        """The id of repository `name`, creating its row (private by default, admins' namespaces public)."""
        namespace = namespace_of(name)
        private = self.private_by_default and namespace not in ADMIN_NAMESPACES
        conn.execute("INSERT OR IGNORE INTO repositories (name, namespace, private, created) VALUES (?, ?, ?, ?)",
                     (name, namespace, int(private), now))
        return int(conn.execute("SELECT id FROM repositories WHERE name = ?", (name,)).fetchone()["id"])

    def sync(self, name: str, pusher: str | None = None, pushed: Digest | None = None) -> None:
        """Make the index's tags of `name` what storage holds; `pusher` is credited with tags now at `pushed`."""
        if not self.storage.repo_exists(name) or not self.storage.revisions(name):
            with self.db.write() as conn:
                conn.execute("DELETE FROM repositories WHERE name = ?", (name,))
            return
        stored = self.storage.tags(name)
        with self.db.read() as conn:
            known = {r["name"]: r["digest"] for r in conn.execute(
                "SELECT t.name, t.digest FROM tags t JOIN repositories r ON r.id = t.repo WHERE r.name = ?", (name,))}
        infos: dict[str, TagInfo] = {}
        for tag, digest in stored.items():
            if known.get(tag) != str(digest) or digest == pushed:
                try:
                    infos[tag] = describe(self.storage, digest)
                except (BlobUnknown, ManifestInvalid):
                    continue
        now = time.time()
        tags_dir = self.storage.repo_dir(name) / "_manifests" / "tags"
        with self.db.write() as conn:
            repo = self._repo_id(conn, name, now)
            current = {k: str(v) for k, v in self.storage.tags(name).items()}
            conn.executemany("DELETE FROM tags WHERE repo = ? AND name = ?",
                             [(repo, tag) for tag in known if tag not in current])
            for tag, info in infos.items():
                if current.get(tag) != str(stored[tag]):
                    continue  # retagged meanwhile: that push's own sync records it
                mine = pushed is not None and stored[tag] == pushed
                when = now if mine else _mtime(tags_dir / tag)
                conn.execute(
                    "INSERT OR REPLACE INTO tags (repo, name, digest, media_type, size, platforms, pushed, pusher, "
                    "last_pulled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                    "(SELECT last_pulled FROM tags WHERE repo = ? AND name = ? AND digest = ?))",
                    (repo, tag, current[tag], info.media_type, info.size, json.dumps(info.platforms), when,
                     pusher if mine else None, repo, tag, current[tag]))
            if pushed is not None:
                conn.execute("UPDATE repositories SET last_pushed = ?, last_pusher = ? WHERE id = ?",
                             (now, pusher, repo))
            elif infos:
                conn.execute("UPDATE repositories SET last_pushed = (SELECT MAX(pushed) FROM tags WHERE repo = ?) "
                             "WHERE id = ? AND last_pushed IS NULL", (repo, repo))

    def pulled(self, name: str, reference: str) -> bool:
        """Record a manifest GET; True when it counts as a pull. The GET of a platform's manifest by digest that
        follows the GET of a tagged index is the same pull (one `docker pull`, one count)."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute("SELECT id FROM repositories WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            column = "name" if is_tag(reference) else "digest"
            conn.execute(f"UPDATE tags SET last_pulled = ? WHERE repo = ? AND {column} = ?",
                         (now, row["id"], reference))
            if not is_tag(reference):
                child = conn.execute("SELECT 1 FROM tags WHERE repo = ? AND digest != ? AND platforms LIKE ?",
                                     (row["id"], reference, f'%"digest": "{reference}"%')).fetchone()
                if child is not None:
                    return False
            conn.execute("UPDATE repositories SET pull_count = pull_count + 1, last_pulled = ? WHERE id = ?",
                         (now, row["id"]))
        return True

    # ----- queries -------------------------------------------------------------------------------

    def repository(self, name: str) -> dict[str, Any] | None:
        """One repository's row, or None."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM repositories r WHERE r.name = ?", (name,)).fetchone()
        return None if row is None else dict(row)

    def visibility(self, name: str) -> bool | None:
        """True when `name` is private, False when public, None when it does not exist yet."""
        with self.db.read() as conn:
            row = conn.execute("SELECT private FROM repositories WHERE name = ?", (name,)).fetchone()
        return None if row is None else bool(row["private"])

    def repositories(self, where: str, params: list[Any], ordering: str | None, offset: int,
                     limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(count, one page of rows) of the repositories matching an SQL condition on alias r."""
        order = ORDERINGS.get(ordering or "name", ORDERINGS["name"])
        with self.db.read() as conn:
            count = conn.execute(f"SELECT COUNT(*) FROM repositories r WHERE {where}", params).fetchone()[0]
            page = rows(conn.execute(f"SELECT * FROM repositories r WHERE {where} ORDER BY {order} "
                                     "LIMIT ? OFFSET ?", [*params, limit, offset]))
        return int(count), page

    def tags(self, repo: int, ordering: str | None, offset: int, limit: int, name: str | None = None,
             exact: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """(count, one page) of a repository's tags (`name` in theirs, or `exact`), newest first by default."""
        order = TAG_ORDERINGS.get(ordering or "last_updated", TAG_ORDERINGS["last_updated"])
        where, params = "t.repo = ?", [repo]  # type: tuple[str, list[Any]]
        if name:
            where, params = where + " AND t.name LIKE ? ESCAPE '\\'", [repo, like(name)]
        if exact is not None:
            where, params = where + " AND t.name = ?", [*params, exact]
        with self.db.read() as conn:
            count = conn.execute(f"SELECT COUNT(*) FROM tags t WHERE {where}", params).fetchone()[0]
            page = rows(conn.execute(f"SELECT t.rowid AS id, t.* FROM tags t WHERE {where} ORDER BY {order} "
                                     "LIMIT ? OFFSET ?",
                                     [*params, limit, offset]))
        for row in page:
            row["platforms"] = json.loads(row["platforms"])
        return int(count), page

    # ----- changes from the hub API --------------------------------------------------------------

    def update(self, name: str, **fields: Any) -> None:
        """Set description, full_description or private of a repository."""
        allowed = {k: v for k, v in fields.items() if k in ("description", "full_description", "private")}
        if not allowed:
            return
        assignments = ", ".join(f"{k} = ?" for k in allowed)
        with self.db.write() as conn:
            if conn.execute(f"UPDATE repositories SET {assignments} WHERE name = ?",
                            [*allowed.values(), name]).rowcount == 0:
                raise NameUnknown("repository name not known to registry", {"name": name})

    def star(self, name: str, user: str, on: bool) -> None:
        """Star (or unstar) a repository for `user`."""
        with self.db.write() as conn:
            row = conn.execute("SELECT id FROM repositories WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NameUnknown("repository name not known to registry", {"name": name})
            if on:
                conn.execute("INSERT OR IGNORE INTO stars (repo, user) VALUES (?, ?)", (row["id"], user))
            else:
                conn.execute("DELETE FROM stars WHERE repo = ? AND user = ?", (row["id"], user))
            conn.execute("UPDATE repositories SET star_count = (SELECT COUNT(*) FROM stars WHERE repo = ?) "
                         "WHERE id = ?", (row["id"], row["id"]))

    def starred(self, repo: int, user: str) -> bool:
        """True when `user` starred the repository."""
        with self.db.read() as conn:
            return conn.execute("SELECT 1 FROM stars WHERE repo = ? AND user = ?", (repo, user)).fetchone() is not None

    # ----- audit log -----------------------------------------------------------------------------

    def audit(self, actor: str, action: str, name: str, reference: str = "", digest: str = "") -> None:
        """Record who did what to which repository."""
        with self.db.write() as conn:
            conn.execute("INSERT INTO audit (time, actor, action, repository, namespace, reference, digest) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (time.time(), actor, action, name, namespace_of(name), reference, digest))

    def audit_log(self, namespace: str, repository: str | None, offset: int,
                  limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(count, one page, newest first) of a namespace's audit entries (optionally one repository's)."""
        where, params = "namespace = ?", [namespace]
        if repository:
            where, params = where + " AND repository = ?", [namespace, repository]
        with self.db.read() as conn:
            count = conn.execute(f"SELECT COUNT(*) FROM audit WHERE {where}", params).fetchone()[0]
            page = rows(conn.execute(f"SELECT * FROM audit WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                                     [*params, limit, offset]))
        return int(count), page


def like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere (its %, _ and \\ taken literally)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
