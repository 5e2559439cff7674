"""Address management: subnets from docker's default pools that collide with no host route, and addresses in them."""

from __future__ import annotations

import ipaddress
import hashlib
from typing import Any, Iterable

from dockyard.errors import Conflict, InvalidParameter, Unavailable

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
Addr = ipaddress.IPv4Address | ipaddress.IPv6Address

# docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20 pieces
DEFAULT_POOLS: list[tuple[str, int]] = [(f"172.{n}.0.0/16", 16) for n in range(17, 32)] + [("192.168.0.0/16", 20)]


def parse_subnet(text: str) -> Net:
    """An IPv4 or IPv6 subnet in CIDR form; docker's error text otherwise."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as bad:
        raise InvalidParameter(f"invalid subnet {text}: {bad}") from None


def parse_address(text: str, what: str = "address") -> Addr:
    """An IPv4 or IPv6 address (a /len suffix is ignored)."""
    try:
        return ipaddress.ip_address(text.split("/", 1)[0])
    except ValueError:
        raise InvalidParameter(f"invalid {what} {text}") from None


def family_config(configs: list[dict[str, Any]], version: int) -> dict[str, Any] | None:
    """The network's IPAM Config entry of one address family (4 or 6); None when it has none."""
    for config in configs:
        if ipaddress.ip_network(config["Subnet"], strict=False).version == version:
            return config
    return None


def ula_pool(host_id: str) -> ipaddress.IPv6Network:
    """dockerd's default IPv6 pool: a /48 ULA prefix whose 40-bit global id is taken from the host id's sha256."""
    global_id = int.from_bytes(hashlib.sha256(host_id.encode()).digest()[:8], "big") & (1 << 40) - 1
    return ipaddress.IPv6Network((int(ipaddress.IPv6Address("fd00::")) + (global_id << 80), 48))


def aux_addresses(given: object, subnet: Net) -> dict[str, str]:
    """IPAM AuxiliaryAddresses (name -> address, kept out of allocation), each checked to lie in `subnet`."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidParameter("json: cannot unmarshal into Go struct field IPAMConfig.IPAM.Config.AuxiliaryAddresses "
                               "of type map[string]string")
    out = {}
    for name, text in given.items():
        address = parse_address(str(text), f"auxiliary address {name}:")
        if address not in subnet:
            raise InvalidParameter(f"invalid network config:\ninvalid auxiliary address {name}: parent subnet "
                                   f"{subnet} doesn't contain this address")
        out[name] = str(address)
    return out


def candidates(pools: Iterable[tuple[str, int]] = DEFAULT_POOLS) -> Iterable[Net]:
    """Every subnet the pools offer, in order."""
    for base, size in pools:
        yield from ipaddress.ip_network(base).subnets(new_prefix=size)


def pick_subnet(taken: Iterable[Net], pools: Iterable[tuple[str, int]] = DEFAULT_POOLS, family: str = "IPv4") -> Net:
    """The first pool subnet that overlaps none of `taken` (host routes and our own networks)."""
    used = list(taken)
    for net in candidates(pools):
        if not any(net.overlaps(other) for other in used if other.version == net.version):
            return net
    raise Unavailable(f"could not find an available, non-overlapping {family} address pool among the defaults "
                      "to assign to the network")


def default_gateway(subnet: Net) -> Addr:
    """Docker's gateway: the first host address of the subnet."""
    return subnet.network_address + 1


def allocate(subnet: Net, ip_range: Net | None, reserved: set[Addr], requested: Addr | None = None) -> Addr:
    """A free address of `subnet` (inside `ip_range` when set), or exactly `requested` when it is free."""
    if requested is not None:
        if requested not in subnet:
            raise InvalidParameter(f"no configured subnet or ip-range contain the IP address {requested}")
        if requested in reserved or requested in (subnet.network_address, subnet.broadcast_address):
            raise Conflict(f"Address already in use: {requested}")
        return requested
    pool = ip_range or subnet
    for address in pool.hosts():
        if address not in reserved:
            return address
    raise Unavailable(f"no available IPv{subnet.version} addresses on this network's address pools: {subnet}")


def mac_of(address: ipaddress.IPv4Address) -> str:
    """Docker's MAC for an address: 02:42 followed by the four address bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in address.packed)
