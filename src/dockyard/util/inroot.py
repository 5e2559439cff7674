"""Open paths inside a root directory with the kernel doing the resolving: openat2(2) with RESOLVE_IN_ROOT, so
every component (symlinks and ".." included) stays inside the root even while someone swaps them."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

_SYS_OPENAT2 = 437  # the same number on every architecture (added after the syscall tables were unified)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_BENEATH = 0x08
_RESOLVE_IN_ROOT = 0x10
_RETRIES = 16

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def open_root(root: Path | str) -> int:
    """A directory descriptor for `root` itself (the caller closes it)."""
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def open_in_root(root_fd: int, path: str, flags: int, mode: int = 0) -> int:
    """Open `path` as if `root_fd` were "/" (absolute symlinks and ".." cannot climb out); magic links refused.

    Raises OSError as open(2) would (ENOENT, ENOTDIR, ELOOP for a final symlink with O_NOFOLLOW...)."""
    return _openat2(root_fd, path, flags, mode, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)


def open_beneath(dir_fd: int, path: str, flags: int) -> int:
    """Open `path` below `dir_fd`, refusing (EXDEV) any resolution that leaves it: an absolute symlink or a ".."
    above it, even while someone swaps components; relative symlinks that stay below are followed."""
    return _openat2(dir_fd, path, flags, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)


def _openat2(dir_fd: int, path: str, flags: int, mode: int, resolve: int) -> int:
    """openat2(2), retried on EAGAIN (a concurrent rename raced a ".." lookup) and EINTR."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    encoded = os.fsencode(path.lstrip("/") or ".")
    for _ in range(_RETRIES):
        fd = _libc.syscall(_SYS_OPENAT2, dir_fd, encoded, ctypes.byref(how), ctypes.sizeof(how))
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)


def fd_path(fd: int) -> Path:
    """The path the kernel has for an open descriptor (informational: never open it again by this name)."""
    return Path(os.readlink(f"/proc/self/fd/{fd}"))
