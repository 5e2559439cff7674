"""Temporary writable snapshots for build steps: prepare above a parent layer, mount, unmount, remove."""

from __future__ import annotations

import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from dockyard.snapshots.overlay import Snapshotter


class StepRootfs:
    """A writable overlay above `chain_id`, mounted at `mountpoint` while in use; its upper dir is the step's diff."""

    def __init__(self, snapshots: Snapshotter, chain_id: str | None, work_root: Path) -> None:
        self.snapshots = snapshots
        self.key = "build-" + secrets.token_hex(16)
        self.dir = work_root / self.key
        self.mountpoint = self.dir / "rootfs"
        self.dir.mkdir(parents=True)
        snapshots.prepare_container(self.key, chain_id)

    def mount(self) -> Path:
        """Mount the overlay and return the rootfs path."""
        self.snapshots.mount_container(self.key, self.mountpoint)
        return self.mountpoint

    def unmount(self) -> None:
        """Detach the overlay (no error when not mounted)."""
        self.snapshots.unmount(self.mountpoint)

    @property
    def upper(self) -> Path:
        """What the step changed."""
        return self.snapshots.container_upper(self.key)

    def remove(self) -> None:
        """Unmount and delete the snapshot and the step's directory."""
        self.unmount()
        self.snapshots.remove_container(self.key)
        shutil.rmtree(self.dir)


@contextmanager
def step_rootfs(snapshots: Snapshotter, chain_id: str | None, work_root: Path) -> Iterator[StepRootfs]:
    """A StepRootfs that is always removed afterwards."""
    step = StepRootfs(snapshots, chain_id, work_root)
    try:
        yield step
    finally:
        step.remove()


@contextmanager
def mounted_image(snapshots: Snapshotter, chain_id: str | None, work_root: Path) -> Iterator[Path]:
    """An image's filesystem mounted (writes are thrown away) for reading COPY --from and bind sources."""
    with step_rootfs(snapshots, chain_id, work_root) as step:
        yield step.mount()
