"""The archive API: stat a path in a container, tar it out, extract a tar into it; nothing leaves the rootfs."""

from __future__ import annotations

import base64
import json
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.containers.fsview import FileView
from dockyard.errors import Forbidden, InvalidParameter, NotFound
from dockyard.util.inroot import fd_path, open_in_root, open_root
from dockyard.util.securejoin import secure_join
from dockyard.util.tartree import TreeWriter
from dockyard.util.timeutil import format_ns

# Go's os.FileMode type bits, which docker puts in ContainerPathStat.mode
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


def go_file_mode(mode: int) -> int:
    """A unix st_mode as Go's os.FileMode (permission bits plus Go's own type and special bits)."""
    out = mode & 0o777
    kind = stat.S_IFMT(mode)
    out |= {stat.S_IFDIR: _GO_DIR, stat.S_IFLNK: _GO_SYMLINK, stat.S_IFIFO: _GO_PIPE, stat.S_IFSOCK: _GO_SOCKET,
            stat.S_IFBLK: _GO_DEVICE, stat.S_IFCHR: _GO_DEVICE | _GO_CHARDEV}.get(kind, 0)
    if mode & stat.S_ISUID:
        out |= _GO_SETUID
    if mode & stat.S_ISGID:
        out |= _GO_SETGID
    if mode & stat.S_ISVTX:
        out |= _GO_STICKY
    return out


def absolute_path(path: str) -> str:
    """Docker's container path: absolute, cleaned, keeping a trailing "/" or "/." the user typed."""
    if not path:
        raise InvalidParameter("Path cannot be empty")
    cleaned = posixpath.normpath("/" + path)
    cleaned = "/" if cleaned == "//" else cleaned
    if path.endswith("/.") or path == ".":
        return cleaned.rstrip("/") + "/."
    if path.endswith("/") and cleaned != "/":
        return cleaned + "/"
    return cleaned


def _go_base(path: str) -> str:
    """Go's filepath.Base: the last element after trailing slashes are dropped ("/" for the root)."""
    trimmed = path.rstrip("/")
    return posixpath.basename(trimmed) if trimmed else "/"


@dataclass
class PathStat:
    """docker's ContainerPathStat."""

    name: str
    size: int
    mode: int
    mtime: str
    link_target: str
    is_dir: bool

    def header(self) -> str:
        """The base64 JSON value of the X-Docker-Container-Path-Stat header."""
        body = {"name": self.name, "size": self.size, "mode": self.mode, "mtime": self.mtime,
                "linkTarget": self.link_target}
        return base64.b64encode(json.dumps(body).encode()).decode()


def _split(abs_path: str) -> tuple[str, str]:
    """The directory to resolve fully and the last element to take as it is ("." when the path names the
    directory itself: "/", "dir/" or "dir/.")."""
    directory, base = posixpath.split(abs_path)
    return directory, base if base not in ("", ".") else "."


def stat_path(rootfs: Path, path: str, container: str) -> PathStat:
    """Resolve every element but the last inside the rootfs (by the kernel), lstat the last (docker's StatPath)."""
    abs_path = absolute_path(path)
    directory, leaf = _split(abs_path)
    root_fd = open_root(rootfs)
    try:
        parent = open_in_root(root_fd, directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            info = os.stat(leaf, dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(parent)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"Could not find the file {path} in container {container}") from None
    finally:
        os.close(root_fd)
    link_target = ""
    if stat.S_ISLNK(info.st_mode):
        target = secure_join(rootfs, abs_path)  # only a name to report: nothing is opened by it
        relative = os.path.relpath(target, os.path.realpath(rootfs))
        link_target = "/" if relative == "." else "/" + relative
    return PathStat(_go_base(abs_path), info.st_size, go_file_mode(info.st_mode), format_ns(info.st_mtime_ns),
                    link_target, stat.S_ISDIR(info.st_mode))


def _archive_name(abs_path: str) -> str:
    """The name the top entry of GET /archive gets: the path's last element ("." for dir/.)."""
    base = _go_base(abs_path)
    return "." if base == "/" else base


def write_archive(rootfs: Path, path: str, out: BinaryIO) -> None:
    """GET /archive's body: the resource at `path` (parents resolved inside the rootfs, the last element not
    followed), its top entry renamed to the path's last element."""
    abs_path = absolute_path(path)
    writer = TreeWriter(out)
    writer.add_in_root(rootfs, *_split(abs_path), _archive_name(abs_path))
    writer.close()


def extraction_dir(view: FileView, path: str, container: str, readonly_rootfs: bool) -> str:
    """Where a PUT extracts, relative to the view's root: `path` fully resolved inside the view by the kernel;
    must be a directory, and writable: in a read-write mount, or on the rootfs unless it is read-only (docker's
    messages)."""
    root_fd = open_root(view.root)
    try:
        fd = open_in_root(root_fd, absolute_path(path), os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise NotFound(f"Could not find the file {path} in container {container}") from None
    except NotADirectoryError:
        raise InvalidParameter("extraction point is not a directory") from None
    finally:
        os.close(root_fd)
    try:
        resolved = fd_path(fd)
    finally:
        os.close(fd)
    mounted = view.mount_of(resolved)
    if mounted is not None and not mounted.rw:
        raise Forbidden("mounted volume is marked read-only")
    if mounted is None and readonly_rootfs:
        raise Forbidden("container rootfs is marked read-only")
    return str(resolved.relative_to(view.root))
