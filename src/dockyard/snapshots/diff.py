"""What a writable overlay layer changed: docker's diff list (A/C/D) and the layer tar (docker whiteouts)."""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Iterator

from dockyard.util.inroot import open_in_root, open_root
from dockyard.util.tartree import TreeWriter

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
KIND_CHANGED, KIND_ADDED, KIND_DELETED = 0, 1, 2


def is_whiteout(st: os.stat_result) -> bool:
    """overlayfs marks a deleted path with a 0/0 character device."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(directory_fd: int) -> bool:
    """An opaque directory hides everything below it in the lower layers."""
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(directory_fd, name) == b"y":
                return True
        except OSError as exc:
            if exc.errno not in (errno.ENODATA, errno.ENOTSUP):
                raise
    return False


def _walk(root_fd: int) -> Iterator[tuple[str, os.stat_result]]:
    """Every path of the upper dir, parents before children; each directory opened inside the upper dir by the
    kernel and its entries stat'ed through it, never following a symlink a running container swapped in."""
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            fd = open_in_root(root_fd, rel, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW) if rel else os.dup(root_fd)
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed or replaced since it was listed
        try:
            for name in sorted(os.listdir(fd), reverse=True):
                child_rel = f"{rel}/{name}" if rel else name
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                yield child_rel, st
                if stat.S_ISDIR(st.st_mode):
                    stack.append(child_rel)
        finally:
            os.close(fd)


def changes(upper: Path, lowers: list[Path]) -> list[dict]:
    """GET /containers/{id}/changes: Kind 0 changed, 1 added, 2 deleted, sorted by path."""
    out = []
    root_fd = open_root(upper)
    try:
        for rel, st in _walk(root_fd):
            if is_whiteout(st):
                out.append({"Path": "/" + rel, "Kind": KIND_DELETED})
                continue
            in_lower = any(os.path.lexists(lower / rel) for lower in lowers)
            out.append({"Path": "/" + rel, "Kind": KIND_CHANGED if in_lower else KIND_ADDED})
    finally:
        os.close(root_fd)
    return sorted(out, key=lambda c: c["Path"])


def write_layer_tar(upper: Path, out: BinaryIO) -> None:
    """The upper dir as a docker layer tar: whiteout devices become `.wh.` files, opaque dirs get a marker. Each
    entry is read through its parent's descriptor, resolved inside the upper dir, without following it."""
    writer = TreeWriter(out)
    root_fd = open_root(upper)
    parents: dict[str, int] = {}
    try:
        for rel, st in sorted(_walk(root_fd), key=lambda item: item[0]):
            directory, _, name = rel.rpartition("/")
            if is_whiteout(st):
                info = tarfile.TarInfo(f"{directory}/{WHITEOUT_PREFIX}{name}" if directory else WHITEOUT_PREFIX + name)
                info.mtime = int(st.st_mtime)
                writer.add_header(info)
                continue
            if directory not in parents:
                parents[directory] = open_in_root(root_fd, directory, os.O_RDONLY | os.O_DIRECTORY)
            child = writer.add_entry(parents[directory], name, rel)
            if child is not None:
                try:
                    opaque = is_opaque(child)
                finally:
                    os.close(child)
                if opaque:
                    marker = tarfile.TarInfo(f"{rel}/{OPAQUE_MARKER}")
                    marker.mtime = int(st.st_mtime)
                    writer.add_header(marker)
        writer.close()
    finally:
        for fd in parents.values():
            os.close(fd)
        os.close(root_fd)
