"""SIGHUP: re-read daemon.json, apply the settings that may change at run time, publish a daemon `reload` event."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

from dockyard.daemon.config import KNOWN_KEYS, DaemonConfig

log = logging.getLogger("dockyard.daemon")

# Settings that only take effect at start-up (docker ignores them on reload too).
STARTUP_ONLY = frozenset({"hosts", "data-root", "exec-root", "pidfile"})
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR,
           "fatal": logging.CRITICAL}


class ReloadError(Exception):
    """daemon.json cannot be used; the running settings are kept."""


def read_file(config: DaemonConfig) -> dict[str, Any]:
    """The configuration file's object (empty when the daemon runs without one)."""
    path = config.config_file
    if path is None or not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as bad:
        raise ReloadError(f"invalid daemon configuration file {path}: {bad}") from bad
    if not isinstance(raw, dict):
        raise ReloadError(f"invalid daemon configuration file {path}: not a JSON object")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise ReloadError("the following directives don't match any configuration option: " + ", ".join(unknown))
    return raw


def apply(config: DaemonConfig, raw: dict[str, Any]) -> None:
    """Replace the reloadable settings in place (the system service reads config.raw) and the log level."""
    for key in [k for k in config.raw if k not in STARTUP_ONLY]:
        del config.raw[key]
    config.raw.update({k: v for k, v in raw.items() if k not in STARTUP_ONLY})
    config.log_level = "debug" if raw.get("debug") else raw.get("log-level") or "info"
    logging.getLogger().setLevel(_LEVELS.get(config.log_level, logging.INFO))


def attributes(config: DaemonConfig) -> dict[str, str]:
    """The reload event's attributes, docker-style: settings as strings plus the host's name."""
    raw = config.raw
    return {"debug": json.dumps(bool(raw.get("debug"))), "labels": json.dumps(raw.get("labels") or []),
            "insecure-registries": json.dumps(raw.get("insecure-registries") or []),
            "registry-mirrors": json.dumps(raw.get("registry-mirrors") or []), "name": socket.gethostname()}


def reload_config(config: DaemonConfig, events: Any, engine_id: str) -> None:
    """The SIGHUP handler: a bad file is logged and changes nothing, as in docker."""
    try:
        raw = read_file(config)
    except ReloadError as bad:
        log.error("Error reconfiguring the daemon: %s", bad)
        return
    apply(config, raw)
    log.info("reloaded the daemon configuration from %s", config.config_file)
    events.publish("daemon", "reload", engine_id, attributes(config))
