"""User namespaces: the shim creates one and writes its id maps; the container init prepares host-side mounts
while still host root (idmapped overlay layers, bind sources, proc, sysfs) and then joins it, so every namespace
it creates afterwards belongs to the container's user namespace. The pid namespace stays the shim's (owned by the
host's user namespace): Linux offers no handle on a pid namespace before its init exists."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from dockyard.runtime import mountapi as M
from dockyard.util import linux as L

_MS_TO_ATTR = ((L.MS_RDONLY, M.MOUNT_ATTR_RDONLY), (L.MS_NOSUID, M.MOUNT_ATTR_NOSUID),
               (L.MS_NODEV, M.MOUNT_ATTR_NODEV), (L.MS_NOEXEC, M.MOUNT_ATTR_NOEXEC))


def wants_user_namespace(spec: dict[str, Any]) -> bool:
    """Whether the spec asks for a new user namespace."""
    return any(ns["type"] == "user" for ns in spec.get("linux", {}).get("namespaces", []))


def id_map_text(mappings: list[dict[str, int]]) -> str:
    """The uid_map/gid_map file content for OCI id mappings."""
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings)


def create_user_namespace(spec: dict[str, Any]) -> int:
    """Shim side: fork a helper that unshares a user namespace, write its uid/gid maps from here (as host root,
    so setgroups stays allowed), return an open handle on it and let the helper go."""
    linux = spec.get("linux", {})
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        code = 1
        try:
            os.close(ready_r)
            os.close(hold_w)
            L.unshare(L.CLONE_NEWUSER)
            os.write(ready_w, b"1")
            os.read(hold_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(hold_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise OSError("could not create the container's user namespace")
        for name, key in (("uid_map", "uidMappings"), ("gid_map", "gidMappings")):
            with open(f"/proc/{helper}/{name}", "w") as f:
                f.write(id_map_text(linux.get(key, [])))
        user_fd = os.open(f"/proc/{helper}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(hold_w)
        os.close(ready_r)
        os.waitpid(helper, 0)
    return user_fd


def join_user_namespace(user_fd: int) -> None:
    """setns into the user namespace and become its root (full capabilities there, none over the host)."""
    L.setns(user_fd, L.CLONE_NEWUSER)
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def setns_all(fds: list[tuple[int, int]]) -> None:
    """setns into each (fd, CLONE_NEW* flag) in order; joining a user namespace (keep it last) makes us its root."""
    for fd, flag in fds:
        if flag == L.CLONE_NEWUSER:
            join_user_namespace(fd)
        else:
            L.setns(fd, flag)


def _unescape(field_: str) -> str:
    """Undo mountinfo's octal escapes (\\040 for a space...)."""
    return field_.encode().decode("unicode_escape") if "\\" in field_ else field_


def overlay_layers(mount_point: str) -> tuple[list[str], str, str]:
    """(lower dirs, upper dir, work dir) of the overlay mounted at `mount_point`, from /proc/self/mountinfo."""
    target = os.path.realpath(mount_point)
    found: dict[str, str] | None = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if _unescape(fields[4]) == target and fields[sep + 1] == "overlay":
                found = dict(opt.split("=", 1) for opt in fields[sep + 3].split(",") if "=" in opt)
    if not found or "upperdir" not in found:
        raise OSError(f"no writable overlay mounted at {mount_point}")
    lowers = [_unescape(p) for p in found["lowerdir"].split(":")]
    return lowers, _unescape(found["upperdir"]), _unescape(found["workdir"])


def _idmapped(path: str, user_fd: int) -> int:
    """A detached, idmapped copy of the directory at `path`."""
    fd = M.clone_tree(path, recursive=False)
    try:
        M.idmap(fd, user_fd)
    except OSError:
        os.close(fd)
        raise
    return fd


def _new_mount_as(uid: int, gid: int, fstype: str, options: dict[str, str]) -> int:
    """new_mount with file-access ids uid/gid (capabilities kept): overlayfs does its upper-layer work with
    its creator's credentials, which must be mapped through idmapped layers."""
    L.setfsids(uid, gid)
    try:
        _, permitted, inheritable = L.capget()
        L.capset(permitted, permitted, inheritable)  # setfsuid dropped the file capabilities from the effective set
        return M.new_mount(fstype, options)
    finally:
        L.setfsids(0, 0)


def host_root_ids(spec: dict[str, Any]) -> tuple[int, int]:
    """Host uid and gid that the container's root maps to."""
    linux = spec.get("linux", {})
    ids = []
    for key in ("uidMappings", "gidMappings"):
        ids.append(next(m["hostID"] for m in linux.get(key, []) if m["containerID"] == 0))
    return ids[0], ids[1]


def idmapped_overlay(rootfs: str, user_fd: int, root_ids: tuple[int, int]) -> int:
    """A detached overlay over idmapped copies of the layers of the overlay at `rootfs`, made with the container
    root's host ids: files stay owned by their unshifted ids on disk while the container sees them mapped."""
    lowers, upper, work = overlay_layers(rootfs)
    parent = os.path.dirname(upper)
    if os.path.dirname(work) != parent:
        raise OSError(f"upper and work directories of {rootfs} do not share a parent")
    fds = [_idmapped(lower, user_fd) for lower in lowers]
    try:
        fds.append(_idmapped(parent, user_fd))
        options = {
            "lowerdir": ":".join(f"/proc/self/fd/{fd}" for fd in fds[:-1]),
            "upperdir": f"/proc/self/fd/{fds[-1]}/{os.path.basename(upper)}",
            "workdir": f"/proc/self/fd/{fds[-1]}/{os.path.basename(work)}",
            "index": "off",
        }
        return _new_mount_as(*root_ids, "overlay", options)
    finally:
        for fd in fds:
            os.close(fd)


def mount_attrs(flags: int) -> int:
    """MOUNT_ATTR_* bits for the MS_* flags fsmount understands."""
    return sum(attr for ms, attr in _MS_TO_ATTR if flags & ms)


@dataclass
class PreparedMounts:
    """Detached mounts made with host privileges, attached after the container joined its user namespace:
    the rootfs, and by index in spec["mounts"] bind sources, proc and sysfs (for a joined network namespace)."""

    rootfs: int
    mounts: dict[int, int] = field(default_factory=dict)
