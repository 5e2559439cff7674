"""Reach a container's files from the daemon: its record, its root file system (mounted if need be), its events."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

from dockyard.containers.fsview import FileView, mounted_view
from dockyard.containers.protocols import EventPublisher, RecordedContainers, RootfsSnapshots
from dockyard.containers.record import ContainerRecord
from dockyard.errors import SystemError_

MOUNTS_DIR = "mounts"


class ContainerAccess:
    """What cp, export, diff, commit and stats need from the container service, the snapshotter and the bus."""

    def __init__(self, containers: RecordedContainers, snapshots: RootfsSnapshots, events: EventPublisher) -> None:
        self.containers = containers
        self.snapshots = snapshots
        self.events = events

    def doc(self, ref: str) -> ContainerRecord:
        """The container's record with its GraphDriver (NotFound for an unknown name or id)."""
        return self.containers.record(ref)

    def publish(self, doc: ContainerRecord, action: str, **extra: str) -> None:
        """A container event with docker's attributes: labels, image, name, then `extra`."""
        attributes = dict(doc.config.get("Labels") or {})
        attributes.update(image=doc.config.get("Image", ""), name=doc.name.lstrip("/"), **extra)
        self.events.publish("container", action, doc.id, attributes)

    def upper_and_lowers(self, doc: ContainerRecord) -> tuple[Path, list[Path]]:
        """The container's writable layer and its image's layer directories (top-most first)."""
        data = doc.graph_driver["Data"]
        lowers = [Path(p) for p in data["LowerDir"].split(":") if p]
        return Path(data["UpperDir"]), lowers

    @contextlib.contextmanager
    def rootfs(self, doc: ContainerRecord) -> Iterator[Path]:
        """The merged root file system: bundle/rootfs while running, else a temporary overlay mount."""
        container_id = doc.id
        bundle = self.containers.bundle(container_id)
        running = bundle / "rootfs"
        if doc.state.running:
            if not os.path.ismount(running):
                raise SystemError_(f"the root file system of container {container_id} is not mounted")
            yield running
            return
        target = self._scratch(doc) / f"{container_id[:12]}-{secrets.token_hex(4)}"
        target.mkdir(parents=True, mode=0o700)
        try:
            self.snapshots.mount_container(container_id, target)
            try:
                yield target
            finally:
                self.snapshots.unmount(target)
        finally:
            target.rmdir()

    @contextlib.contextmanager
    def files(self, doc: ContainerRecord) -> Iterator[FileView]:
        """What cp sees: the root file system with the container's volumes, binds and /etc files mounted on it
        (export, diff and commit use `rootfs`, which has none of them, as docker's do)."""
        with self.rootfs(doc) as rootfs, mounted_view(rootfs, doc, self._scratch(doc)) as view:
            yield view

    def _scratch(self, doc: ContainerRecord) -> Path:
        """The directory temporary mounts of this daemon go under."""
        return self.containers.bundle(doc.id).parent.parent / MOUNTS_DIR
