"""Swarm addresses as dockerd resolves them (`daemon/cluster/listen_addr.go`): the listen address, the advertised
address (given, or the system's one IPv4 address), each with dockerd's error texts."""

from __future__ import annotations

import ipaddress
import socket

from dockyard.errors import InvalidParameter

DEFAULT_PORT = "2377"
ERR_BAD_LISTEN = "listen address must be an IP address or network interface (with optional port number)"
ERR_BAD_ADVERTISE = "advertise address must be a non-zero IP address or network interface (with optional port number)"
ERR_BAD_DATA_PATH = "data path address must be a non-zero IP address or network interface (without a port number)"
ERR_NO_IP = "could not find the system's IP address"
# bridges of container engines: their addresses are never the one to advertise
ENGINE_BRIDGE_PREFIXES = ("dockyard", "dy-", "docker", "br-", "veth", "dyv")


def split_host_port(text: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort: ("host", "port"), brackets removed; None when there is no port."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        return (host, rest[1:]) if sep and rest.startswith(":") else None
    host, sep, port = text.rpartition(":")
    return (host, port) if sep and ":" not in host else None


def validate_listen(text: str | None) -> str:
    """moby's validateAddr for ListenAddr: "" is refused; a bare host gets port 2377, "tcp://" is dropped."""
    if not text:
        raise InvalidParameter(f'invalid ListenAddr "{text or ""}": invalid empty address')
    text = text.removeprefix("tcp://")
    if split_host_port(text) is None:
        text = f"{text or '0.0.0.0'}:{DEFAULT_PORT}"
    host, port = split_host_port(text) or ("", "")
    return f"{host or '0.0.0.0'}:{port or DEFAULT_PORT}"


def resolve_listen(text: str) -> tuple[str, str]:
    """(listen IP, port) of a validated listen address."""
    parts = split_host_port(text)
    if parts is None:
        raise InvalidParameter(f"could not parse listen address {text}")
    return str(_ip(parts[0], ERR_BAD_LISTEN, unspecified_ok=True)), parts[1]


def resolve_advertise(text: str | None, listen_port: str) -> tuple[str, str]:
    """(advertised IP, port): the given address (port defaults to the listen port) or the system's address."""
    if text:
        parts = split_host_port(text)
        host, port = parts if parts is not None else (text, listen_port)
        return str(_ip(host, ERR_BAD_ADVERTISE, unspecified_ok=False)), port or listen_port
    return system_address(), listen_port


def resolve_data_path(text: str | None) -> str:
    """The data path address ("" when not given): an IP without a port."""
    if not text:
        return ""
    return str(_ip(text, ERR_BAD_DATA_PATH, unspecified_ok=False))


def _ip(text: str, error: str, unspecified_ok: bool) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IP address, or dockerd's error for the field."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError as exc:
        raise InvalidParameter(error) from exc
    if address.is_unspecified and not unspecified_ok:
        raise InvalidParameter(error)
    return address


def system_address() -> str:
    """dockerd's resolveSystemAddr: the one global IPv4 address of the host's interfaces (engine bridges and
    loopback aside); 400 when there is none or several."""
    from pyroute2 import IPRoute
    found: list[tuple[str, str]] = []
    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        for addr in ipr.get_addr(family=socket.AF_INET):
            name = names.get(addr["index"], "")
            ip = addr.get_attr("IFA_ADDRESS")
            if name == "lo" or name.startswith(ENGINE_BRIDGE_PREFIXES) or ipaddress.ip_address(ip).is_loopback:
                continue
            found.append((ip, name))
    if not found:
        raise InvalidParameter(ERR_NO_IP)
    if len(found) > 1:
        (ip1, if1), (ip2, if2) = found[0], found[1]
        if if1 == if2:
            raise InvalidParameter(f"could not choose an IP address to advertise since this system has multiple "
                                   f"addresses on interface {if1} ({ip1} and {ip2})")
        raise InvalidParameter(f"could not choose an IP address to advertise since this system has multiple "
                               f"addresses on different interfaces ({ip1} on {if1} and {ip2} on {if2})")
    return found[0][0]
