"""Tar safety: extract archive members into a root so that no entry, link or symlink escapes it."""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import posixpath
import shutil
import stat
import tarfile
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

from dockyard.errors import InsufficientStorage, InvalidParameter
from dockyard.util.inroot import open_in_root, open_root

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_XATTR_PREFIX = "SCHILY.xattr."
_OPAQUE_XATTR = "trusted.overlay.opaque"
NAME_MAX = 255
PATH_MAX = 4096
_SHOWN = 64  # characters of an offending name an error message repeats
_CACHED_DIRS = 64
_MAX_LINKS = 40
_COPY_CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW

# The largest regular file (its declared size) an archive may bring; `dockyard daemon` sets it from daemon.json.
max_file_size = 1 << 40


class ByteSource(Protocol):
    """Anything bytes are read from with read(n): a file, a request body, a tar stream."""

    def read(self, size: int, /) -> bytes:
        """Up to `size` bytes; b"" at the end."""


def shown(name: str) -> str:
    """A name as an error message repeats it: cut short, so a hostile name is never echoed whole."""
    return repr(name if len(name) <= _SHOWN else name[:_SHOWN] + "...")


def check_path_length(name: str, what: str = "tar entry") -> None:
    """Refuse names the kernel would refuse (a component over NAME_MAX, the whole over PATH_MAX) or NUL bytes."""
    encoded = os.fsencode(name)
    if b"\0" in encoded:
        raise InvalidParameter(f"invalid {what} {shown(name)}: name contains a NUL byte")
    if len(encoded) >= PATH_MAX:
        raise InvalidParameter(f"invalid {what} {shown(name)}: name longer than {PATH_MAX - 1} bytes")
    if any(len(part) > NAME_MAX for part in encoded.split(b"/")):
        raise InvalidParameter(f"invalid {what} {shown(name)}: a path element is longer than {NAME_MAX} bytes")


def clean_name(name: str) -> str:
    """Normalize a member name to a relative path; raise when it climbs out of the root or is too long."""
    check_path_length(name)
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    relative = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
    if relative == ".." or relative.startswith("../"):
        raise InvalidParameter(f"invalid tar entry {shown(name)}: path escapes the archive root")
    return cleaned or "."


def decompressed(stream: BinaryIO) -> BinaryIO:
    """Wrap `stream` so it reads uncompressed tar bytes whether it is plain, gzip- or zstd-compressed."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(_RawAdapter(stream))
    head = buffered.peek(4)[:4]
    if head.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if head == _ZSTD_MAGIC:
        import zstandard  # imported here: only layer unpacking needs it, the CLI's start-up does not

        return zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
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
    """Extract tar members one at a time under `root` (at `base` inside it), keeping ownership, modes, xattrs and
    times. The kernel resolves every parent inside the root (openat2 RESOLVE_IN_ROOT) and every change is made
    through a descriptor of that parent on the entry's last element, never following a symlink there: an archive
    or a process racing it cannot lead a write, a chmod, a chown or an xattr outside the root. Use it as a
    context manager (it holds descriptors)."""

    def __init__(self, root: Path, base: str = "") -> None:
        self.root = Path(os.path.realpath(root))
        self._base = base.strip("/")
        self._root_fd = open_root(self.root)
        self._dirs: dict[str, int] = {}
        self._dir_times: list[tuple[str, float]] = []

    def __enter__(self) -> "SafeExtractor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every descriptor held."""
        self._forget()
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1

    # ----- members ------------------------------------------------------------------------------

    def extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> None:
        """Create one member at its cleaned `name`; a non-directory replaces whatever was there."""
        if name != ".":
            with refused_as_invalid(name):
                self._extract(tar, member, name)

    def _extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> None:
        parent, leaf = self.parent(name)
        existing = _lstat(parent, leaf)
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            parent = self._remove(parent, leaf, name)
        if member.isdir():
            if existing is None or not stat.S_ISDIR(existing.st_mode):
                os.mkdir(leaf, 0o700, dir_fd=parent)
            self._apply_to_fd(os.open(leaf, _DIR_FLAGS | os.O_CLOEXEC, dir_fd=parent), member)
            self._dir_times.append((name, member.mtime))
        elif member.isreg():
            self._check_size(member, parent, name)
            fd = os.open(leaf, _NEW_FILE_FLAGS | os.O_CLOEXEC, 0o600, dir_fd=parent)
            try:
                _write_data(tar, member, fd)
            except BaseException:
                os.close(fd)
                raise
            self._apply_to_fd(fd, member)
        else:
            self._make_special(tar, member, name, parent, leaf)
            self._apply_by_name(parent, leaf, member)

    def cleared(self, name: str) -> tuple[int, str]:
        """The parent descriptor and last element of `name`, whatever an earlier entry left there removed."""
        parent, leaf = self.parent(name)
        return self._remove(parent, leaf, name), leaf

    def link(self, name: str, linkname: str) -> None:
        """Hard-link `name` to the earlier entry `linkname` (a symlink is linked as the symlink itself)."""
        with refused_as_invalid(name):
            parent, leaf = self.cleared(name)
            self._hard_link(name, linkname, parent, leaf)

    def hide(self, name: str, uid: int, gid: int) -> None:
        """An overlay whiteout for `name`: a 0/0 character device in its place, inside the root."""
        with refused_as_invalid(name):
            parent, leaf = self.cleared(name)
            os.mknod(leaf, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
            os.chown(leaf, uid, gid, dir_fd=parent, follow_symlinks=False)

    def mark_opaque(self, directory: str) -> None:
        """Mark the directory `directory` (resolved inside the root) opaque for overlayfs."""
        self._trim()
        with refused_as_invalid(directory):
            os.setxattr(self._directory(self._joined(directory)), _OPAQUE_XATTR, b"y")

    def lstat(self, name: str) -> os.stat_result | None:
        """What is at `name` now (not following a final symlink), or None; creates nothing."""
        self._trim()
        try:
            parent = self._directory(self._joined(posixpath.dirname(name)), create=False)
        except FileNotFoundError:
            return None
        return _lstat(parent, posixpath.basename(name))

    def finish(self) -> None:
        """Restore directory times last, since creating children changed them."""
        for name, mtime in reversed(self._dir_times):
            try:
                fd = open_in_root(self._root_fd, self._joined(name), _DIR_FLAGS)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    continue  # a later entry removed it or put a file or symlink in its place
                raise
            try:
                os.utime(fd, (mtime, mtime))
            finally:
                os.close(fd)
        self._dir_times.clear()

    # ----- resolving ----------------------------------------------------------------------------

    def parent(self, name: str) -> tuple[int, str]:
        """The descriptor of `name`'s parent directory (made when missing) and its last element; valid until the
        next call of this extractor. A last element of "." or ".." (a whiteout `.wh...`) is refused: it names the
        directory itself or the one above it, and removing it would reach past the root."""
        self._trim()
        directory, leaf = posixpath.split(self._joined(name))
        if leaf in ("", ".", ".."):
            raise InvalidParameter(f"invalid tar entry {shown(name)}: not a name inside the root")
        return self._directory(directory), leaf

    def _joined(self, name: str) -> str:
        """`name` relative to the root: below the base when there is one."""
        name = name.strip("/")
        if name in ("", "."):
            return self._base
        return posixpath.join(self._base, name) if self._base else name

    def _directory(self, rel: str, create: bool = True, links: int = 0) -> int:
        """A descriptor of the directory `rel` resolved inside the root, created (0755) with its parents if
        missing, through dangling symlinks too (docker's MkdirAll in a chroot); cached, since members of a
        directory usually come together."""
        rel = rel.lstrip("/")
        if rel in ("", "."):
            return self._root_fd
        cached = self._dirs.get(rel)
        if cached is not None:
            return cached
        try:
            fd = self._open_directory(rel)
        except FileNotFoundError:
            if not create:
                raise
            fd = self._create_directory(rel, links)
        self._dirs[rel] = fd
        return fd

    def _create_directory(self, rel: str, links: int) -> int:
        """mkdir the last element of `rel` in its (made) parent; when a dangling symlink stands there, make its
        target instead, resolved inside the root."""
        if links > _MAX_LINKS:
            raise InvalidParameter(f"cannot extract below {shown(rel)}: too many levels of symbolic links")
        up, leaf = posixpath.split(rel)
        parent = self._directory(up, True, links)
        try:
            os.mkdir(leaf, 0o755, dir_fd=parent)
        except FileExistsError:
            try:
                target = os.readlink(leaf, dir_fd=parent)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
            else:
                self._directory(posixpath.join(up, target), True, links + 1)
        return self._open_directory(rel)

    def _open_directory(self, rel: str) -> int:
        """Open `rel` inside the root as a directory, following symlinks inside the root only."""
        try:
            return open_in_root(self._root_fd, rel, os.O_RDONLY | os.O_DIRECTORY)
        except NotADirectoryError:
            raise InvalidParameter(f"cannot extract below {shown(rel)}: not a directory") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InvalidParameter(f"cannot extract below {shown(rel)}: too many levels of symbolic links") \
                    from None
            raise

    def _trim(self) -> None:
        """Keep the cache small: close the oldest descriptors (no caller holds one between calls)."""
        while len(self._dirs) > _CACHED_DIRS:
            os.close(self._dirs.pop(next(iter(self._dirs))))

    def _forget(self) -> None:
        """Drop every cached directory descriptor: a directory or symlink was removed, so any cached resolution
        may have gone through it."""
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()

    # ----- making entries -----------------------------------------------------------------------

    def _make_special(self, tar: tarfile.TarFile, member: tarfile.TarInfo, name: str, parent: int, leaf: str) -> None:
        """Create a symlink, hard link, device node or fifo at `leaf` in `parent`."""
        if member.issym():
            check_path_length(member.linkname, "symlink target")
            _check_symlink(name, member.linkname)
            os.symlink(member.linkname, leaf, dir_fd=parent)
        elif member.islnk():
            self._hard_link(name, member.linkname, parent, leaf)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(leaf, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent)
        elif member.isfifo():
            os.mkfifo(leaf, 0o600, dir_fd=parent)
        else:
            raise InvalidParameter(f"unsupported tar entry type for {shown(member.name)}")

    def _hard_link(self, name: str, linkname: str, parent: int, leaf: str) -> None:
        """linkat(2) without AT_SYMLINK_FOLLOW from an entry inside the root; directories refused."""
        source = clean_name(linkname)
        try:
            source_parent, source_leaf = self._directory(self._joined(posixpath.dirname(source)), create=False), \
                posixpath.basename(source)
        except FileNotFoundError:
            source_parent, source_leaf = -1, ""
        found = _lstat(source_parent, source_leaf) if source_parent >= 0 else None
        if found is None or stat.S_ISDIR(found.st_mode):
            raise InvalidParameter(f"invalid hardlink {shown(name)} -> {shown(linkname)}")
        os.link(source_leaf, leaf, src_dir_fd=source_parent, dst_dir_fd=parent, follow_symlinks=False)

    def _remove(self, parent: int, leaf: str, name: str) -> int:
        """Remove whatever sits at `leaf` in `parent` (a whole directory too), never following a symlink; returns
        the parent's descriptor anew (the cached ones are dropped when a directory or symlink goes)."""
        found = _lstat(parent, leaf)
        if found is None:
            return parent
        if stat.S_ISDIR(found.st_mode):
            shutil.rmtree(leaf, dir_fd=parent)
        else:
            os.unlink(leaf, dir_fd=parent)
        if stat.S_ISDIR(found.st_mode) or stat.S_ISLNK(found.st_mode):
            self._forget()
            parent = self.parent(name)[0]
        return parent

    def _check_size(self, member: tarfile.TarInfo, parent: int, name: str) -> None:
        """Refuse a file whose declared size is over the limit, or whose data cannot fit on the disk."""
        if member.size > max_file_size:
            raise InvalidParameter(f"tar entry {shown(name)} declares {member.size} bytes, "
                                   f"over the limit of {max_file_size}")
        pieces = _sparse_pieces(member)
        data = sum(size for _, size in pieces) if pieces else member.size
        disk = os.fstatvfs(parent)
        free = disk.f_bavail * disk.f_frsize
        if data > free:
            raise InsufficientStorage(f"no space left for tar entry {shown(name)}: {data} bytes, {free} free")

    # ----- attributes ---------------------------------------------------------------------------

    def _apply_to_fd(self, fd: int, member: tarfile.TarInfo) -> None:
        """Owner, xattrs, mode and times through an open descriptor of the entry itself; closes it."""
        try:
            os.fchown(fd, member.uid, member.gid)
            for key, value in _xattrs(member):
                os.setxattr(fd, key, value)
            os.fchmod(fd, member.mode & 0o7777)
            if not member.isdir():
                os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)

    def _apply_by_name(self, parent: int, leaf: str, member: tarfile.TarInfo) -> None:
        """Owner, xattrs, mode and times of a symlink, device, fifo or hard link, by its name in `parent`, never
        following it; a mode is set only on what is not a symlink (checked on the very inode changed)."""
        os.chown(leaf, member.uid, member.gid, dir_fd=parent, follow_symlinks=False)
        for key, value in _xattrs(member):
            os.setxattr(f"/proc/self/fd/{parent}/{leaf}", key, value, follow_symlinks=False)
        fd = os.open(leaf, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            if not stat.S_ISLNK(os.fstat(fd).st_mode):
                os.chmod(f"/proc/self/fd/{fd}", member.mode & 0o7777)
        finally:
            os.close(fd)
        os.utime(leaf, (member.mtime, member.mtime), dir_fd=parent, follow_symlinks=False)


@contextlib.contextmanager
def refused_as_invalid(name: str) -> Iterator[None]:
    """What the file system refuses for an entry (a name it cannot hold, an xattr a symlink cannot carry...) is
    the archive's fault: a 400 naming the entry; a full disk is the host's (507)."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage(f"cannot extract {shown(name)}: {exc.strerror}") from None
        raise InvalidParameter(f"cannot extract {shown(name)}: {exc.strerror}") from None


def _lstat(parent: int, leaf: str) -> os.stat_result | None:
    """fstatat(parent, leaf, AT_SYMLINK_NOFOLLOW), or None when nothing is there."""
    try:
        return os.stat(leaf, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _xattrs(member: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    """The SCHILY.xattr.* PAX records of a member as (name, value) pairs."""
    return [(key[len(_XATTR_PREFIX):], value.encode("utf-8", "surrogateescape"))
            for key, value in member.pax_headers.items() if key.startswith(_XATTR_PREFIX)]


def _check_symlink(name: str, linkname: str) -> None:
    """Refuse a relative symlink whose target climbs out of the root (as docker does)."""
    if linkname.startswith("/"):
        return
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), linkname))
    if joined == ".." or joined.startswith("../"):
        raise InvalidParameter(f"invalid symlink {shown(name)} -> {shown(linkname)}: target escapes the archive root")


def _write_data(tar: tarfile.TarFile, member: tarfile.TarInfo, fd: int) -> None:
    """A regular member's bytes into `fd`; a sparse member's data pieces at their offsets, its holes left holes."""
    if pieces := _sparse_pieces(member):
        source = tar.fileobj
        if source is None:
            raise InvalidParameter(f"cannot read sparse tar entry {shown(member.name)}")
        source.seek(member.offset_data)
        for offset, size in pieces:
            os.lseek(fd, offset, os.SEEK_SET)
            _copy(source, fd, size, member)
        os.ftruncate(fd, member.size)
        return
    data = tar.extractfile(member)
    if data is None:
        raise InvalidParameter(f"cannot read tar entry {shown(member.name)}")
    while chunk := data.read(_COPY_CHUNK):
        _write_all(fd, chunk)


def _copy(source: ByteSource, fd: int, size: int, member: tarfile.TarInfo) -> None:
    """Copy exactly `size` bytes from `source` to `fd`."""
    while size > 0:
        chunk = source.read(min(size, _COPY_CHUNK))
        if not chunk:
            raise InvalidParameter(f"unexpected end of data in tar entry {shown(member.name)}")
        _write_all(fd, chunk)
        size -= len(chunk)


def _sparse_pieces(member: tarfile.TarInfo) -> list[tuple[int, int]]:
    """A sparse member's (offset, size) data pieces; empty for any other member."""
    # typeshed declares TarInfo.sparse as `bytes | None`; tarfile sets it to a list of (offset, size) pairs
    return member.sparse or []  # type: ignore[return-value]


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until every byte is written."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
