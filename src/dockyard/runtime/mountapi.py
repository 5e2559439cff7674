"""ctypes wrappers over the new mount API (open_tree, mount_setattr, fsopen/fsconfig/fsmount, move_mount):
detached mounts made with host privileges that a container in a user namespace attaches later."""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# x86_64 syscall numbers (the same on every architecture since 5.x for these).
_SYS_OPEN_TREE = 428
_SYS_MOVE_MOUNT = 429
_SYS_FSOPEN = 430
_SYS_FSCONFIG = 431
_SYS_FSMOUNT = 432
_SYS_MOUNT_SETATTR = 442

AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
MOVE_MOUNT_F_EMPTY_PATH = 0x4
FSOPEN_CLOEXEC = 1
FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR_IDMAP = 0x100000


class _MountAttr(ctypes.Structure):
    """struct mount_attr."""

    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _check(ret: int, what: str) -> int:
    """Raise OSError with errno when a syscall returned -1."""
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def clone_tree(path: str, recursive: bool) -> int:
    """open_tree(OPEN_TREE_CLONE): a detached copy of the mount (tree) at `path`, as a file descriptor."""
    flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    return _check(_libc.syscall(_SYS_OPEN_TREE, AT_FDCWD, os.fsencode(path), flags), f"open_tree {path}")


def idmap(mount_fd: int, userns_fd: int) -> None:
    """mount_setattr(MOUNT_ATTR_IDMAP): ids seen through the detached mount follow the user namespace's maps."""
    attr = _MountAttr(MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
    _check(_libc.syscall(_SYS_MOUNT_SETATTR, mount_fd, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)),
           "mount_setattr idmap")


def new_mount(fstype: str, options: dict[str, str], attrs: int = 0) -> int:
    """fsopen + fsconfig + fsmount: a detached new filesystem mount, as a file descriptor."""
    fs_fd = _check(_libc.syscall(_SYS_FSOPEN, fstype.encode(), FSOPEN_CLOEXEC), f"fsopen {fstype}")
    try:
        for key, value in options.items():
            _check(_libc.syscall(_SYS_FSCONFIG, fs_fd, FSCONFIG_SET_STRING, key.encode(), value.encode(), 0),
                   f"fsconfig {fstype} {key}")
        _check(_libc.syscall(_SYS_FSCONFIG, fs_fd, FSCONFIG_CMD_CREATE, None, None, 0), f"fsconfig {fstype} create")
        return _check(_libc.syscall(_SYS_FSMOUNT, fs_fd, FSMOUNT_CLOEXEC, attrs), f"fsmount {fstype}")
    finally:
        os.close(fs_fd)


def attach(mount_fd: int, target: str) -> None:
    """move_mount a detached mount onto `target`."""
    _check(_libc.syscall(_SYS_MOVE_MOUNT, mount_fd, b"", AT_FDCWD, os.fsencode(target), MOVE_MOUNT_F_EMPTY_PATH),
           f"move_mount {target}")
