"""What the volume service needs from volume drivers other than `local` (volume plugins): the seam the daemon
fills with the plugin service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class VolumeDriver(Protocol):
    """One volume plugin's /VolumeDriver.* calls; paths are the host's (the plugin's own mapped out)."""

    def create(self, name: str, options: dict[str, str]) -> None: ...

    def remove(self, name: str) -> None: ...

    def mount(self, name: str, mount_id: str) -> Path: ...

    def unmount(self, name: str, mount_id: str) -> None: ...

    def path(self, name: str) -> str: ...

    def get(self, name: str) -> dict[str, Any]: ...

    def scope(self) -> str: ...


class VolumeDrivers(Protocol):
    """The enabled volume plugins, by the name a volume was created with."""

    def volume_driver(self, name: str) -> VolumeDriver: ...
