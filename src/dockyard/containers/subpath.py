"""A volume's subpath (`--mount type=volume,...,volume-subpath=`), resolved as dockerd's safepath does: the kernel
resolves it below the volume's directory (openat2 RESOLVE_BENEATH: an absolute symlink or a ".." that leaves the
volume is refused, even while a container swaps components), and the descriptor it opened is bind-mounted at a
scratch mount point (/proc/self/fd/N), so what the container gets is what was checked (no TOCTOU)."""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from pathlib import Path

from dockyard.errors import InvalidParameter, NotFound, SystemError_
from dockyard.util import linux
from dockyard.util.inroot import open_beneath


def is_local(subpath: str) -> bool:
    """Go's filepath.IsLocal on Linux: not empty, not absolute, and no ".." that leaves it once cleaned."""
    if not subpath or subpath.startswith("/"):
        return False
    clean = posixpath.normpath(subpath)
    return clean != ".." and not clean.startswith("../")


def open_subpath(volume_dir: Path, subpath: str) -> int:
    """An O_PATH descriptor of `subpath` resolved by the kernel below the volume's directory (the caller closes
    it; `/proc/self/fd/N` names exactly what was checked)."""
    base = os.open(volume_dir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        return open_beneath(base, subpath, os.O_PATH)
    except OSError as failed:
        raise _refusal(volume_dir, subpath, failed) from None
    finally:
        os.close(base)


def mount_subpath(volume_dir: Path, subpath: str, scratch: Path) -> Path:
    """Bind `subpath` of the volume at a new mount point in `scratch`; the caller unmounts it (`release`)."""
    fd = open_subpath(volume_dir, subpath)
    try:
        scratch.mkdir(mode=0o700, exist_ok=True)
        point = scratch / str(len(os.listdir(scratch)))
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            point.mkdir(mode=0o700)
        else:
            point.touch(mode=0o600, exist_ok=False)
        linux.mount(f"/proc/self/fd/{fd}", str(point), None, linux.MS_BIND)
    finally:
        os.close(fd)
    return point


def release(scratch: Path) -> None:
    """Unmount and remove every subpath mount point in `scratch` (the container has its own mounts by now)."""
    if not scratch.is_dir():
        return
    for point in scratch.iterdir():
        try:
            linux.umount2(str(point), linux.MNT_DETACH)
        except OSError as failed:
            if failed.errno != errno.EINVAL:  # EINVAL: made but never mounted (a start cut short)
                raise
        if point.is_dir():
            point.rmdir()
        else:
            point.unlink()
    scratch.rmdir()


def _refusal(volume_dir: Path, subpath: str, failed: OSError) -> Exception:
    """dockerd's errors (daemon/volume/safepath): an escape is a 400, a missing or looping path a 404."""
    reason = os.strerror(failed.errno or 0).lower()
    if failed.errno == errno.EXDEV:
        return InvalidParameter(f"path concatenation escapes the base directory, base: {volume_dir}, "
                                f"subpath: {subpath}")
    if failed.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
        return NotFound(f"cannot access path {posixpath.join(str(volume_dir), subpath)}: {reason}")
    return SystemError_(f"openat2 {subpath}: {reason}")
