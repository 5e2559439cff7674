"""A container's mounts end to end: plan at create (volumes made and referenced), OCI mounts at start, release at rm."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

from dockyard.containers import subpath
from dockyard.containers.mountspec import MountSpec, check_reserved, explicit_specs, from_mount_point, plan
from dockyard.containers.protocols import VolumeMounts
from dockyard.containers.record import ContainerRecord, MountPoint
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.util.securejoin import secure_join

log = logging.getLogger(__name__)


class MountManager:
    """Turns create requests into docker's MountPoints and MountPoints into OCI mounts, using the volume service."""

    def __init__(self, volumes: VolumeMounts) -> None:
        self._volumes = volumes

    # ----- create ---------------------------------------------------------------------------------

    def prepare(self, container_id: str, config: dict[str, Any], host: dict[str, Any],
                lookup: Callable[[str], ContainerRecord]) -> list[MountPoint]:
        """Validate every mount, create and reference its volumes; docker's `Mounts` for inspect.

        Nothing is left behind when this fails.
        """
        specs = plan(host, config.get("Volumes"), lambda ref: lookup(ref).mounts)
        points: list[MountPoint] = []
        try:
            for spec in specs:
                points.append(self._point(container_id, spec))
        except BaseException:
            self.release(container_id, points, remove_anonymous=True)
            raise
        return [p for p, spec in zip(points, specs) if spec.listed]

    def _point(self, container_id: str, spec: MountSpec) -> MountPoint:
        """One MountPoint in docker's shape; volumes are created (when new) and referenced."""
        if spec.type == "volume":
            # made and referenced in one transaction: a crash cannot leave a volume nobody references
            volume = self._volumes.create(spec.source or None, spec.driver or None, spec.driver_opts, spec.labels,
                                          anonymous=not spec.source, user=container_id)
            return MountPoint(type="volume", name=volume["Name"], source=volume["Mountpoint"], destination=spec.target,
                              driver=volume["Driver"], mode=spec.mode, rw=not spec.read_only, propagation="")
        if spec.type == "bind" and spec.create_source and not os.path.exists(spec.source):
            os.makedirs(spec.source, mode=0o755, exist_ok=True)
        return MountPoint(type=spec.type, source=spec.source, destination=spec.target, mode=spec.mode,
                          rw=not spec.read_only, propagation=spec.propagation)

    # ----- start / stop ---------------------------------------------------------------------------

    def oci_mounts(self, doc: ContainerRecord, rootfs: Path, scratch: Path) -> list[dict[str, Any]]:
        """OCI mount entries for a starting container: volumes mounted and filled from the image when new; a
        volume's subpath is bind-mounted in `scratch` until the container has its mounts (`subpath.release`)."""
        extras = {s.target: s for s in explicit_specs(doc.host_config)}
        listed = {p.destination for p in doc.mounts}
        specs = [_with_extras(from_mount_point(p, ""), extras.get(p.destination)) for p in doc.mounts]
        specs += [s for s in extras.values() if not s.listed and s.target not in listed]
        specs.sort(key=lambda s: (s.target.count("/"), s.target))
        mounted: list[str] = []
        try:
            return [self._oci(doc.id, spec, rootfs, mounted, scratch) for spec in specs]
        except BaseException:
            subpath.release(scratch)
            for name in mounted:
                self._volumes.unmount(name, doc.id)
            raise

    def _oci(self, container_id: str, spec: MountSpec, rootfs: Path, mounted: list[str],
             scratch: Path) -> dict[str, Any]:
        """One OCI mount; the destination must resolve inside the rootfs, not onto it or /proc."""
        resolved = secure_join(rootfs, spec.target)
        rel = os.path.relpath(resolved, os.path.realpath(rootfs))
        inside = "/" if rel == "." else "/" + rel
        if inside == "/":
            raise InvalidParameter(f"invalid mount destination {spec.target}: it resolves to the container's root")
        check_reserved(inside)
        access = ["ro"] if spec.read_only else []
        if spec.type == "tmpfs":
            return {"destination": spec.target, "type": "tmpfs", "source": "tmpfs",
                    "options": spec.tmpfs_options + access}
        if spec.type == "volume":
            data = self._volumes.mount(spec.source, container_id)
            mounted.append(spec.source)
            if spec.subpath:  # dockerd copies the image's files into the subpath; that is not done here
                data = subpath.mount_subpath(Path(data), spec.subpath, scratch)
            elif not spec.nocopy:
                self._volumes.copy_up(spec.source, resolved)
            return {"destination": spec.target, "type": "bind", "source": str(data),
                    "options": ["rbind", "rprivate"] + access}
        if spec.create_source and not os.path.exists(spec.source):
            os.makedirs(spec.source, mode=0o755, exist_ok=True)
        if not os.path.exists(spec.source):
            raise InvalidParameter(f'invalid mount config for type "bind": bind source path does not exist: '
                                   f"{spec.source}")
        return {"destination": spec.target, "type": "bind", "source": spec.source,
                "options": ["bind" if spec.nonrecursive else "rbind", spec.propagation or "rprivate"] + access}

    def stopped(self, doc: ContainerRecord) -> None:
        """A container stopped: unmount the options volumes (tmpfs, bind) it was the last to use."""
        for point in doc.mounts:
            if point.volume is not None:
                self._volumes.unmount(point.volume, doc.id)

    # ----- remove ---------------------------------------------------------------------------------

    def reconcile(self, records: list[ContainerRecord], recorded: Any) -> None:
        """At daemon start: every recorded container references its volumes again (a crash inside `rm` may
        have dropped them before the record), references of containers without a record are dropped, and
        anonymous volumes only those referenced are removed: they were made by a create that never got
        recorded (a crash during create)."""
        for doc in records:
            for point in doc.mounts:
                if point.volume is not None:
                    try:
                        self._volumes.acquire(point.volume, doc.id)
                    except NotFound:
                        log.info("container %s: volume %s is gone", doc.id[:12], point.volume)
        for name in self._volumes.drop_unrecorded_users(set(recorded)):
            log.info("removed anonymous volume %s of a container that was never recorded", name)

    def release(self, container_id: str, points: list[MountPoint], remove_anonymous: bool) -> None:
        """Drop the container's volume references; remove its anonymous volumes when asked and unused."""
        for point in points:
            name = point.volume
            if name is None:
                continue
            self._volumes.release(name, container_id)
            if remove_anonymous and self._volumes.is_anonymous(name):
                try:
                    self._volumes.remove(name)
                except (Conflict, NotFound) as kept:  # another container still uses it, as docker allows
                    log.info("anonymous volume %s kept: %s", name, kept.message)


def merge_mounts(user: list[dict[str, Any]], defaults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The container's mounts plus the daemon's own (/etc/hosts ...) that the user did not replace, parents first."""
    taken = {m["destination"] for m in user}
    merged = user + [m for m in defaults if m["destination"] not in taken]
    return sorted(merged, key=lambda m: m["destination"].rstrip("/").count("/"))


def _with_extras(spec: MountSpec, extra: MountSpec | None) -> MountSpec:
    """Options inspect's MountPoint does not keep (nocopy, non-recursive binds, tmpfs size/mode) from the request."""
    spec.nocopy = "nocopy" in spec.mode.split(",") or bool(extra and extra.nocopy)
    if extra is not None and extra.type == spec.type:
        spec.nonrecursive = extra.nonrecursive
        spec.tmpfs_options = extra.tmpfs_options
        spec.create_source = extra.create_source
        spec.subpath = extra.subpath
    return spec
