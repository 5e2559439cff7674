"""Daemon settings from the command line and a docker-style daemon.json."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
DEFAULT_CONFIG_FILE = Path("/etc/dockyard/daemon.json")
KNOWN_KEYS = {"hosts", "data-root", "exec-root", "log-level", "pidfile", "debug", "insecure-registries",
              "registry-mirrors", "default-address-pools", "dns", "dns-search", "dns-opts", "labels",
              "max-extract-file-size"}


class ConfigError(Exception):
    """The daemon cannot start with these settings."""


@dataclass
class DaemonConfig:
    """Everything the daemon needs to know before it wires its services."""

    hosts: list[str] = field(default_factory=lambda: [DEFAULT_HOST])
    data_root: Path = Path("/var/lib/dockyard")
    exec_root: Path = Path("/run/dockyard")
    pidfile: Path | None = None
    log_level: str = "info"
    raw: dict[str, Any] = field(default_factory=dict)
    config_file: Path | None = None  # re-read on SIGHUP
    max_extract_file_size: int | None = None  # bytes: the largest file an archive may bring (Dockyard's own key)

    @property
    def pidfile_path(self) -> Path:
        return self.pidfile or self.exec_root / "dockyard.pid"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyard daemon", description="Run the Dockyard daemon")
    p.add_argument("-H", "--host", action="append", dest="hosts", help="daemon socket(s) to listen on")
    p.add_argument("--data-root", help="root of persistent state (default /var/lib/dockyard)")
    p.add_argument("--exec-root", help="root of runtime state (default /run/dockyard)")
    p.add_argument("--config-file", help=f"daemon configuration file (default {DEFAULT_CONFIG_FILE})")
    p.add_argument("-l", "--log-level", choices=["debug", "info", "warn", "error", "fatal"])
    p.add_argument("-D", "--debug", action="store_true", help="enable debug mode")
    p.add_argument("-p", "--pidfile", help="path of the pid file (default EXEC_ROOT/dockyard.pid)")
    return p


def load(argv: list[str]) -> DaemonConfig:
    """Merge flags over daemon.json; a setting given in both places is an error, as in docker."""
    args = parser().parse_args(argv)
    path = Path(args.config_file) if args.config_file else DEFAULT_CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as bad:
            raise ConfigError(f"invalid daemon configuration file {path}: {bad}") from bad
        if not isinstance(raw, dict):
            raise ConfigError(f"invalid daemon configuration file {path}: not a JSON object")
    elif args.config_file:
        raise ConfigError(f"open {path}: no such file or directory")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise ConfigError("the following directives don't match any configuration option: " + ", ".join(unknown))
    flags = {"hosts": args.hosts, "data-root": args.data_root, "exec-root": args.exec_root,
             "log-level": args.log_level, "pidfile": args.pidfile}
    clashes = sorted(k for k, v in flags.items() if v is not None and k in raw)
    if clashes:
        raise ConfigError("the following directives are specified both as a flag and in the configuration file: "
                          + ", ".join(clashes))
    merged = {**raw, **{k: v for k, v in flags.items() if v is not None}}
    config = DaemonConfig(raw=raw, config_file=path)
    if merged.get("hosts"):
        config.hosts = list(merged["hosts"])
    if merged.get("data-root"):
        config.data_root = Path(merged["data-root"])
    if merged.get("exec-root"):
        config.exec_root = Path(merged["exec-root"])
    if merged.get("pidfile"):
        config.pidfile = Path(merged["pidfile"])
    config.log_level = "debug" if args.debug or merged.get("debug") else merged.get("log-level") or "info"
    if "max-extract-file-size" in merged:
        limit = merged["max-extract-file-size"]
        if type(limit) is not int or limit <= 0:
            raise ConfigError("max-extract-file-size must be a positive number of bytes")
        config.max_extract_file_size = limit
    return config
