"""A container's file system as its processes see it, for cp: the root file system with the container's volumes,
binds and /etc/{hosts,hostname,resolv.conf} mounted on it, assembled in a private scratch directory."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from dockyard.containers import subpath
from dockyard.containers.mountspec import explicit_specs
from dockyard.containers.record import ContainerRecord
from dockyard.errors import SystemError_
from dockyard.util import linux as L
from dockyard.util.inroot import fd_path, open_in_root, open_root
from dockyard.util.tarsafe import SafeExtractor

ETC_FILES = (("HostsPath", "/etc/hosts"), ("HostnamePath", "/etc/hostname"), ("ResolvConfPath", "/etc/resolv.conf"))


@dataclass
class MountedPath:
    """One mount of the view: where it lands (container path and host path) and whether it is writable."""

    destination: str
    host_path: Path
    rw: bool


@dataclass
class FileView:
    """The assembled file system: `root` stands for the container's "/"."""

    root: Path
    mounts: list[MountedPath] = field(default_factory=list)

    def mount_of(self, host_path: Path) -> MountedPath | None:
        """The innermost mount holding `host_path` (a path already resolved inside `root`), or None."""
        best: MountedPath | None = None
        for mounted in self.mounts:
            if host_path == mounted.host_path or mounted.host_path in host_path.parents:
                if best is None or len(mounted.host_path.parts) > len(best.host_path.parts):
                    best = mounted
        return best


def view_sources(doc: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(destination, host source, writable) for every volume and bind of the container (its inspect JSON) whose
    source exists (tmpfs mounts have no host side) and the daemon's /etc files it did not replace, parents first."""
    sources = [(p["Destination"], p["Source"], bool(p.get("RW", True)))
               for p in doc.get("Mounts") or [] if p.get("Type") in ("volume", "bind")]
    taken = {dest.rstrip("/") for dest, _, _ in sources}
    sources += [(destination, doc.get(key) or "", True) for key, destination in ETC_FILES if destination not in taken]
    present = [s for s in sources if s[1] and os.path.exists(s[1])]
    return sorted(present, key=lambda s: (s[0].rstrip("/").count("/"), s[0]))


@contextlib.contextmanager
def mounted_view(rootfs: Path, doc: ContainerRecord, scratch: Path) -> Iterator[FileView]:
    """Bind `rootfs` at a fresh private directory under `scratch`, mount the container's volumes, binds and /etc
    files on it (destinations resolved inside it, as the runtime does), yield the view, then detach it all."""
    target = scratch / f"{doc.id[:12]}-view-{secrets.token_hex(4)}"
    target.mkdir(parents=True, mode=0o700)
    target = Path(os.path.realpath(target))  # secure_join answers with real paths
    try:
        L.mount(str(rootfs), str(target), None, L.MS_BIND)
        try:
            L.mount(None, str(target), None, L.MS_PRIVATE)
            view = FileView(target)
            subpaths = {s.target: s.subpath for s in explicit_specs(doc.host_config) if s.subpath}
            for destination, source, rw in view_sources(doc.to_json()):
                if destination in subpaths:  # only that part of the volume, resolved inside it as at start
                    fd = subpath.open_subpath(Path(source), subpaths[destination])
                    try:
                        view.mounts.append(_mount_one(target, destination, f"/proc/self/fd/{fd}", rw))
                    finally:
                        os.close(fd)
                else:
                    view.mounts.append(_mount_one(target, destination, source, rw))
            yield view
        finally:
            L.umount2(str(target), L.MNT_DETACH)  # the whole subtree goes with it
    finally:
        target.rmdir()


def _mount_one(root: Path, destination: str, source: str, rw: bool) -> MountedPath:
    """Bind `source` at `destination` resolved inside `root` by the kernel (made as docker does when missing,
    through descriptors, so a running container swapping a symlink in cannot make the daemon create or mount
    anything outside); the mount goes through an O_PATH descriptor of the resolved mount point."""
    is_dir = os.path.isdir(source)
    with SafeExtractor(root) as maker:
        parent, leaf = maker.parent(destination.strip("/"))
        try:
            if is_dir:
                os.mkdir(leaf, 0o755, dir_fd=parent)
            else:
                os.close(os.open(leaf, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                                 dir_fd=parent))
        except FileExistsError:
            pass  # whatever is there (a symlink too) is resolved inside the root below
    resolved = _mount_at(root, destination, lambda point: L.mount(source, point, None, L.MS_BIND | L.MS_REC))
    if not rw:  # the new mount is reached by resolving again: the first descriptor names what lies below it
        _mount_at(root, destination,
                  lambda point: L.mount(None, point, None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | L.MS_REC))
    return MountedPath(destination, resolved, rw)


def _mount_at(root: Path, destination: str, mount: Callable[[str], None]) -> Path:
    """Resolve `destination` inside `root` by the kernel and mount on it through its O_PATH descriptor."""
    root_fd = open_root(root)
    try:
        fd = open_in_root(root_fd, destination, os.O_PATH)
    finally:
        os.close(root_fd)
    try:
        resolved = fd_path(fd)
        if root not in resolved.parents:
            raise SystemError_(f"mount point {destination} resolved outside the view ({resolved})")
        mount(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
    return resolved
