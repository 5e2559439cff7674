"""Where a repository lives: registry host, scheme (https, or http for insecure ones) and mirrors."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from dockyard.util.reference import DEFAULT_DOMAIN

HUB_HOST = "registry-1.docker.io"
LOOPBACK = ("::1/128", "127.0.0.0/8")


@dataclass(frozen=True)
class Endpoint:
    """One registry base URL to try."""

    host: str
    secure: bool
    mirror: bool = False

    @property
    def base(self) -> str:
        """The URL prefix, e.g. http://127.0.0.1:5000."""
        return f"{'https' if self.secure else 'http'}://{self.host}"


def _host_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address of a host[:port] written as an address, else None."""
    name = host
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_insecure(host: str, config: dict[str, Any]) -> bool:
    """Docker's rule: loopback, localhost, and daemon.json insecure-registries (hosts or CIDRs) speak http."""
    if host.split(":", 1)[0] == "localhost":
        return True
    listed = list(config.get("insecure-registries", []))
    if host in listed:
        return True
    ip = _host_ip(host)
    if ip is None:
        return False
    for entry in list(LOOPBACK) + listed:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def default_registry(config: dict[str, Any]) -> str:
    """The registry that docker.io names stand for: daemon.json's "default-registry" (a Dockyard Hub, Dockyard's
    own key) or "" for Docker Hub itself."""
    return str(config.get("default-registry") or "").split("://", 1)[-1].rstrip("/")


def endpoints(domain: str, config: dict[str, Any]) -> list[Endpoint]:
    """Mirrors first (registry-mirrors applies to Docker Hub, "host=mirror" entries to any registry), then the
    registry itself."""
    out: list[Endpoint] = []
    for mirror in config.get("registry-mirrors", []):
        target, sep, url = mirror.partition("=")
        if not sep:
            target, url = DEFAULT_DOMAIN, mirror
        if target == domain:
            scheme, _, host = url.partition("://")
            host = host.rstrip("/") if host else scheme
            out.append(Endpoint(host, scheme == "https" and not is_insecure(host, config), mirror=True))
    host = (default_registry(config) or HUB_HOST) if domain == DEFAULT_DOMAIN else domain
    out.append(Endpoint(host, not is_insecure(host, config)))
    return out
