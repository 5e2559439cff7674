"""The /etc/hostname, /etc/hosts and /etc/resolv.conf a container gets."""

from __future__ import annotations

import re
from pathlib import Path

from dockyard.util.atomic import write_atomic

_DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
_LOCAL_NAMESERVER = re.compile(r"^\s*nameserver\s+(127\.\S*|::1)\s*$", re.M)
_FALLBACK_DNS = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def write_etc_files(container_dir: Path, hostname: str, network_mode: str,
                    extra_hosts: list[str] | None = None, host_etc: Path = Path("/etc")) -> None:
    """Write hostname, hosts and resolv.conf into the container's directory."""
    write_atomic(container_dir / "hostname", f"{hostname}\n".encode(), durable=False)
    if network_mode == "host":
        hosts = _read(host_etc / "hosts") or _DEFAULT_HOSTS
    else:
        hosts = _DEFAULT_HOSTS
    for entry in extra_hosts or []:
        name, _, address = entry.partition(":")
        hosts += f"{address}\t{name}\n"
    write_atomic(container_dir / "hosts", hosts.encode(), durable=False)
    resolv = resolv_conf(_read(host_etc / "resolv.conf"), network_mode)
    write_atomic(container_dir / "resolv.conf", resolv.encode(), durable=False)


def resolv_conf(host_text: str, network_mode: str) -> str:
    """The host's resolv.conf; off the host network, loopback resolvers are dropped as docker does."""
    if network_mode == "host":
        return host_text
    text = _LOCAL_NAMESERVER.sub("", host_text)
    if "nameserver" not in text:
        text = text.rstrip("\n") + ("\n" if text.strip() else "") + _FALLBACK_DNS
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
