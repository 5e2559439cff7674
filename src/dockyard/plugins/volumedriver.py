"""A volume plugin as the volume service sees it (volumes.drivers.VolumeDriver): /VolumeDriver.* calls, with the
paths the plugin answers inside its rootfs mapped to the host's, as dockerd's ScopedPath does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dockyard.plugins.transport import PluginClient, PluginError


class PluginVolumeDriver:
    """The volume driver of one enabled plugin."""

    def __init__(self, client: PluginClient, rootfs: Path, propagated_mount: str, propagated: Path) -> None:
        self._client = client
        self._rootfs = rootfs
        self._propagated_mount = propagated_mount.rstrip("/")
        self._propagated = propagated

    def scoped(self, path: str) -> str:
        """A path inside the plugin on the host: under the propagated mount's host directory when it lies below
        the PropagatedMount, else under the rootfs; `..` never leads out of either."""
        inside = os.path.normpath("/" + path.lstrip("/"))  # normpath keeps a leading "//"
        mount = self._propagated_mount
        if mount and (inside == mount or inside.startswith(mount + "/")):
            return os.path.normpath(f"{self._propagated}/{inside[len(mount):]}")
        return os.path.normpath(f"{self._rootfs}/{inside}")

    def create(self, name: str, options: dict[str, str]) -> None:
        self._client.call("VolumeDriver.Create", {"Name": name, "Opts": options})

    def remove(self, name: str) -> None:
        self._client.call("VolumeDriver.Remove", {"Name": name})

    def mount(self, name: str, mount_id: str) -> Path:
        answer = self._client.call("VolumeDriver.Mount", {"Name": name, "ID": mount_id})
        return Path(self.scoped(str(answer.get("Mountpoint") or "")))

    def unmount(self, name: str, mount_id: str) -> None:
        self._client.call("VolumeDriver.Unmount", {"Name": name, "ID": mount_id})

    def path(self, name: str) -> str:
        return self.scoped(str(self._client.call("VolumeDriver.Path", {"Name": name}).get("Mountpoint") or ""))

    def get(self, name: str) -> dict[str, Any]:
        volume = self._client.call("VolumeDriver.Get", {"Name": name}).get("Volume")
        return volume if isinstance(volume, dict) else {}

    def scope(self) -> str:
        """The driver's scope; `local` when it does not answer /VolumeDriver.Capabilities (dockerd's default)."""
        try:
            capabilities = self._client.call("VolumeDriver.Capabilities", {}).get("Capabilities")
        except PluginError:
            return "local"
        scope = capabilities.get("Scope") if isinstance(capabilities, dict) else None
        return scope if scope in ("local", "global") else "local"
