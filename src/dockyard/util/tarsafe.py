"""Tar safety: extract archive members into a root so that no entry, link or symlink escapes it."""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import shutil
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import InvalidParameter
from dockyard.util.securejoin import secure_join

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_XATTR_PREFIX = "SCHILY.xattr."


def clean_name(name: str) -> str:
    """Normalize a member name to a relative path; raise when it climbs out of the root."""
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    relative = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
    if relative == ".." or relative.startswith("../"):
        raise InvalidParameter(f"invalid tar entry {name!r}: path escapes the archive root")
    return cleaned or "."


def decompressed(stream: BinaryIO) -> BinaryIO:
    """Wrap `stream` so it reads uncompressed tar bytes whether it is plain, gzip- or zstd-compressed."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(_RawAdapter(stream))
    head = buffered.peek(4)[:4]
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if head == _ZSTD_MAGIC:
        import zstandard  # imported here: only layer unpacking needs it, the CLI's start-up does not

        return zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)  # type: ignore[return-value]
    return buffered


class _RawAdapter(io.RawIOBase):
    """Present any object with read(n) as a raw stream so it can be buffered and peeked."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        """Fill `buffer` from the inner stream."""
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class SafeExtractor:
    """Extract tar members one at a time into `root`, keeping ownership, modes, xattrs and times."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.realpath(root))
        self._dir_times: list[tuple[Path, float]] = []

    def target(self, name: str) -> Path:
        """Where a cleaned member name lands: its parent resolved inside the root, the leaf untouched."""
        parent, leaf = posixpath.split(name)
        directory = secure_join(self.root, parent) if parent else self.root
        return directory / leaf

    def make_parents(self, path: Path) -> None:
        """Create missing parent directories of `path` (mode 0755, like docker's unpacker)."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)

    def extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> None:
        """Create one member at its cleaned `name`; a non-directory replaces whatever was there."""
        if name == ".":
            return
        path = self.target(name)
        self.make_parents(path)
        if not (member.isdir() and path.is_dir() and not path.is_symlink()):
            _remove(path)
        if member.isdir():
            path.mkdir(exist_ok=True)
        elif member.isreg():
            self._write_file(tar, member, path)
        elif member.issym():
            self._check_symlink(name, member.linkname)
            os.symlink(member.linkname, path)
        elif member.islnk():
            source = self.target(clean_name(member.linkname))
            if not source.exists() or source.is_dir():
                raise InvalidParameter(f"invalid hardlink {member.name!r} -> {member.linkname!r}")
            os.link(source, path, follow_symlinks=False)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | member.mode, os.makedev(member.devmajor, member.devminor))
        elif member.isfifo():
            os.mkfifo(path, member.mode)
        else:
            raise InvalidParameter(f"unsupported tar entry type for {member.name!r}")
        self._apply_attributes(member, path)

    def finish(self) -> None:
        """Restore directory times last, since creating children changed them."""
        for path, mtime in reversed(self._dir_times):
            os.utime(path, (mtime, mtime), follow_symlinks=False)
        self._dir_times.clear()

    def _check_symlink(self, name: str, linkname: str) -> None:
        """Refuse a relative symlink whose target climbs out of the root (as docker does)."""
        if linkname.startswith("/"):
            return
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), linkname))
        if joined == ".." or joined.startswith("../"):
            raise InvalidParameter(f"invalid symlink {name!r} -> {linkname!r}: target escapes the archive root")

    def _write_file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> None:
        source = tar.extractfile(member)
        if source is None:
            raise InvalidParameter(f"cannot read tar entry {member.name!r}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)

    def _apply_attributes(self, member: tarfile.TarInfo, path: Path) -> None:
        os.lchown(path, member.uid, member.gid)
        for key, value in member.pax_headers.items():
            if key.startswith(_XATTR_PREFIX):
                os.setxattr(path, key[len(_XATTR_PREFIX):], value.encode("utf-8", "surrogateescape"),
                            follow_symlinks=False)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        if member.isdir():
            self._dir_times.append((path, member.mtime))
        else:
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)


def _remove(path: Path) -> None:
    """Remove whatever sits at `path` (file, link or whole directory); nothing if absent."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
