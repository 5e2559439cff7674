"""Daemon settings from the command line and a docker-style daemon.json."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.util.gostrconv import parse_bool

DEFAULT_HOST = "unix:///run/dockyard/dockyard.sock"
DEFAULT_CONFIG_FILE = Path("/etc/dockyard/daemon.json")
KNOWN_KEYS = {"hosts", "data-root", "exec-root", "log-level", "pidfile", "debug", "insecure-registries",
              "registry-mirrors", "default-address-pools", "dns", "dns-search", "dns-opts", "labels",
              "max-extract-file-size", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey", "default-registry"}
PLAIN_PORT, TLS_PORT = 2375, 2376
log = logging.getLogger("dockyard.daemon")


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
    tls: TLSSettings | None = None  # TLS on the tcp listeners


    @property
    def pidfile_path(self) -> Path:
        return self.pidfile or self.exec_root / "dockyard.pid"


@dataclass
class TLSSettings:
    """dockerd's --tls* settings once resolved: files, and whether clients must show a certificate."""

    cert: Path
    key: Path
    ca: Path
    verify_clients: bool


def _flag_bool(text: str) -> bool:
    """Go's strconv.ParseBool, for `--tls=false`."""
    try:
        return parse_bool(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid argument {text!r}: parse error") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyard daemon", description="Run the Dockyard daemon")
    p.add_argument("-H", "--host", action="append", dest="hosts", help="daemon socket(s) to listen on")
    p.add_argument("--data-root", help="root of persistent state (default /var/lib/dockyard)")
    p.add_argument("--exec-root", help="root of runtime state (default /run/dockyard)")
    p.add_argument("--config-file", help=f"daemon configuration file (default {DEFAULT_CONFIG_FILE})")
    p.add_argument("-l", "--log-level", choices=["debug", "info", "warn", "error", "fatal"])
    p.add_argument("-D", "--debug", action="store_true", help="enable debug mode")
    p.add_argument("-p", "--pidfile", help="path of the pid file (default EXEC_ROOT/dockyard.pid)")
    p.add_argument("--tls", nargs="?", const=True, type=_flag_bool, help="Use TLS; implied by --tlsverify")
    p.add_argument("--tlsverify", nargs="?", const=True, type=_flag_bool,
                   help="Use TLS and verify the remote (clients must show a certificate signed by --tlscacert)")
    p.add_argument("--tlscacert", help="Trust certs signed only by this CA (default ~/.docker/ca.pem)")
    p.add_argument("--tlscert", help="Path to TLS certificate file (default ~/.docker/cert.pem)")
    p.add_argument("--tlskey", help="Path to TLS key file (default ~/.docker/key.pem)")
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
             "log-level": args.log_level, "pidfile": args.pidfile, "tls": args.tls, "tlsverify": args.tlsverify,
             "tlscacert": args.tlscacert, "tlscert": args.tlscert, "tlskey": args.tlskey}
    clashes = sorted(k for k, v in flags.items() if v is not None and k in raw)
    if clashes:
        raise ConfigError("the following directives are specified both as a flag and in the configuration file: "
                          + ", ".join(clashes))
    merged = {**raw, **{k: v for k, v in flags.items() if v is not None}}
    config = DaemonConfig(raw=raw, config_file=path)
    config.tls = tls_settings(merged)
    if merged.get("hosts"):
        config.hosts = [normalise_host(h, config.tls is not None) for h in merged["hosts"] if h.strip()]
    elif config.tls is not None:
        config.hosts = [f"tcp://localhost:{TLS_PORT}"]  # dockerd's default host with --tls
    check_tcp_hosts(config.hosts, config.tls, merged)
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
    default = merged.get("default-registry")
    if default is not None and (not isinstance(default, str) or "/" in default.split("://", 1)[-1].rstrip("/")):
        raise ConfigError("default-registry must be a registry host[:port] (Dockyard's own key)")
    return config


def tls_settings(merged: dict[str, Any]) -> TLSSettings | None:
    """dockerd's rules: --tlsverify (given at all, or DOCKER_TLS_VERIFY) implies --tls; --tls alone verifies
    clients unless --tlsverify=false; files default to DOCKER_CERT_PATH or ~/.docker."""
    for key in ("tls", "tlsverify"):
        if key in merged and not isinstance(merged[key], bool):
            raise ConfigError(f"{key} must be true or false")
    verify = merged.get("tlsverify")
    if verify is None and os.environ.get("DOCKER_TLS_VERIFY"):
        verify = True
    use_tls = bool(merged.get("tls")) or "tlsverify" in merged or bool(verify)
    if not use_tls:
        return None
    cert_path = Path(os.environ.get("DOCKER_CERT_PATH") or Path.home() / ".docker")
    return TLSSettings(cert=Path(merged.get("tlscert") or cert_path / "cert.pem"),
                       key=Path(merged.get("tlskey") or cert_path / "key.pem"),
                       ca=Path(merged.get("tlscacert") or cert_path / "ca.pem"),
                       verify_clients=verify is not False)


def normalise_host(host: str, tls: bool) -> str:
    """dockerd's -H forms: "HOST:PORT" means tcp; a tcp address without a port gets 2376 with TLS, else 2375;
    an empty tcp host is localhost."""
    host = host.strip()
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "tcp", host
    if scheme == "unix":
        return host
    if scheme != "tcp":
        raise ConfigError(f"invalid bind address ({host}): unsupported proto '{scheme}'")
    rest = rest.rstrip("/")
    if rest.startswith("["):
        name, _, port = rest[1:].partition("]")
        name, port = f"[{name}]", port.lstrip(":")
    else:
        name, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if port and not port.isdigit():
        raise ConfigError(f"invalid bind address ({host}): invalid port")
    return f"tcp://{name or 'localhost'}:{port or (TLS_PORT if tls else PLAIN_PORT)}"


def check_tcp_hosts(hosts: list[str], tls: TLSSettings | None, merged: dict[str, Any]) -> None:
    """A tcp listener without client certificates gives root on this machine to whoever reaches it: warn as
    dockerd does, and refuse it on a non-loopback address unless --tls=false or --tlsverify=false says the
    risk is wanted."""
    opted_out = merged.get("tls") is False or merged.get("tlsverify") is False
    for host in hosts:
        if not host.startswith("tcp://") or (tls is not None and tls.verify_clients):
            continue
        log.warning("Binding to IP address without --tlsverify is insecure and gives root access on this machine "
                    "to everyone who has access to your network. host=%s", host)
        if opted_out or _is_loopback(host[len("tcp://"):].rpartition(":")[0].strip("[]")):
            continue
        raise ConfigError(f"refusing to listen on {host} without --tlsverify: anyone who can reach that address "
                          "would get root access on this machine. Use --tlsverify with certificates "
                          "(`dockyard tls create`), or say --tls=false explicitly to accept the risk")


def _is_loopback(name: str) -> bool:
    """True when a listen address can only be reached from this machine."""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)
