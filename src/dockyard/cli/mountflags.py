"""run/create's -v, --mount, --tmpfs and --volumes-from flags turned into Binds, Mounts, Tmpfs and Config.Volumes."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError
from dockyard.cli.flags import Flag

MOUNT_FLAGS = [
    Flag("mount", "", "list", help="Attach a filesystem mount to the container", metavar="mount"),
    Flag("tmpfs", "", "list", help="Mount a tmpfs directory", metavar="list"),
    Flag("volume", "v", "list", help="Bind mount a volume"),
    Flag("volumes-from", "", "list", help="Mount volumes from the specified container(s)"),
]
_TRUE = ("", "1", "true")
_FALSE = ("0", "false")


def apply_mounts(o: dict[str, Any], config: dict[str, Any]) -> None:
    """Add the mount flags to a create body the way docker's CLI does."""
    host = config.setdefault("HostConfig", {})
    binds: list[str] = []
    volumes: dict[str, dict[str, object]] = {}
    for raw in o["volume"]:
        spec = _absolute_source(raw)
        if ":" in spec:
            binds.append(spec)
        else:
            volumes[spec] = {}
    if binds:
        host["Binds"] = binds
    if volumes:
        config["Volumes"] = volumes
    if o["mount"]:
        host["Mounts"] = [parse_mount_flag(m) for m in o["mount"]]
    if o["tmpfs"]:
        host["Tmpfs"] = {path: options for path, _, options in (t.partition(":") for t in o["tmpfs"])}
    if o["volumes_from"]:
        host["VolumesFrom"] = list(o["volumes_from"])


def _absolute_source(raw: str) -> str:
    """`-v ./data:/d` names a host path relative to the current directory; docker makes it absolute."""
    import os
    source, sep, rest = raw.partition(":")
    if sep and (source in (".", "..") or source.startswith(("./", "../"))):
        return os.path.abspath(source) + sep + rest
    return raw


def _bool(key: str, value: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise CommandError(f'invalid argument "{value}" for "--mount" flag: invalid value for {key}: {value}', 125)


def parse_mount_flag(text: str) -> dict[str, Any]:
    """docker's --mount CSV (type=volume|bind|tmpfs, source, target, readonly, volume-*, bind-*, tmpfs-*)."""
    from dockyard.util.humanize import parse_size
    mount: dict[str, Any] = {"Type": "volume"}
    for field in text.split(","):
        key, sep, value = field.partition("=")
        key = key.strip().lower()
        if key == "type":
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = value
        elif key in ("target", "dst", "destination"):
            mount["Target"] = value
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = _bool(key, value)
        elif key == "consistency":
            mount["Consistency"] = value
        elif key == "bind-propagation":
            mount.setdefault("BindOptions", {})["Propagation"] = value
        elif key == "bind-nonrecursive":
            mount.setdefault("BindOptions", {})["NonRecursive"] = _bool(key, value)
        elif key == "volume-nocopy":
            mount.setdefault("VolumeOptions", {})["NoCopy"] = _bool(key, value)
        elif key == "volume-driver":
            mount.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-label":
            name, _, val = value.partition("=")
            mount.setdefault("VolumeOptions", {}).setdefault("Labels", {})[name] = val
        elif key == "volume-opt":
            name, _, val = value.partition("=")
            driver = mount.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})
            driver.setdefault("Options", {})[name] = val
        elif key == "tmpfs-size":
            try:
                mount.setdefault("TmpfsOptions", {})["SizeBytes"] = parse_size(value)
            except ValueError as exc:
                raise CommandError(f'invalid argument "{text}" for "--mount" flag: {exc}', 125) from None
        elif key == "tmpfs-mode":
            try:
                mount.setdefault("TmpfsOptions", {})["Mode"] = int(value, 8)
            except ValueError:
                raise CommandError(f'invalid argument "{text}" for "--mount" flag: invalid tmpfs-mode', 125) from None
        else:
            raise CommandError(f'invalid argument "{text}" for "--mount" flag: unexpected key \'{key}\' in '
                               f"'{field}'", 125)
        if not sep and key not in ("readonly", "ro", "bind-nonrecursive", "volume-nocopy"):
            raise CommandError(f'invalid argument "{text}" for "--mount" flag: invalid field \'{field}\' must be a '
                               "key=value pair", 125)
    return mount
