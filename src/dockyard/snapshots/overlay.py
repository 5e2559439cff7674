"""Overlayfs snapshots: one read-only directory per layer (keyed by chain id), one writable layer per container."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tarfile
import threading
import uuid
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import Conflict, InvalidParameter, NotFound, SystemError_
from dockyard.metadata.db import MetadataDB, dumps, loads
from dockyard.util.digest import HashingReader, digest_bytes, validate_digest
from dockyard.util.fsutil import disk_usage
from dockyard.util.tarsafe import SafeExtractor, clean_name, decompressed

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_META_PREFIX = ".wh..wh."
_MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


class Snapshotter:
    """Layers unpack into root/<n>/fs (n short so overlay's option string stays under a page)."""

    def __init__(self, root: Path, db: MetadataDB) -> None:
        self.root = root
        self._db = db
        self._lock = threading.Lock()
        root.mkdir(parents=True, exist_ok=True)
        self._empty = root / "empty"
        self._empty.mkdir(exist_ok=True)
        self._remove_orphans()

    # ----- layers -------------------------------------------------------------------------------

    def apply_layer(self, parent_chain_id: str | None, diff_tar: BinaryIO, diff_id: str) -> str:
        """Unpack one (plain or gzip) layer tar on top of `parent_chain_id`; returns the new chain id."""
        validate_digest(diff_id)
        chain_id = diff_id if parent_chain_id is None else digest_bytes(f"{parent_chain_id} {diff_id}".encode())
        if parent_chain_id is not None and not self.has_layer(parent_chain_id):
            raise NotFound(f"parent snapshot {parent_chain_id} does not exist")
        if self.has_layer(chain_id):
            return chain_id
        staging = self.root / f"tmp-{uuid.uuid4().hex}"
        (staging / "fs").mkdir(parents=True)
        try:
            _unpack_layer(diff_tar, staging / "fs", diff_id)
            size = disk_usage(staging / "fs")
            with self._lock:
                if self.has_layer(chain_id):
                    shutil.rmtree(staging)
                    return chain_id
                number = self._next_number()
                os.rename(staging, self.root / str(number))
                doc = {"kind": "layer", "n": number, "parent": parent_chain_id, "diff_id": diff_id, "size": size}
                with self._db.transaction() as cur:
                    cur.execute("INSERT INTO snapshots(key, doc) VALUES (?, ?)", (chain_id, dumps(doc)))
        except BaseException:
            if staging.exists():
                shutil.rmtree(staging)
            raise
        return chain_id

    def has_layer(self, chain_id: str) -> bool:
        """True when a layer snapshot with this chain id exists."""
        doc = self._doc(chain_id)
        return doc is not None and doc["kind"] == "layer"

    def lower_dirs(self, chain_id: str) -> list[Path]:
        """The fs directories of a layer and all its parents, top-most first."""
        dirs: list[Path] = []
        current: str | None = chain_id
        while current is not None:
            doc = self._layer_doc(current)
            dirs.append(self.root / str(doc["n"]) / "fs")
            current = doc["parent"]
        return dirs

    def layer_size(self, chain_id: str) -> int:
        """Bytes unpacked by this one layer (not its parents)."""
        return int(self._layer_doc(chain_id)["size"])

    def remove_layer(self, chain_id: str) -> None:
        """Delete a layer snapshot; Conflict while a layer or container is built on it."""
        with self._lock:
            doc = self._layer_doc(chain_id)
            if self._children(chain_id):
                raise Conflict(f"snapshot {chain_id} is in use by other snapshots")
            with self._db.transaction() as cur:
                cur.execute("DELETE FROM snapshots WHERE key = ?", (chain_id,))
        shutil.rmtree(self.root / str(doc["n"]), ignore_errors=False)

    def layer_in_use(self, chain_id: str) -> bool:
        """True when another layer or a container's writable layer sits on this layer."""
        return bool(self._children(chain_id))

    # ----- containers ---------------------------------------------------------------------------

    def prepare_container(self, container_id: str, chain_id: str | None) -> None:
        """Create the writable layer (upper + work dirs) of a container above `chain_id`."""
        if chain_id is not None:
            self._layer_doc(chain_id)
        with self._lock:
            if self._doc(container_id) is not None:
                raise Conflict(f"snapshot for container {container_id} already exists")
            number = self._next_number()
            directory = self.root / str(number)
            (directory / "fs").mkdir(parents=True)
            (directory / "work").mkdir()
            doc = {"kind": "active", "n": number, "parent": chain_id}
            try:
                with self._db.transaction() as cur:
                    cur.execute("INSERT INTO snapshots(key, doc) VALUES (?, ?)", (container_id, dumps(doc)))
            except BaseException:
                shutil.rmtree(directory)
                raise

    def container_upper(self, container_id: str) -> Path:
        """The writable (upper) directory of a container."""
        return self.root / str(self._active_doc(container_id)["n"]) / "fs"

    def mount_options(self, container_id: str) -> str:
        """The overlay mount data string for a container's rootfs."""
        doc = self._active_doc(container_id)
        lowers = self.lower_dirs(doc["parent"]) if doc["parent"] else [self._empty]
        directory = self.root / str(doc["n"])
        return (f"lowerdir={':'.join(str(p) for p in lowers)},upperdir={directory / 'fs'},"
                f"workdir={directory / 'work'},index=off")

    def mount_container(self, container_id: str, target: Path) -> None:
        """Mount the container's overlay rootfs at `target`."""
        options = self.mount_options(container_id)
        if len(options) >= os.sysconf("SC_PAGE_SIZE"):
            raise SystemError_(f"too many layers to mount container {container_id}")
        target.mkdir(parents=True, exist_ok=True)
        if _libc.mount(b"overlay", os.fsencode(target), b"overlay", 0, options.encode()) != 0:
            err = ctypes.get_errno()
            raise SystemError_(f"error mounting overlay at {target}: {os.strerror(err)}")

    def unmount(self, target: Path) -> None:
        """Detach whatever is mounted at `target`; nothing happens when nothing is."""
        if _libc.umount2(os.fsencode(target), _MNT_DETACH) != 0:
            err = ctypes.get_errno()
            if err not in (errno.EINVAL, errno.ENOENT):
                raise SystemError_(f"error unmounting {target}: {os.strerror(err)}")

    def container_size(self, container_id: str) -> int:
        """Bytes in the container's writable layer (docker's SizeRw)."""
        return disk_usage(self.container_upper(container_id))

    def remove_container(self, container_id: str) -> None:
        """Delete a container's writable layer (it must be unmounted); no error when it is gone."""
        with self._lock:
            doc = self._doc(container_id)
            if doc is None:
                return
            with self._db.transaction() as cur:
                cur.execute("DELETE FROM snapshots WHERE key = ?", (container_id,))
        shutil.rmtree(self.root / str(doc["n"]))

    # ----- bookkeeping --------------------------------------------------------------------------

    def _doc(self, key: str) -> dict | None:
        rows = self._db.query("SELECT doc FROM snapshots WHERE key = ?", (key,))
        return loads(rows[0][0]) if rows else None

    def _layer_doc(self, chain_id: str) -> dict:
        doc = self._doc(chain_id)
        if doc is None or doc["kind"] != "layer":
            raise NotFound(f"snapshot {chain_id} does not exist")
        return doc

    def _active_doc(self, container_id: str) -> dict:
        doc = self._doc(container_id)
        if doc is None or doc["kind"] != "active":
            raise NotFound(f"no writable layer for container {container_id}")
        return doc

    def _children(self, chain_id: str) -> list[str]:
        rows = self._db.query("SELECT key FROM snapshots WHERE json_extract(doc, '$.parent') = ?", (chain_id,))
        return [row[0] for row in rows]

    def _numbers_in_db(self) -> set[int]:
        return {int(row[0]) for row in self._db.query("SELECT json_extract(doc, '$.n') FROM snapshots")}

    def _next_number(self) -> int:
        """A directory number used neither in the database nor on disk (caller holds the lock)."""
        on_disk = {int(entry.name) for entry in os.scandir(self.root) if entry.name.isdigit()}
        return max(on_disk | self._numbers_in_db() | {0}) + 1

    def _remove_orphans(self) -> None:
        """Delete staging dirs and numbered dirs no record points at (left by a crash)."""
        known = self._numbers_in_db()
        for entry in os.scandir(self.root):
            orphan = entry.name.startswith("tmp-") or (entry.name.isdigit() and int(entry.name) not in known)
            if orphan:
                shutil.rmtree(entry.path)


def _unpack_layer(diff_tar: BinaryIO, dest: Path, diff_id: str) -> None:
    """Extract a layer into `dest`, converting docker whiteouts to overlay's, and verify its diff id."""
    reader = HashingReader(decompressed(diff_tar))
    with SafeExtractor(dest) as extractor:
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    _apply_member(tar, member, extractor)
        except tarfile.TarError as exc:
            raise InvalidParameter(f"invalid layer tar: {exc}") from exc
        extractor.finish()
    reader.drain()
    if reader.digest != diff_id:
        raise InvalidParameter(f"layer digest mismatch: got {reader.digest}, expected diff id {diff_id}")


def _apply_member(tar: tarfile.TarFile, member: tarfile.TarInfo, extractor: SafeExtractor) -> None:
    """Extract one member, turning .wh.X into a 0/0 char device and .wh..wh..opq into the opaque xattr, both
    made inside the layer (a whiteout below a symlink resolves inside it too)."""
    name = clean_name(member.name)
    base = os.path.basename(name)
    if not base.startswith(WHITEOUT_PREFIX):
        extractor.extract(tar, member, name)
        return
    parent = os.path.dirname(name)
    if base == OPAQUE_MARKER:
        extractor.mark_opaque(parent)
    elif not base.startswith(_META_PREFIX):
        extractor.hide(os.path.join(parent, base[len(WHITEOUT_PREFIX):]), member.uid, member.gid)
