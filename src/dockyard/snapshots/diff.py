"""What a writable overlay layer changed: docker's diff list (A/C/D) and the layer tar (docker whiteouts)."""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Iterator

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_OPAQUE_XATTRS = ("trusted.overlay.opaque", "user.overlay.opaque")
KIND_CHANGED, KIND_ADDED, KIND_DELETED = 0, 1, 2


def is_whiteout(st: os.stat_result) -> bool:
    """overlayfs marks a deleted path with a 0/0 character device."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: Path) -> bool:
    """An opaque directory hides everything below it in the lower layers."""
    for name in _OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _walk(upper: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """Every path of the upper dir, parents before children, in a stable order."""
    stack = [""]
    while stack:
        rel = stack.pop()
        base = upper / rel if rel else upper
        names = sorted(os.listdir(base), reverse=True)
        for name in names:
            child_rel = f"{rel}/{name}" if rel else name
            st = os.lstat(upper / child_rel)
            yield child_rel, upper / child_rel, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(child_rel)


def changes(upper: Path, lowers: list[Path]) -> list[dict]:
    """GET /containers/{id}/changes: Kind 0 changed, 1 added, 2 deleted, sorted by path."""
    out = []
    for rel, path, st in _walk(upper):
        if is_whiteout(st):
            out.append({"Path": "/" + rel, "Kind": KIND_DELETED})
            continue
        in_lower = any(os.path.lexists(lower / rel) for lower in lowers)
        out.append({"Path": "/" + rel, "Kind": KIND_CHANGED if in_lower else KIND_ADDED})
    return sorted(out, key=lambda c: c["Path"])


def write_layer_tar(upper: Path, out: BinaryIO) -> None:
    """The upper dir as a docker layer tar: whiteout devices become `.wh.` files, opaque dirs get a marker."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for rel, path, st in sorted(_walk(upper), key=lambda item: item[0]):
            if is_whiteout(st):
                parent, _, name = rel.rpartition("/")
                info = tarfile.TarInfo(f"{parent}/{WHITEOUT_PREFIX}{name}" if parent else WHITEOUT_PREFIX + name)
                info.mtime = int(st.st_mtime)
                tar.addfile(info)
                continue
            info = tar.gettarinfo(str(path), arcname=rel)
            info.uname = info.gname = ""
            if info.isreg():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
            if stat.S_ISDIR(st.st_mode) and is_opaque(path):
                marker = tarfile.TarInfo(f"{rel}/{OPAQUE_MARKER}")
                marker.mtime = int(st.st_mtime)
                tar.addfile(marker)
