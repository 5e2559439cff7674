"""The volume service: create, inspect, list, remove and prune local volumes; references and mounts by containers."""

from __future__ import annotations

import builtins
import logging
import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable

from dockyard.errors import Conflict, DockyardError, InvalidParameter, NotFound, SystemError_
from dockyard.events.publisher import EventPublisher
from dockyard.metadata.db import MetadataDB
from dockyard.util import linux as L
from dockyard.util.filters import check_keys, match_label
from dockyard.util.fsutil import disk_usage
from dockyard.volumes.copyup import copy_tree
from dockyard.volumes.drivers import VolumeDriver, VolumeDrivers
from dockyard.volumes.mountinfo import mounts_under, unmount_all
from dockyard.volumes.options import mount_data, string_map, validate_name, validate_options
from dockyard.volumes.store import VolumeStore, in_use

log = logging.getLogger(__name__)

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
LOCAL = "local"
LIST_FILTERS = ("dangling", "name", "label", "driver")
PRUNE_FILTERS = ("label", "label!", "all")
_TRASH_PREFIX = ".trash-"
_TRUE, _FALSE = ("true", "1"), ("false", "0")


class VolumeService:
    """Volumes: local ones keep their data in <root>/<name>/_data, those of a volume plugin where the plugin says;
    records and container references in the metadata db."""

    def __init__(self, root: Path, db: MetadataDB, events: EventPublisher, drivers: VolumeDrivers | None = None) -> None:
        self.root = root
        self._store = VolumeStore(db)
        self._events = events
        self._drivers = drivers
        self._lock = threading.RLock()
        self._mounted: dict[str, set[str]] = {}
        self._mountpoints: dict[str, Path] = {}  # plugin volumes mounted for a container: where, on the host
        root.mkdir(parents=True, exist_ok=True, mode=0o701)
        self._recover()

    def _recover(self) -> None:
        """After a crash: finish interrupted removals; give every recorded volume its data directory."""
        for entry in os.scandir(self.root):
            if entry.name.startswith(_TRASH_PREFIX):
                unmount_all(Path(entry.path))
                shutil.rmtree(entry.path)
        for doc, _users in self._store.all():
            if doc["Driver"] == LOCAL:
                self._data(doc["Name"]).mkdir(parents=True, exist_ok=True, mode=0o755)

    def _data(self, name: str) -> Path:
        return self.root / name / "_data"

    def _driver(self, name: str) -> VolumeDriver:
        """The volume plugin called `name`; dockerd's NotFound when there is none."""
        if self._drivers is None:
            raise NotFound(f'error looking up volume plugin {name}: plugin "{name}" not found')
        return self._drivers.volume_driver(name)

    def _size(self, doc: dict[str, Any]) -> int:
        """Bytes a local volume holds; -1 for a plugin's (dockerd sizes local volumes only)."""
        return disk_usage(self._data(doc["Name"])) if doc["Driver"] == LOCAL else -1

    def driver_users(self, is_driver: Callable[[str], bool]) -> list[str]:
        """Names of the volumes whose driver `is_driver` accepts (a plugin in use cannot be disabled)."""
        return [doc["Name"] for doc, _users in self._store.all() if is_driver(doc["Driver"])]

    # ----- views ---------------------------------------------------------------------------------

    def _view(self, doc: dict[str, Any], driver: VolumeDriver | None = None) -> dict[str, Any]:
        """Docker's Volume object; a plugin's volume has the mount point and scope its driver reports."""
        mountpoint, scope = str(self._data(doc["Name"])), LOCAL
        if driver is not None:
            mountpoint, scope = driver.path(doc["Name"]), driver.scope()
        return {"CreatedAt": doc["CreatedAt"], "Driver": doc["Driver"], "Labels": doc["Labels"],
                "Mountpoint": mountpoint, "Name": doc["Name"], "Options": doc["Options"], "Scope": scope}

    def _listed(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The view of a listed volume; one whose plugin cannot answer is still listed, without a mount point."""
        if doc["Driver"] == LOCAL:
            return self._view(doc)
        try:
            return self._view(doc, self._driver(doc["Driver"]))
        except DockyardError as unreachable:
            log.warning("volume %s: %s", doc["Name"], unreachable.message)
            return {**self._view(doc), "Mountpoint": ""}

    def inspect(self, name: str) -> dict[str, Any]:
        """GET /volumes/{name}; a plugin's volume also shows the Status its driver gives."""
        found = self._store.get(name)
        if found is None:
            raise NotFound(f"get {name}: no such volume")
        doc = found[0]
        if doc["Driver"] == LOCAL:
            return self._view(doc)
        driver = self._driver(doc["Driver"])
        view = self._view(doc, driver)
        status = driver.get(name).get("Status")
        return {**view, "Status": status} if status else view

    def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        """GET /volumes with docker's filters (dangling, name, label, driver)."""
        check_keys(filters, LIST_FILTERS)
        dangling = _bool_filter(filters, "dangling")
        out = []
        for doc, users in self._store.all():
            if dangling is not None and dangling == bool(users):
                continue
            if filters.get("name") and not any(n in doc["Name"] for n in filters["name"]):
                continue
            if filters.get("driver") and doc["Driver"] not in filters["driver"]:
                continue
            if not match_label(doc["Labels"], filters.get("label", [])):
                continue
            out.append(self._listed(doc))
        return out

    def usage(self) -> builtins.list[dict[str, Any]]:
        """Every volume with UsageData {Size, RefCount} (for /system/df)."""
        out = []
        for doc, users in self._store.all():
            view = self._listed(doc)
            view["UsageData"] = {"Size": self._size(doc), "RefCount": len(users)}
            out.append(view)
        return out

    def users(self, name: str) -> builtins.list[str]:
        """Ids of the containers that reference a volume."""
        found = self._store.get(name)
        return found[1] if found else []

    def is_anonymous(self, name: str) -> bool:
        found = self._store.get(name)
        return found is not None and ANONYMOUS_LABEL in (found[0]["Labels"] or {})

    # ----- create / remove -----------------------------------------------------------------------

    def create(self, name: str | None = None, driver: str | None = None, driver_opts: Any = None,
               labels: Any = None, anonymous: bool = False, user: str | None = None) -> dict[str, Any]:
        """POST /volumes/create: a new volume, or the existing one of that name (as docker answers).

        With `user` (a container being created) the volume is referenced by it in the same transaction."""
        driver = driver or LOCAL
        plugin = None if driver == LOCAL else self._driver(driver)
        if labels is not None and not (isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())):
            raise InvalidParameter("json: cannot unmarshal into Go struct field CreateOptions.Labels of type "
                                   "map[string]string")
        options = validate_options(driver_opts) if plugin is None else string_map(driver_opts)
        if not name:
            anonymous = True  # dockerd: a volume created without a name is anonymous
        name = validate_name(name) if name else secrets.token_hex(32)
        if anonymous:
            labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
        doc = {"Name": name, "Driver": driver, "Labels": labels, "Options": options,
               "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with self._lock:
            existing = self._store.get(name)
            if existing is not None:
                return self._listed(self._store.add_user(name, user) if user else existing[0])
            if plugin is None:
                self._data(name).mkdir(parents=True, exist_ok=True, mode=0o755)
                os.chmod(self._data(name).parent, 0o701)
            else:
                plugin.create(name, options or {})
            self._store.insert(doc, [user] if user else [])
        self._events.publish("volume", "create", name, {"driver": driver})
        return self._view(doc, plugin)

    def remove(self, name: str, force: bool = False) -> None:
        """DELETE /volumes/{name}: 409 while any container references it; `force` ignores a missing volume."""
        with self._lock:
            found = self._store.get(name)
            if found is None and force:
                return
            if found is not None and found[0]["Driver"] != LOCAL:
                self._remove_from_plugin(found[0], found[1], force)
                return
            if found is not None and not found[1]:
                unmount_all(self.root / name)  # an options volume no container holds any more
            doc = self._store.delete_unused(name)
            self._mounted.pop(name, None)
            trash = self.root / f"{_TRASH_PREFIX}{secrets.token_hex(8)}"
            os.rename(self.root / name, trash)
        unmount_all(trash)
        shutil.rmtree(trash)
        self._events.publish("volume", "destroy", name, {"driver": doc["Driver"]})

    def _remove_from_plugin(self, doc: dict[str, Any], users: builtins.list[str], force: bool) -> None:
        """A plugin's volume: the plugin removes its data, then the record goes; `force` drops the record even
        when the plugin cannot (dockerd's purge)."""
        name = doc["Name"]
        if users:
            raise in_use(name, users)
        try:
            self._driver(doc["Driver"]).remove(name)
        except DockyardError as refused:
            if not force:
                raise
            log.warning("volume %s purged although its plugin failed: %s", name, refused.message)
        self._store.delete_unused(name)
        self._events.publish("volume", "destroy", name, {"driver": doc["Driver"]})

    def prune(self, filters: dict[str, builtins.list[str]]) -> dict[str, Any]:
        """POST /volumes/prune: unused anonymous volumes (every unused one with all=true) the labels select."""
        check_keys(filters, PRUNE_FILTERS)
        everything = bool(_bool_filter(filters, "all"))
        deleted, reclaimed = [], 0
        for doc, users in list(self._store.all()):
            labels = doc["Labels"] or {}
            if users or (not everything and ANONYMOUS_LABEL not in labels):
                continue
            if not match_label(labels, filters.get("label", [])):
                continue
            if any(match_label(labels, [expr]) for expr in filters.get("label!", [])):
                continue
            size = max(self._size(doc), 0)
            try:
                self.remove(doc["Name"])
            except (NotFound, Conflict) as gone:  # removed or taken by a container meanwhile
                log.info("prune skipped volume %s: %s", doc["Name"], gone.message)
                continue
            deleted.append(doc["Name"])
            reclaimed += size
        self._events.publish("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ----- use by containers ---------------------------------------------------------------------

    def acquire(self, name: str, container_id: str) -> dict[str, Any]:
        """Record that a container references a volume (NotFound when it does not exist)."""
        with self._lock:
            return self._view(self._store.add_user(name, container_id))

    def release(self, name: str, container_id: str) -> None:
        """Drop a container's reference to a volume."""
        with self._lock:
            self._store.remove_user(name, container_id)

    def keep_users(self, live: set[str]) -> None:
        """Forget references held by containers that no longer exist."""
        with self._lock:
            self._store.keep_users(live)

    def drop_unrecorded_users(self, recorded: set[str]) -> builtins.list[str]:
        """Forget references of containers without a record; remove the anonymous volumes that had only such
        references (made for a create that a crash cut short). Returns the names removed."""
        with self._lock:
            orphaned = self._store.keep_users(recorded)
            removed = []
            for name in orphaned:
                if not self.is_anonymous(name):
                    continue
                try:
                    self.remove(name)
                except (NotFound, Conflict) as kept:
                    log.info("anonymous volume %s kept: %s", name, kept.message)
                    continue
                removed.append(name)
        return removed

    def mount(self, name: str, container_id: str) -> Path:
        """The data directory for a starting container; an options volume (tmpfs, bind) is mounted on first use,
        a plugin's volume is mounted by its plugin (once for each container, as dockerd asks it)."""
        with self._lock:
            found = self._store.get(name)
            if found is None:
                raise NotFound(f"get {name}: no such volume")
            options = found[0]["Options"]
            holders = self._mounted.setdefault(name, set())
            data = self._data(name)
            if found[0]["Driver"] != LOCAL:
                data = self._mountpoints[name] = self._driver(found[0]["Driver"]).mount(name, container_id)
            elif options and not holders and not mounts_under(data):
                source, fstype, flags, is_bind = mount_data(options)
                try:
                    if is_bind:
                        L.mount(source, str(data), None, L.MS_BIND | L.MS_REC)
                    else:
                        L.mount(source, str(data), fstype, 0, flags or None)
                except OSError as exc:
                    raise SystemError_(f"error while mounting volume '{data}': {exc}") from exc
            holders.add(container_id)
        self._events.publish("volume", "mount", name, {"driver": found[0]["Driver"], "container": container_id})
        return data

    def unmount(self, name: str, container_id: str) -> None:
        """A container stopped: unmount an options volume once no running container holds it."""
        with self._lock:
            holders = self._mounted.get(name)
            if holders is None or container_id not in holders:
                return
            holders.discard(container_id)
            found = self._store.get(name)
            driver = found[0]["Driver"] if found else LOCAL
            if driver != LOCAL:
                try:
                    self._driver(driver).unmount(name, container_id)
                except DockyardError as failed:  # a stopping container is not held back (dockerd warns too)
                    log.warning("volume %s: unmount for container %s failed: %s", name, container_id, failed.message)
            if not holders:
                self._mounted.pop(name)
                if driver == LOCAL:
                    unmount_all(self._data(name))
                else:
                    self._mountpoints.pop(name, None)
        self._events.publish("volume", "unmount", name, {"driver": driver, "container": container_id})

    def copy_up(self, name: str, source: Path) -> None:
        """Fill an empty volume with an image directory's content (ownership and modes kept)."""
        with self._lock:
            data = self._mountpoints.get(name, self._data(name))
            if not source.is_dir() or source.is_symlink() or any(os.scandir(data)):
                return
            copy_tree(source, data)


def _bool_filter(filters: dict[str, list[str]], key: str) -> bool | None:
    """A true/false filter (`dangling`, `all`); docker's error for other values."""
    values = filters.get(key)
    if not values:
        return None
    value = values[-1].lower()
    if value not in _TRUE + _FALSE:
        raise InvalidParameter(f"invalid filter '{key}={values[-1]}'")
    return value in _TRUE
