"""The log drivers a container may name in HostConfig.LogConfig, with dockerd's checks and words.

`json-file` (the default, also for an empty or null Type) and `local` keep the output in the container's
json-file log (`local` is stored in the same format here; `docker logs` reads both alike); `none` keeps
nothing, so `docker logs` refuses and attach takes the output live from the shim. Both rotate by max-size,
max-file and compress with each driver's defaults and checks; as in dockerd, the option names are checked at
create and their values when the logger starts (`docker start` fails with "failed to initialize logging driver").
"""

from __future__ import annotations

import re
from typing import Any

from dockyard.errors import InvalidParameter, SystemError_
from dockyard.runtime.jsonlog import Rotation
from dockyard.util.gostrconv import parse_bool
from dockyard.util.humanize import from_human_size

DEFAULT = "json-file"
NONE = "none"
# the options each driver accepts (dockerd's ValidateLogOpt); None: anything (dockerd skips the check)
_OPTIONS: dict[str, frozenset[str] | None] = {
    "json-file": frozenset({"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex",
                            "tag"}),
    "local": frozenset({"max-size", "max-file", "compress"}),
    NONE: None,
}


def validate_log_config(value: Any) -> dict[str, Any]:
    """HostConfig.LogConfig checked at create: a known driver and its own options; the default filled in."""
    value = value or {}
    driver = value.get("Type") or DEFAULT
    if driver not in _OPTIONS:
        raise InvalidParameter(f"logger: no log driver named '{driver}' is registered")
    options = dict(value.get("Config") or {})
    allowed = _OPTIONS[driver]
    if allowed is not None:
        for key in sorted(options):
            if key not in allowed:
                raise InvalidParameter(f"unknown log opt '{key}' for {driver} log driver")
    return {"Type": driver, "Config": options}


def keeps_logs(log_config: dict[str, Any] | None) -> bool:
    """Whether the container's output is kept in its log file (every driver but none)."""
    return (log_config or {}).get("Type") != NONE



_LOCAL_DEFAULTS = Rotation(max_size=20 * 1024 * 1024, max_file=5, compress=True)  # dockerd's local driver
_GO_INT = re.compile(r"[+-]?[0-9]+")


def rotation_of(log_config: dict[str, Any] | None) -> Rotation:
    """How the shim rotates the log, checked as dockerd's driver does when it starts (jsonfilelog.New, local.New)."""
    config = log_config or {}
    options = config.get("Config") or {}
    if config.get("Type") == NONE:
        return Rotation()
    try:
        if config.get("Type") == "local":
            return _local_rotation(options)
        return _json_file_rotation(options)
    except ValueError as bad:
        raise SystemError_(f"failed to initialize logging driver: {bad}") from None


def _json_file_rotation(options: dict[str, str]) -> Rotation:
    size = from_human_size(options["max-size"]) if "max-size" in options else -1
    if "max-size" in options and size <= 0:
        raise ValueError("max-size must be a positive number")
    files = _atoi(options["max-file"]) if "max-file" in options else 1
    if files < 1:
        raise ValueError("max-file cannot be less than 1")
    compress = parse_bool(options["compress"]) if "compress" in options else False
    if compress and (files == 1 or size == -1):
        raise ValueError("compress cannot be true when max-file is less than 2 or max-size is not set")
    return Rotation(max(size, 0), files, compress)


def _local_rotation(options: dict[str, str]) -> Rotation:
    size, files, compress = _LOCAL_DEFAULTS.max_size, _LOCAL_DEFAULTS.max_file, _LOCAL_DEFAULTS.compress
    if "max-size" in options:
        try:
            size = from_human_size(options["max-size"])
        except ValueError as bad:
            raise ValueError(f"invalid value for max-size: {options['max-size']}: {bad}") from None
    if "max-file" in options:
        try:
            files = _atoi(options["max-file"])
        except ValueError as bad:
            raise ValueError(f"invalid value for max-file: {options['max-file']}: {bad}") from None
    if "compress" in options:
        try:
            compress = parse_bool(options["compress"])
        except ValueError as bad:
            raise ValueError(f"error reading compress log option: {bad}") from None
    if size < 0:
        raise ValueError("max size should be a positive number")
    if files < 0:
        raise ValueError("max file count cannot be less than 0")
    if compress and files <= 1:
        raise ValueError("compression cannot be enabled when max file count is 1")
    return Rotation(size, max(files, 1), compress)


def _atoi(text: str) -> int:
    """Go's strconv.Atoi, with its error."""
    if not _GO_INT.fullmatch(text):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)
