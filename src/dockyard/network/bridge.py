"""The bridge driver over netlink: bridges, veth pairs into container namespaces, addresses and routes."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.network import netns

log = logging.getLogger(__name__)

ENODEV = 19
IFA_F_NODAD = 0x02  # dockerd adds its IPv6 addresses without duplicate address detection: usable at once


@dataclass
class Endpoint:
    """One container interface: where it lives and what it carries."""

    netns: Path
    host_ifname: str  # the veth end left on the bridge
    ifname: str  # its name inside the container (eth0, eth1 ...)
    address: str  # "10.0.0.2/24"
    mac: str
    gateway: str | None  # default route through this gateway (None: no default route)
    mtu: int
    address6: str | None = None  # "fd00::2/64" on an IPv6 network (None: IPv6 disabled on the interface)
    gateway6: str | None = None  # IPv6 default route through this gateway
    isolated: bool = False  # an isolated bridge port: it forwards to the bridge, never to another isolated port


def _index(ipr: IPRoute, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def host_routes(exclude: AbstractSet[str] = frozenset()) -> list[ipaddress.IPv4Network]:
    """Destinations of the host's IPv4 routes (main table), minus those on interfaces in `exclude`."""
    nets = []
    with IPRoute() as ipr:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        for route in ipr.get_routes(family=2, table=254):
            dst = route.get_attr("RTA_DST")
            if dst is None or names.get(route.get_attr("RTA_OIF")) in exclude:
                continue
            nets.append(ipaddress.IPv4Network(f"{dst}/{route['dst_len']}", strict=False))
    return nets


def owner(ifname: str) -> str | None:
    """The owner tag (interface alias) of a host interface; None when it does not exist."""
    with IPRoute() as ipr:
        index = _index(ipr, ifname)
        if index is None:
            return None
        return ipr.get_links(index)[0].get_attr("IFLA_IFALIAS") or ""


def ensure_bridge(name: str, gateway_cidr: str, mtu: int, tag: str, gateway6_cidr: str | None = None) -> None:
    """Create the bridge (its alias set to `tag`, so it is known as ours) if missing, give it the gateway
    address (and the IPv6 gateway's, with IPv6 enabled on it) and bring it up (idempotent)."""
    with IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            ipr.link("add", ifname=name, kind="bridge")
            index = _index(ipr, name)
            ipr.link("set", index=index, ifalias=tag)
        ipr.link("set", index=index, mtu=mtu)
        _ensure_address(ipr, index, gateway_cidr)
        if gateway6_cidr is not None:
            set_ipv6(name, True)
            _ensure_address(ipr, index, gateway6_cidr)
        ipr.link("set", index=index, state="up")


def _ensure_address(ipr: IPRoute, index: int | None, cidr: str) -> None:
    """Give an interface an address unless it has it (IPv6 ones without duplicate address detection)."""
    address, prefix = cidr.split("/")
    v6 = ":" in address
    present = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index, family=10 if v6 else 2)}
    if ipaddress.ip_address(address).compressed not in {ipaddress.ip_address(p).compressed for p in present}:
        ipr.addr("add", index=index, address=address, prefixlen=int(prefix), **({"flags": IFA_F_NODAD} if v6 else {}))


def set_ipv6(ifname: str, enabled: bool) -> None:
    """Enable or disable IPv6 on an interface of the calling thread's network namespace; a kernel without IPv6
    leaves it as it is, with a warning when it was asked for (as dockerd does)."""
    knob = Path(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6")
    if not knob.exists():
        if enabled:
            log.warning("cannot enable IPv6 on %s: has IPv6 been disabled in this host's kernel?", ifname)
        return
    knob.write_text("0\n" if enabled else "1\n")


def delete_link(name: str) -> None:
    """Delete a host interface if it exists."""
    with IPRoute() as ipr:
        index = _index(ipr, name)
        if index is None:
            return
        try:
            ipr.link("del", index=index)
        except NetlinkError as bad:
            if bad.code != ENODEV:
                raise


def add_endpoint(bridge: str | None, ep: Endpoint) -> None:
    """Create a veth pair, enslave one end to the bridge (or leave it unenslaved: None) and configure the other
    inside the container's namespace."""
    temp = "t" + ep.host_ifname[1:]
    with IPRoute() as ipr, open(ep.netns, "rb") as ns:
        # the peer is born inside the namespace: a daemon killed from here on leaves no pair on the host,
        # since the pair dies with the namespace pin that start-up sweeps
        ipr.link("add", ifname=ep.host_ifname, kind="veth", peer={"ifname": temp, "net_ns_fd": ns.fileno()})
        try:
            host_index = _index(ipr, ep.host_ifname)
            if bridge is not None:
                ipr.link("set", index=host_index, master=_index(ipr, bridge))
                if ep.isolated:  # docker's enable_icc=false
                    ipr.brport("set", index=host_index, isolated=1)
            ipr.link("set", index=host_index, mtu=ep.mtu, state="up")
        except BaseException:
            delete_link(ep.host_ifname)
            raise
    netns.run_in(ep.netns, lambda: _configure_inside(temp, ep))


def _configure_inside(temp: str, ep: Endpoint) -> None:
    """Inside the namespace: name, MAC, MTU, addresses (IPv6 enabled on the interface only on an IPv6 network,
    as dockerd does), up, and the default routes."""
    with IPRoute() as ipr:
        index = _index(ipr, temp)
        ipr.link("set", index=index, ifname=ep.ifname, address=ep.mac, mtu=ep.mtu)
        set_ipv6(ep.ifname, ep.address6 is not None)
        for cidr in (ep.address, ep.address6):
            if cidr is not None:
                _ensure_address(ipr, index, cidr)
        ipr.link("set", index=index, state="up")
        if ep.gateway:
            ipr.route("replace", dst="0.0.0.0/0", gateway=ep.gateway, oif=index)
        if ep.gateway6:
            ipr.route("replace", dst="::/0", gateway=ep.gateway6, oif=index, family=10)


def remove_endpoint(ep: Endpoint) -> None:
    """Delete the container's interface (its veth peer goes with it)."""
    if netns.is_pinned(ep.netns):
        netns.run_in(ep.netns, lambda: _delete_inside(ep.ifname))
    delete_link(ep.host_ifname)


def _delete_inside(ifname: str) -> None:
    with IPRoute() as ipr:
        index = _index(ipr, ifname)
        if index is not None:
            ipr.link("del", index=index)


def host_mtu() -> int:
    """The MTU of the interface carrying the host's default route (1500 when there is none)."""
    with IPRoute() as ipr:
        for route in ipr.get_routes(family=2, table=254):
            if route.get_attr("RTA_DST") is None and route.get_attr("RTA_OIF"):
                link = ipr.get_links(route.get_attr("RTA_OIF"))[0]
                return int(link.get_attr("IFLA_MTU"))
    return 1500

