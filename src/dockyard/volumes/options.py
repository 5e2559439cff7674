"""Validation of volume names and of the local driver's options (type, device, o), in docker's words."""

from __future__ import annotations

import re
from typing import Any

from dockyard.errors import InvalidParameter

_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
NAME_MAX = 255  # the volume's directory under <data-root>/volumes is named after it
_LOCAL_OPTIONS = ("type", "device", "o", "size")
_SIZE = re.compile(r"(\d+)([kKmMgG]?)\Z")


def validate_name(name: str) -> str:
    """The local driver's name rules: two or more of [a-zA-Z0-9_.-], starting alphanumeric."""
    if len(name) < 2:
        raise InvalidParameter("volume name is too short, names should be at least two alphanumeric characters")
    if len(name.encode("utf-8", "surrogatepass")) > NAME_MAX:
        raise InvalidParameter(f'volume name "{name[:32]}..." is too long: at most {NAME_MAX} bytes')
    if not _NAME.match(name):
        raise InvalidParameter(f'"{name}" includes invalid characters for a local volume name, only '
                               '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                               "use absolute path")
    return name


def string_map(options: Any) -> dict[str, str] | None:
    """DriverOpts as any driver takes them: a map of strings (None when empty)."""
    if options is None or options == {}:
        return None
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        raise InvalidParameter("json: cannot unmarshal into Go struct field CreateOptions.DriverOpts of type "
                               "map[string]string")
    return options


def validate_options(options: Any) -> dict[str, str] | None:
    """Check DriverOpts for the local driver: known keys, a device for binds, a size tmpfs understands."""
    options = string_map(options)
    if options is None:
        return None
    for key in options:
        if key not in _LOCAL_OPTIONS:
            raise InvalidParameter(f'invalid option: "{key}"')
    kind, device, flags = options.get("type", ""), options.get("device", ""), options.get("o", "")
    if device and not kind:
        raise InvalidParameter('missing required option: "type"')
    if "bind" in flags.split(",") and not device:
        raise InvalidParameter('missing required option: "device"')
    if kind and kind not in ("tmpfs", "none") and not device:
        raise InvalidParameter('missing required option: "device"')
    if kind == "none" and "bind" not in flags.split(","):
        raise InvalidParameter(f'invalid option: type "none" needs "o=bind" (got o="{flags}")')
    if kind == "none" and not device.startswith("/"):
        raise InvalidParameter(f"invalid device for a bind volume: {device!r} must be an absolute path")
    if "size" in options and not _SIZE.match(options["size"]):
        raise InvalidParameter(f'invalid size: "{options["size"]}"')
    return dict(options)


def mount_data(options: dict[str, str]) -> tuple[str, str, str, bool]:
    """(source, fstype, data, is_bind) for mounting an options volume on its _data directory."""
    kind, device = options.get("type", ""), options.get("device", "")
    flags = [f for f in options.get("o", "").split(",") if f]
    if "size" in options and kind == "tmpfs":
        flags.append(f"size={options['size']}")
    if "bind" in flags:
        return device, "", "", True
    return device or kind, kind, ",".join(flags), False
