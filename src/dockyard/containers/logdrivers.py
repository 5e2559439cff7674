"""The log drivers a container may name in HostConfig.LogConfig, with dockerd's checks and words.

`json-file` (the default, also for an empty or null Type) and `local` keep the output in the container's
json-file log (`local` is stored in the same format here; `docker logs` reads both alike); `none` keeps
nothing, so `docker logs` refuses and attach takes the output live from the shim.
"""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidParameter

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

