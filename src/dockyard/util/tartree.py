"""Tar a file tree without following symlinks, and extract a tar stream safely (cp on both sides of the API)."""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Callable

from dockyard.errors import InvalidParameter
from dockyard.util.inroot import open_in_root, open_root
from dockyard.util.tarsafe import ByteSource, SafeExtractor, clean_name

_TYPES = {stat.S_IFREG: tarfile.REGTYPE, stat.S_IFDIR: tarfile.DIRTYPE, stat.S_IFLNK: tarfile.SYMTYPE,
          stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE, stat.S_IFIFO: tarfile.FIFOTYPE}


class TreeWriter:
    """Writes files into a tar stream, walking by directory descriptors and opening each entry by its name in its
    parent without following it: a symlink swapped in meanwhile is archived as a symlink, never followed (hard
    links are kept as links)."""

    def __init__(self, out: BinaryIO) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self._inodes: dict[tuple[int, int], str] = {}

    def add_tree(self, host_path: Path, name: str) -> None:
        """Add `host_path` as `name`, and everything below it as name/... when it is a directory."""
        parent = os.open(host_path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self.add_at(parent, host_path.name or ".", name)
        finally:
            os.close(parent)

    def add_in_root(self, root: Path, directory: str, leaf: str, name: str) -> None:
        """Add `leaf` of `directory` in the tree at `root`: the directory resolved inside `root` by the kernel, the
        leaf not followed ("." adds the directory itself)."""
        root_fd = open_root(root)
        try:
            parent = open_in_root(root_fd, directory, os.O_RDONLY | os.O_DIRECTORY)
        finally:
            os.close(root_fd)
        try:
            self.add_at(parent, leaf, name)
        finally:
            os.close(parent)

    def add_children(self, host_dir: Path) -> None:
        """Add everything below `host_dir` with names relative to it (export's flattened rootfs)."""
        directory = os.open(host_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for child in sorted(os.listdir(directory)):
                self.add_at(directory, child, child)
        finally:
            os.close(directory)

    def add_at(self, parent: int, leaf: str, name: str) -> None:
        """Add the entry `leaf` of the directory `parent` as `name`, and what is below it; depth-first, holding
        one descriptor per directory level."""
        stack: list[tuple[int, str, str] | int] = [(parent, leaf, name)]
        while stack:
            item = stack.pop()
            if isinstance(item, int):
                os.close(item)
                continue
            directory = self.add_entry(*item)
            if directory is not None:
                stack.append(directory)
                arcname = item[2]
                stack.extend((directory, child, posixpath.join(arcname, child))
                             for child in sorted(os.listdir(directory), reverse=True))

    def add_entry(self, parent: int, leaf: str, arcname: str) -> int | None:
        """Add one entry (not what is below it); returns a descriptor when it is a directory, for the caller to
        descend into and close. Files that vanish meanwhile are skipped; sockets too (a tar cannot hold them,
        docker skips them as well)."""
        try:
            st = os.stat(leaf, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return None
        kind = stat.S_IFMT(st.st_mode)
        if kind not in _TYPES:
            return None
        info = _info(st, arcname)
        try:
            if kind == stat.S_IFLNK:
                info.linkname = os.readlink(leaf, dir_fd=parent)
            elif kind == stat.S_IFDIR:
                fd = os.open(leaf, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
                self._tar.addfile(info)
                return fd
            elif kind == stat.S_IFREG:
                self._add_file(parent, leaf, st, info)
                return None
        except FileNotFoundError:
            return None
        self._tar.addfile(info)
        return None

    def _add_file(self, parent: int, leaf: str, st: os.stat_result, info: tarfile.TarInfo) -> None:
        """A regular file's header and bytes, read through a descriptor checked to be the file just stat'ed."""
        inode = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and inode in self._inodes:
            info.type, info.linkname, info.size = tarfile.LNKTYPE, self._inodes[inode], 0
            self._tar.addfile(info)
            return
        fd = os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=parent)
        with os.fdopen(fd, "rb") as handle:
            now = os.fstat(handle.fileno())
            if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != inode:
                raise InvalidParameter(f"{info.name} changed while it was archived")
            info.size = now.st_size
            self._tar.addfile(info, handle)
        if st.st_nlink > 1:
            self._inodes[inode] = info.name

    def add_header(self, info: tarfile.TarInfo) -> None:
        """Add an entry without data made by the caller (a whiteout, an opaque marker)."""
        self._tar.addfile(info)

    def close(self) -> None:
        """Write the end-of-archive blocks."""
        self._tar.close()


def _info(st: os.stat_result, arcname: str) -> tarfile.TarInfo:
    """A tar header for a stat result (tarfile.gettarinfo's fields, names of owners left out)."""
    info = tarfile.TarInfo(arcname)
    info.type = _TYPES[stat.S_IFMT(st.st_mode)]
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = st.st_mtime
    if info.type in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return info


def rebase(name: str, old: str, new: str) -> str:
    """docker's RebaseArchiveEntries for one name: the leading element `old` becomes `new`."""
    if name == old:
        return new
    if name.startswith(old + "/"):
        return new + name[len(old):]
    return name


def extract_tar(stream: ByteSource, root: Path, base: str = "", no_overwrite_dir_non_dir: bool = False,
                owner: tuple[int, int] | None = None, rename: Callable[[str], str] | None = None) -> None:
    """Unpack a (possibly compressed) tar at `base` inside `root`; every path is resolved inside `root` by the
    kernel, so no entry, link or parent symlink (even one swapped in meanwhile) reaches outside it.

    `owner` forces uid/gid on every entry, `rename` maps entry names (and hard-link targets) first.
    """
    with SafeExtractor(root, base) as extractor:
        try:
            # typeshed wants a whole file object; stream mode ("r|") only ever calls read(n) on it
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
                        _check_overwrite(extractor.lstat(name), member)
                    if owner is not None:
                        member.uid, member.gid = owner
                    extractor.extract(tar, member, name)
        except tarfile.TarError as bad:
            raise InvalidParameter(f"invalid tar archive: {bad}") from bad
        extractor.finish()


def _check_overwrite(existing: os.stat_result | None, member: tarfile.TarInfo) -> None:
    """docker's NoOverwriteDirNonDir: a directory may not replace a non-directory, nor the reverse."""
    if existing is None:
        return
    is_dir = stat.S_ISDIR(existing.st_mode)
    if is_dir and not member.isdir():
        raise InvalidParameter(f"cannot overwrite directory {member.name!r} with non-directory")
    if not is_dir and member.isdir():
        raise InvalidParameter(f"cannot overwrite non-directory {member.name!r} with directory")
