"""An overlay network's data plane on one node: a namespace holding `br0`, the `vx<VNI>` device once a remote peer
exists, task endpoints, static FDB/neighbour entries from a peer list, and the `docker_gwbridge`-style egress bridge.

The cluster agent drives it with plain values (blocking calls: run them with `run_blocking`):

    plane = OverlayPlane(exec_root / "overlay")                 # pins live there; namespaces are `dy-ov-<net12>`
    spec = OverlaySpec(network_id, vni=4097, subnet="10.0.1.0/24", gateway="10.0.1.1")
    plane.ensure(spec)                                          # namespace + br0 with the gateway (idempotent)
    plane.attach(spec, task_netns, "task-id", "10.0.1.5")       # veth: task's eth0 <-> br0, MTU host - 50
    plane.set_peers(spec, local_vtep, [Peer("10.0.1.9", mac_of(...), "192.168.77.2")])  # level-triggered
    gw = GatewayBridge("docker_gwbridge", "172.18.0.1/16")
    plane.ensure_gateway(gw); plane.attach_gateway(gw, task_netns, "task-id", "172.18.0.3")  # default route
    plane.detach(spec, "task-id"); plane.detach_gateway(gw, "task-id")
    plane.remove(spec)                                          # br0, vx<VNI> and every veth pair, then the pin

Nothing of an overlay lives in the node's namespace: the veth pairs join the overlay namespace to the task's, and the
VXLAN device is created in the node's namespace (so its UDP socket on DataPathPort stays there, shared by every VNI)
and moved in at once under its final name. It exists only while the peer list is not empty, so a single-node swarm
never binds the data-path port. MACs are derived from addresses (`ipam.mac_of`), so peers need no gossip.

Task containers need not be plumbed by hand: once the agent has called `NetworkService.add_overlay`, a container
created on the overlay gets its endpoint (and its egress leg) from the network service, which uses this plane.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pyroute2 import IPRoute

from dockyard.errors import InvalidParameter
from dockyard.network import bridge, firewall, ipam, netns
from dockyard.network.hostlock import host_lock

VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
DATA_PATH_PORT = 4789
BRIDGE = "br0"
NTF_SELF = 0x02
NUD_PERMANENT = 0x80
PREFIX = "dy-ov-"


@dataclass(frozen=True)
class OverlaySpec:
    """One overlay network as the allocator made it: id, VNI, subnet and gateway, data-path port, MTU (0: the
    host uplink's minus the VXLAN header)."""

    network_id: str
    vni: int
    subnet: str
    gateway: str
    data_path_port: int = DATA_PATH_PORT
    mtu: int = 0

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.subnet).prefixlen


@dataclass(frozen=True)
class Peer:
    """A remote endpoint on the network: its overlay address, its MAC and the underlay address of its node."""

    address: str
    mac: str
    vtep: str


@dataclass(frozen=True)
class GatewayBridge:
    """The node's egress bridge for overlay tasks (docker's `docker_gwbridge`): its name and its gateway address
    with the subnet's prefix length ("172.18.0.1/16")."""

    name: str
    gateway_cidr: str

    @property
    def gateway(self) -> str:
        return str(ipaddress.IPv4Interface(self.gateway_cidr).ip)

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Interface(self.gateway_cidr).network


def _link_name(key: str, network_id: str) -> str:
    """The 15-character name of a task's veth end on a bridge, stable for (task, network)."""
    return "ov" + hashlib.sha256(f"{key}/{network_id}".encode()).hexdigest()[:11]


def _index(ipr: IPRoute, ifname: str) -> int | None:
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


class OverlayPlane:
    """The overlay namespaces of one node, pinned under `root` and named `<prefix><network id[:12]>`."""

    def __init__(self, root: Path, prefix: str = PREFIX) -> None:
        self.root = root
        self.prefix = prefix
        self._mtu = 0

    def namespace(self, spec: OverlaySpec) -> Path:
        """Where the network's namespace is pinned."""
        return self.root / f"{self.prefix}{spec.network_id[:12]}"

    def mtu(self, spec: OverlaySpec) -> int:
        """The MTU of everything on the overlay: the spec's, else the uplink's minus the VXLAN header."""
        if spec.mtu:
            return spec.mtu
        if not self._mtu:
            self._mtu = bridge.host_mtu() - VXLAN_OVERHEAD
        return self._mtu

    # ----- the network's namespace --------------------------------------------------------------

    def ensure(self, spec: OverlaySpec) -> Path:
        """Create the namespace with `br0` carrying the gateway address, unless it exists; its pin path."""
        path = self.namespace(spec)
        if not netns.is_pinned(path):
            netns.create(path)
        mtu = self.mtu(spec)
        netns.run_in(path, lambda: _ensure_br0(f"{spec.gateway}/{spec.prefixlen}", mtu))
        return path

    def exists(self, spec: OverlaySpec) -> bool:
        return netns.is_pinned(self.namespace(spec))

    def remove(self, spec: OverlaySpec) -> None:
        """Delete the namespace with br0, the VXLAN device and every task's veth pair (the links first, so the
        tasks' ends are gone when this returns, not whenever the kernel frees the namespace)."""
        path = self.namespace(spec)
        if netns.is_pinned(path):
            netns.run_in(path, _delete_all_links)
        netns.destroy(path)

    # ----- task endpoints -----------------------------------------------------------------------

    def attach(self, spec: OverlaySpec, task_netns: Path, key: str, address: str,
               ifname: str = "eth0") -> bridge.Endpoint:
        """A veth from br0 into the task's namespace as `ifname` with `address` (in the subnet) and the MAC derived
        from it; no default route (the gateway bridge gives that). `key` names the pair (the task id)."""
        if ipaddress.IPv4Address(address) not in ipaddress.IPv4Network(spec.subnet):
            raise InvalidParameter(f"address {address} is not in the network's subnet {spec.subnet}")
        ep = bridge.Endpoint(netns=task_netns, host_ifname=_link_name(key, spec.network_id), ifname=ifname,
                             address=f"{address}/{spec.prefixlen}", mac=ipam.mac_of(ipaddress.IPv4Address(address)),
                             gateway=None, mtu=self.mtu(spec))
        netns.run_in(self.namespace(spec), lambda: bridge.add_endpoint(BRIDGE, ep))
        return ep

    def detach(self, spec: OverlaySpec, key: str) -> None:
        """Delete the veth pair `attach` made for `key` (nothing to do once the network's namespace is gone)."""
        if self.exists(spec):
            netns.run_in(self.namespace(spec), lambda: bridge.delete_link(_link_name(key, spec.network_id)))

    # ----- peers (part 2 feeds them; no gossip) ---------------------------------------------------

    def set_peers(self, spec: OverlaySpec, local_vtep: str, peers: Iterable[Peer]) -> None:
        """Make the kernel hold exactly `peers`: the VXLAN device appears with the first peer and goes with the
        last; FDB and neighbour entries are added and removed by diff against what the device has."""
        wanted = {p.mac: p for p in peers}
        path = self.namespace(spec)
        vx = f"vx{spec.vni}"
        present = netns.run_in(path, lambda: _has_link(vx))
        if not wanted:
            if present:
                netns.run_in(path, lambda: bridge.delete_link(vx))
            return
        if not present:
            _create_vxlan(spec, local_vtep, path, self.mtu(spec))
        netns.run_in(path, lambda: _sync_peers(vx, wanted))

    # ----- the egress bridge (docker_gwbridge) --------------------------------------------------

    def ensure_gateway(self, gw: GatewayBridge) -> None:
        """The egress bridge in the node's namespace, with masquerade and isolation chains in `ip dockyard`."""
        with host_lock():
            bridge.ensure_bridge(gw.name, gw.gateway_cidr, bridge.host_mtu(), f"dockyard:{gw.name}")
            firewall.install(gw.name, str(gw.subnet), internal=False)

    def attach_gateway(self, gw: GatewayBridge, task_netns: Path, key: str, address: str,
                       ifname: str = "eth1") -> bridge.Endpoint:
        """The task's leg on the egress bridge, carrying its default route (as docker's overlay tasks have)."""
        ep = bridge.Endpoint(netns=task_netns, host_ifname=_link_name(key, gw.name), ifname=ifname,
                             address=f"{address}/{gw.subnet.prefixlen}",
                             mac=ipam.mac_of(ipaddress.IPv4Address(address)),
                             gateway=gw.gateway, mtu=bridge.host_mtu(), isolated=True)  # docker_gwbridge: icc off
        bridge.add_endpoint(gw.name, ep)
        return ep

    @staticmethod
    def detach_gateway(gw: GatewayBridge, key: str) -> None:
        """Delete the leg `attach_gateway` made for `key`."""
        bridge.delete_link(_link_name(key, gw.name))

    @staticmethod
    def remove_gateway(gw: GatewayBridge) -> None:
        """Delete the egress bridge and its chains (docker keeps its gwbridge after `swarm leave`; callers choose)."""
        with host_lock():
            firewall.remove(gw.name)
            bridge.delete_link(gw.name)


def _ensure_br0(gateway_cidr: str, mtu: int) -> None:
    """Inside the overlay namespace: br0 with the gateway address, up (idempotent)."""
    bridge.ensure_bridge(BRIDGE, gateway_cidr, mtu, "dockyard:overlay")


def _delete_all_links() -> None:
    """Inside the overlay namespace: delete every link but loopback."""
    with IPRoute() as ipr:
        for link in ipr.get_links():
            if link.get_attr("IFLA_IFNAME") != "lo":
                bridge.delete_link(link.get_attr("IFLA_IFNAME"))


def _has_link(name: str) -> bool:
    with IPRoute() as ipr:
        return _index(ipr, name) is not None


def _create_vxlan(spec: OverlaySpec, local_vtep: str, path: Path, mtu: int) -> None:
    """Create `vx<VNI>` in the calling thread's (node's) namespace under a temporary name, move it into the overlay
    namespace, then name it, enslave it to br0 and bring it up there."""
    temp = f"dyvx{secrets.token_hex(5)}"
    with IPRoute() as ipr, open(path, "rb") as ns:
        ipr.link("add", ifname=temp, kind="vxlan", vxlan_id=spec.vni, vxlan_port=spec.data_path_port,
                 vxlan_local=local_vtep, vxlan_learning=0, vxlan_proxy=1)
        index = _index(ipr, temp)
        try:
            ipr.link("set", index=index, mtu=mtu, net_ns_fd=ns.fileno())
        except BaseException:
            bridge.delete_link(temp)
            raise

    def inside() -> None:
        with IPRoute() as ipr:
            index = _index(ipr, temp)
            ipr.link("set", index=index, ifname=f"vx{spec.vni}", master=_index(ipr, BRIDGE))
            ipr.link("set", index=index, state="up")

    netns.run_in(path, inside)


def _sync_peers(vx: str, wanted: dict[str, Peer]) -> None:
    """Inside the overlay namespace: static FDB (MAC -> VTEP) and neighbour (IP -> MAC) entries equal to `wanted`."""
    with IPRoute() as ipr:
        index = _index(ipr, vx)
        fdb = {e.get_attr("NDA_LLADDR"): e.get_attr("NDA_DST") for e in ipr.fdb("dump", ifindex=index)
               if e["ifindex"] == index and e.get_attr("NDA_DST") is not None}
        neigh = {e.get_attr("NDA_DST"): e.get_attr("NDA_LLADDR") for e in ipr.get_neighbours(ifindex=index)
                 if e["ifindex"] == index}
        for mac, vtep in fdb.items():
            if mac not in wanted or wanted[mac].vtep != vtep:
                ipr.fdb("del", ifindex=index, lladdr=mac, dst=vtep, flags=NTF_SELF)
        for address, mac in neigh.items():
            if mac not in wanted or wanted[mac].address != address:
                ipr.neigh("del", dst=address, lladdr=mac, ifindex=index)
        for mac, peer in wanted.items():
            if fdb.get(mac) != peer.vtep:
                ipr.fdb("append", ifindex=index, lladdr=mac, dst=peer.vtep, flags=NTF_SELF, state=NUD_PERMANENT)
            if neigh.get(peer.address) != mac:
                ipr.neigh("replace", dst=peer.address, lladdr=mac, ifindex=index, state=NUD_PERMANENT)
