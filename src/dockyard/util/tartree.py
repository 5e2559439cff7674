"""Tar a file tree without following symlinks, and extract a tar stream safely (cp on both sides of the API)."""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Callable

from dockyard.errors import InvalidParameter
from dockyard.util.tarsafe import SafeExtractor, clean_name


class TreeWriter:
    """Writes host files into a tar stream without ever following a symlink (hard links kept as links)."""

    def __init__(self, out: BinaryIO) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)

    def add_tree(self, host_path: Path, name: str) -> None:
        """Add `host_path` as `name`, and everything below it as name/... when it is a directory."""
        stack = [(host_path, name)]
        while stack:
            path, arcname = stack.pop()
            if self._add_one(path, arcname):
                children = sorted(os.listdir(path), reverse=True)
                stack.extend((path / child, posixpath.join(arcname, child)) for child in children)

    def add_children(self, host_dir: Path) -> None:
        """Add everything below `host_dir` with names relative to it (export's flattened rootfs)."""
        for child in sorted(os.listdir(host_dir)):
            self.add_tree(host_dir / child, child)

    def _add_one(self, path: Path, arcname: str) -> bool:
        """Add one entry; True when it is a directory to descend into. Files that vanish meanwhile are skipped."""
        try:
            info = self._tar.gettarinfo(str(path), arcname=arcname)
        except FileNotFoundError:
            return False
        if info is None:  # a socket: a tar cannot hold it (docker skips it too)
            return False
        info.uname = info.gname = ""
        if not info.isreg():
            self._tar.addfile(info)
            return info.isdir()
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return False
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InvalidParameter(f"{arcname} changed while it was archived")
            self._tar.addfile(info, handle)
        return False

    def close(self) -> None:
        """Write the end-of-archive blocks."""
        self._tar.close()


def rebase(name: str, old: str, new: str) -> str:
    """docker's RebaseArchiveEntries for one name: the leading element `old` becomes `new`."""
    if name == old:
        return new
    if name.startswith(old + "/"):
        return new + name[len(old):]
    return name


def extract_tar(stream: BinaryIO, dest: Path, no_overwrite_dir_non_dir: bool = False,
                owner: tuple[int, int] | None = None, rename: Callable[[str], str] | None = None) -> None:
    """Unpack a (possibly compressed) tar into `dest`; no entry, link or parent symlink reaches outside it.

    `owner` forces uid/gid on every entry, `rename` maps entry names (and hard-link targets) first.
    """
    extractor = SafeExtractor(dest)
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tar:  # type: ignore[call-overload]
            for member in tar:
                if rename is not None:
                    member.name = rename(member.name)
                    if member.islnk():
                        member.linkname = rename(member.linkname)
                name = clean_name(member.name)
                if name == ".":
                    continue
                if no_overwrite_dir_non_dir:
                    _check_overwrite(extractor.target(name), member)
                if owner is not None:
                    member.uid, member.gid = owner
                extractor.extract(tar, member, name)
    except tarfile.TarError as bad:
        raise InvalidParameter(f"invalid tar archive: {bad}") from bad
    extractor.finish()


def _check_overwrite(path: Path, member: tarfile.TarInfo) -> None:
    """docker's NoOverwriteDirNonDir: a directory may not replace a non-directory, nor the reverse."""
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        return
    is_dir = stat.S_ISDIR(existing.st_mode)
    if is_dir and not member.isdir():
        raise InvalidParameter(f"cannot overwrite directory {member.name!r} with non-directory")
    if not is_dir and member.isdir():
        raise InvalidParameter(f"cannot overwrite non-directory {member.name!r} with directory")
