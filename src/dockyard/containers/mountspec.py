"""Parse and validate a container's mounts (-v Binds, --mount Mounts, --tmpfs, VolumesFrom, image VOLUMEs)."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from typing import Any, Callable

from dockyard.containers.record import MountPoint
from dockyard.containers.subpath import is_local
from dockyard.errors import InvalidParameter
from dockyard.volumes.options import validate_name

PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_ACCESS = ("ro", "rw")
_LABELING = ("z", "Z")
_RESERVED = ("/proc",)


@dataclass
class MountSpec:
    """One requested mount, before volumes are created or anything is mounted."""

    type: str                       # "volume", "bind" or "tmpfs"
    target: str
    source: str = ""                # volume name ("" = anonymous) or absolute host path
    read_only: bool = False
    mode: str = ""                  # docker's Mode string as inspect shows it
    propagation: str = ""
    nocopy: bool = False
    nonrecursive: bool = False
    create_source: bool = False     # -v creates a missing host directory; --mount refuses
    tmpfs_options: list[str] = field(default_factory=list)
    driver: str = ""                # a volume's driver ("" = local, or the existing volume's)
    driver_opts: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    listed: bool = True             # shown in inspect's Mounts (docker leaves --tmpfs out)
    subpath: str = ""               # VolumeOptions.Subpath: mount only this part of the volume


def clean_target(path: str, raw: str) -> str:
    """An absolute, normalised container path; no `..`, not `/`, nothing under /proc."""
    if not path.startswith("/"):
        raise InvalidParameter(f"invalid volume specification: '{raw}': invalid mount path: '{path}' "
                               "mount path must be absolute")
    if ".." in path.split("/"):
        raise InvalidParameter(f"invalid volume specification: '{raw}': invalid mount path: '{path}' "
                               "mount path must not contain '..'")
    clean = posixpath.normpath(path).replace("//", "/")
    if clean == "/":
        raise InvalidParameter("invalid specification: destination can't be '/'")
    check_reserved(clean)
    return clean


def check_reserved(path: str) -> None:
    """Refuse container paths the runtime owns (/proc and below)."""
    for reserved in _RESERVED:
        if path == reserved or path.startswith(reserved + "/"):
            raise InvalidParameter(f"invalid mount path: '{path}' is reserved by the runtime")


def _parse_mode(mode: str, raw: str, kind: str) -> tuple[bool, str, bool]:
    """(read_only, propagation, nocopy) from "ro,Z,rshared,nocopy"; docker's "invalid mode" otherwise."""
    seen: dict[str, str] = {}
    for part in mode.split(","):
        group = ("access" if part in _ACCESS else "label" if part in _LABELING else
                 "propagation" if part in PROPAGATIONS else "copy" if part == "nocopy" else "")
        if not group or group in seen or (group == "propagation" and kind != "bind") or \
                (group == "copy" and kind != "volume"):
            raise InvalidParameter(f"invalid mode: {mode}")
        seen[group] = part
    return seen.get("access") == "ro", seen.get("propagation", ""), "copy" in seen


def parse_bind(raw: str, volume_driver: str = "") -> MountSpec:
    """One `-v` value: `/path`, `name:/path[:mode]` or `/host:/path[:mode]`; volumes get `volume_driver`."""
    parts = raw.split(":")
    if len(parts) == 1:
        return MountSpec("volume", clean_target(parts[0], raw), driver=volume_driver)
    if len(parts) == 2 and all(p in _ACCESS + _LABELING + PROPAGATIONS + ("nocopy",) for p in parts[1].split(",")):
        raise InvalidParameter(f"invalid volume specification: '{raw}'")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidParameter(f"invalid volume specification: '{raw}'")
    source, target = parts[0], clean_target(parts[1], raw)
    mode = parts[2] if len(parts) == 3 else ""
    kind = "bind" if source.startswith("/") else "volume"
    read_only, propagation, nocopy = _parse_mode(mode, raw, kind) if mode else (False, "", False)
    if kind == "bind":
        if ".." in source.split("/"):
            raise InvalidParameter(f"invalid volume specification: '{raw}': bind source must not contain '..'")
        return MountSpec("bind", target, posixpath.normpath(source), read_only, mode,
                         propagation or "rprivate", create_source=True)
    return MountSpec("volume", target, validate_name(source), read_only, mode or "z", nocopy=nocopy,
                     driver=volume_driver)


def _mount_error(kind: str, text: str) -> InvalidParameter:
    return InvalidParameter(f'invalid mount config for type "{kind}": {text}')


def _obj(value: Any, kind: str, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _mount_error(kind, f"field {name} must be an object")
    return value


def parse_mount(m: Any) -> MountSpec:
    """One HostConfig.Mounts entry (`--mount`), validated with docker's messages."""
    if not isinstance(m, dict):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HostConfig.Mounts of type mount.Mount")
    kind = m.get("Type") or ""
    target, source = m.get("Target") or "", m.get("Source") or ""
    if kind not in ("volume", "bind", "tmpfs"):
        raise _mount_error(kind, "mount type unknown")
    if not target:
        raise _mount_error(kind, "field Target must not be empty")
    target = clean_target(target, target)
    bind_opts = _obj(m.get("BindOptions"), kind, "BindOptions")
    volume_opts = _obj(m.get("VolumeOptions"), kind, "VolumeOptions")
    tmpfs_opts = _obj(m.get("TmpfsOptions"), kind, "TmpfsOptions")
    for name, given, allowed in (("BindOptions", bind_opts, "bind"), ("VolumeOptions", volume_opts, "volume"),
                                 ("TmpfsOptions", tmpfs_opts, "tmpfs")):
        if given and kind != allowed:
            raise _mount_error(kind, f"field {name} must not be specified")
    read_only = bool(m.get("ReadOnly"))
    if kind == "bind":
        return _parse_bind_mount(source, target, read_only, bind_opts)
    if kind == "tmpfs":
        if source:
            raise _mount_error(kind, "field Source must not be specified")
        return MountSpec("tmpfs", target, read_only=read_only, tmpfs_options=tmpfs_options(tmpfs_opts))
    driver = _obj(volume_opts.get("DriverConfig"), kind, "VolumeOptions.DriverConfig")
    subpath = volume_opts.get("Subpath") or ""
    if subpath and not source:
        raise _mount_error(kind, "must not set Subpath when using anonymous volumes")
    if subpath and not is_local(subpath):
        raise _mount_error(kind, "subpath must be a relative path within the volume")
    return MountSpec("volume", target, validate_name(source) if source else "", read_only, "z",
                     nocopy=bool(volume_opts.get("NoCopy")), driver=str(driver.get("Name") or ""),
                     driver_opts=driver.get("Options") or None, labels=volume_opts.get("Labels") or None,
                     subpath=subpath)


def _parse_bind_mount(source: str, target: str, read_only: bool, opts: dict[str, Any]) -> MountSpec:
    """A `--mount type=bind`: the source must exist (docker creates it only for `-v`)."""
    if not source:
        raise _mount_error("bind", "field Source must not be empty")
    if not source.startswith("/"):
        raise _mount_error("bind", f"invalid mount path: '{source}' mount path must be absolute")
    if ".." in source.split("/"):
        raise _mount_error("bind", f"invalid mount path: '{source}' mount path must not contain '..'")
    propagation = opts.get("Propagation") or "rprivate"
    if propagation not in PROPAGATIONS:
        raise _mount_error("bind", f"invalid propagation mode: {propagation}")
    if not os.path.exists(source) and not opts.get("CreateMountpoint"):
        raise _mount_error("bind", f"bind source path does not exist: {source}")
    return MountSpec("bind", target, posixpath.normpath(source), read_only, "", propagation,
                     nonrecursive=bool(opts.get("NonRecursive")), create_source=bool(opts.get("CreateMountpoint")))


def tmpfs_options(opts: dict[str, Any]) -> list[str]:
    """OCI options for a tmpfs from docker's TmpfsOptions {SizeBytes, Mode}."""
    out = ["nosuid", "nodev", "noexec"]
    size, mode = opts.get("SizeBytes"), opts.get("Mode")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _mount_error("tmpfs", f"invalid tmpfs size: {size!r}")
        if size:
            out.append(f"size={size}")
    if mode is not None:
        if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o7777:
            raise _mount_error("tmpfs", f"invalid tmpfs mode: {mode!r}")
        out.append(f"mode={mode:o}")
    return out


def parse_tmpfs(path: str, options: Any) -> MountSpec:
    """One HostConfig.Tmpfs entry: path -> "size=64m,mode=1777,..."."""
    if not isinstance(options, str):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HostConfig.Tmpfs of type string")
    target = clean_target(path, path)
    extra = [o for o in options.split(",") if o]
    return MountSpec("tmpfs", target, read_only="ro" in extra, tmpfs_options=["noexec", "nosuid", "nodev"] + extra,
                     listed=False)


def parse_volumes_from(raw: str) -> tuple[str, str]:
    """`container[:ro|rw]` -> (container, mode)."""
    name, _, mode = raw.partition(":")
    if not name or mode not in ("", "ro", "rw"):
        raise InvalidParameter(f"invalid mode: {mode}" if name else f"invalid volumes-from: '{raw}'")
    return name, mode


def from_mount_point(point: MountPoint, mode: str) -> MountSpec:
    """A mount inherited through VolumesFrom; `mode` ro/rw overrides the source container's."""
    read_only = not point.rw if not mode else mode == "ro"
    return MountSpec(point.type, point.destination, point.name or point.source or "",
                     read_only, mode or point.mode, point.propagation, nocopy=True)


def volume_driver(host: dict[str, Any]) -> str:
    """HostConfig.VolumeDriver: the driver of the volumes -v and the image's VOLUMEs create."""
    driver = host.get("VolumeDriver") or ""
    if not isinstance(driver, str):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HostConfig.VolumeDriver of type string")
    return driver


def explicit_specs(host: dict[str, Any]) -> list[MountSpec]:
    """The mounts a create request names itself: Binds, Mounts and Tmpfs."""
    mounts = host.get("Mounts") or []
    tmpfs = host.get("Tmpfs") or {}
    if not isinstance(mounts, list):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HostConfig.Mounts of type []mount.Mount")
    if not isinstance(tmpfs, dict):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HostConfig.Tmpfs of type map[string]string")
    return [parse_bind(b, volume_driver(host)) for b in host.get("Binds") or []] + \
        [parse_mount(m) for m in mounts] + \
        [parse_tmpfs(path, opts) for path, opts in tmpfs.items()]


def plan(host: dict[str, Any], image_volumes: dict[str, Any] | None,
         mounts_of: Callable[[str], list[MountPoint]]) -> list[MountSpec]:
    """Every mount of a new container by target: VolumesFrom, then -v, --mount, --tmpfs, then image VOLUMEs."""
    by_target: dict[str, MountSpec] = {}
    for raw in host.get("VolumesFrom") or []:
        if not isinstance(raw, str):
            raise InvalidParameter("json: cannot unmarshal into Go struct field HostConfig.VolumesFrom of type string")
        name, mode = parse_volumes_from(raw)
        for point in mounts_of(name):
            by_target[point.destination] = from_mount_point(point, mode)
    explicit: set[str] = set()
    for spec in explicit_specs(host):
        if spec.target in explicit:
            raise InvalidParameter(f"Duplicate mount point: {spec.target}")
        explicit.add(spec.target)
        by_target[spec.target] = spec
    for path in image_volumes or {}:
        target = posixpath.normpath(path) if path.startswith("/") else ""
        if target and target not in by_target:
            check_reserved(target)
            by_target[target] = MountSpec("volume", clean_target(target, path), driver=volume_driver(host))
    return sorted(by_target.values(), key=lambda s: (s.target.count("/"), s.target))
