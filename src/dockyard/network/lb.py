"""Service load balancing with nftables (IPVS is not in this kernel): VIPs east-west, the ingress routing mesh, and
`PublishMode: host` ports.

The cluster agent calls (blocking; run them with `run_blocking`):

    program_vips(task_netns, [Vip("10.0.1.2", ("10.0.1.5", "10.0.1.6"))])   # in every local task on the network
    clear_vips(task_netns)                                                  # (the table also dies with the task)

    mesh = RoutingMesh(plane, ingress_spec, sandbox_ip="10.0.0.2")          # the node's ingress sandbox
    mesh.ensure()                                                           # namespace, legs, host link (idempotent)
    mesh.publish([Published(Port(8080, 80), ("10.0.0.5", "10.0.0.6"))])    # the whole set, each change
    mesh.remove()                                                           # rules, link and sandbox gone

    publish_host_mode(task_id12, gateway_bridge, task_ip, [Port(8081, 80)])  # per task, as `-p`
    unpublish_host_mode(task_id12)

VIPs: a table `ip dockyard-lb` in the client task's namespace; its nat output chain DNATs each VIP with
`numgen inc mod N` over the service's backends (ports kept), so successive connections go round-robin. A VIP without
backends rejects (a TCP reset) so clients fail fast. Every change replaces the whole table in one `nft -f` run, so a
connection never sees half a set.

Routing mesh (swarm-design.md 5.2, experiment 4): a sandbox namespace `<prefix>ingress-sbox` with a leg on the ingress
overlay (its ingress IP) and a veth pair to the node (`<prefix>ig`, a /30 from the link range that no host route
uses). In the node's namespace, chains `<prefix>mesh-pre`/`-out`/`-post` of the project's table `ip dockyard` DNAT
every published port on a local address (`fib daddr type local`: the host's addresses and 127.0.0.1) to the
sandbox's link address, and masquerade loopback sources (`route_localnet` is set on that veth only). In the sandbox,
table `ip dockyard-ingress` DNATs the port over the tasks with `numgen inc mod N` to their target port and SNATs to
the sandbox's ingress IP, so replies come back through it.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pyroute2 import IPRoute

from dockyard.errors import SystemError_
from dockyard.network import bridge, firewall, ipam, netns, portnat
from dockyard.network.hostlock import host_lock
from dockyard.network.overlay import GatewayBridge, OverlayPlane, OverlaySpec

VIP_TABLE = "dockyard-lb"
INGRESS_TABLE = "dockyard-ingress"
LINK_POOL = "169.254.248.0/22"  # the host <-> ingress sandbox links: /30s no host route uses
SANDBOX_INGRESS_IF = "eth0"
SANDBOX_LINK_IF = "eth1"
SANDBOX_KEY = "ingress-sbox"  # names the sandbox's leg on the ingress network


@dataclass(frozen=True)
class Vip:
    """A service's virtual IP on one network and the addresses of its running, healthy tasks there."""

    address: str
    backends: tuple[str, ...]


@dataclass(frozen=True)
class Port:
    """A published port: node port -> target port (a `PublishMode: host` port of a task is one of these)."""

    published: int
    target: int
    proto: str = "tcp"


@dataclass(frozen=True)
class Published:
    """A port published through the routing mesh, and the addresses of the tasks behind it."""

    port: Port
    backends: tuple[str, ...]


def _replace_table(table: str, body: str) -> str:
    """An nft script that swaps `table` for `body` in one transaction (creating it first so the delete cannot fail)."""
    return f"table ip {table} {{}}\ndelete table ip {table}\ntable ip {table} {{\n{body}}}\n"


def _spread(backends: tuple[str, ...], port: int | None = None) -> str:
    """`numgen inc mod N map { 0 : a, 1 : b ... }`, with the target port when given."""
    entries = ", ".join(f"{n} : {ip}" for n, ip in enumerate(backends))
    return f"numgen inc mod {len(backends)} map {{ {entries} }}" + (f" : {port}" if port is not None else "")


# ----- VIPs, east-west ---------------------------------------------------------------------------------

def vip_script(vips: Iterable[Vip]) -> str:
    """The table of a task's namespace for `vips` (DNAT round-robin; reject while a VIP has no backend)."""
    dnat, reject = [], []
    for vip in vips:
        if vip.backends:
            dnat.append(f"    ip daddr {vip.address} dnat to {_spread(vip.backends)}\n")
        else:
            reject += [f"    ip daddr {vip.address} meta l4proto tcp reject with tcp reset\n",
                       f"    ip daddr {vip.address} reject\n"]
    body = "  chain out {\n    type nat hook output priority -100; policy accept;\n" + "".join(dnat) + "  }\n"
    body += "  chain empty {\n    type filter hook output priority 0; policy accept;\n" + "".join(reject) + "  }\n"
    return _replace_table(VIP_TABLE, body)


def program_vips(task_netns: Path, vips: Iterable[Vip]) -> None:
    """Make the task's namespace balance exactly `vips` (one atomic replace)."""
    firewall.apply(vip_script(vips), task_netns)


def clear_vips(task_netns: Path) -> None:
    """Remove the VIP table from a task's namespace."""
    firewall.apply(f"table ip {VIP_TABLE} {{}}\ndelete table ip {VIP_TABLE}\n", task_netns)


# ----- the routing mesh --------------------------------------------------------------------------------

def pick_link(pool: str = LINK_POOL) -> ipaddress.IPv4Network:
    """A /30 of `pool` that no host route overlaps."""
    routes = bridge.host_routes()
    for net in ipam.candidates([(pool, 30)]):
        if isinstance(net, ipaddress.IPv4Network) and not any(net.overlaps(r) for r in routes):
            return net
    raise SystemError_(f"no free /30 left in {pool} for the ingress sandbox's link")


class RoutingMesh:
    """The node's ingress sandbox and the host rules that lead published ports into it."""

    def __init__(self, plane: OverlayPlane, ingress: OverlaySpec, sandbox_ip: str) -> None:
        self.plane, self.ingress, self.sandbox_ip = plane, ingress, sandbox_ip
        self.sandbox = plane.root / f"{plane.prefix}ingress-sbox"
        self.host_if = f"{plane.prefix}ig"
        self.chains = [f"{plane.prefix}mesh-{hook}" for hook in ("pre", "out", "post")]

    def ensure(self) -> None:
        """Create the ingress network's namespace, the sandbox with its ingress leg and its link to the node; a
        sandbox left half-made (a crash between the steps) is made again."""
        self.plane.ensure(self.ingress)
        if netns.is_pinned(self.sandbox) and bridge.owner(self.host_if) is not None:
            return
        self._remove_sandbox()
        netns.create(self.sandbox)
        try:
            self.plane.attach(self.ingress, self.sandbox, SANDBOX_KEY, self.sandbox_ip, SANDBOX_INGRESS_IF)
            self._link(pick_link())
        except BaseException:
            self.remove()
            raise

    def _link(self, link: ipaddress.IPv4Network) -> None:
        """The veth pair node <-> sandbox (the node end keeps the sandbox's address as its alias), the sandbox's
        default route over it, forwarding in the sandbox, loopback sources routable on the node end."""
        host_ip, sandbox_ip = list(link.hosts())
        ep = bridge.Endpoint(netns=self.sandbox, host_ifname=self.host_if, ifname=SANDBOX_LINK_IF,
                             address=f"{sandbox_ip}/30", mac=ipam.mac_of(sandbox_ip), gateway=str(host_ip),
                             mtu=bridge.host_mtu())
        bridge.add_endpoint(None, ep)
        with IPRoute() as ipr:
            index = ipr.link_lookup(ifname=self.host_if)[0]
            ipr.link("set", index=index, ifalias=str(sandbox_ip))
            ipr.addr("add", index=index, address=str(host_ip), prefixlen=30)
        portnat.route_localnet(self.host_if)
        netns.run_in(self.sandbox, _forwarding_on)

    def link_address(self) -> str:
        """The sandbox's address on its link to the node (kept as the node end's alias)."""
        alias = bridge.owner(self.host_if)
        if not alias:
            raise SystemError_("the ingress sandbox has no link to the node: call ensure() first")
        return alias

    def publish(self, ports: Iterable[Published]) -> None:
        """Make the node and the sandbox carry exactly `ports` (each side replaced in one transaction)."""
        ports = list(ports)
        target = self.link_address()
        pre, out, post = self.chains
        table = firewall.TABLE
        lines = [f"add table ip {table}"]
        for chain, hook, priority in ((pre, "prerouting", "dstnat"), (out, "output", "-100"),
                                      (post, "postrouting", "srcnat")):
            lines += [f"add chain ip {table} {chain} {{ type nat hook {hook} priority {priority}; policy accept; }}",
                      f"flush chain ip {table} {chain}"]
        for port in (p.port for p in ports):
            rule = f"fib daddr type local {port.proto} dport {port.published} dnat to {target}"
            lines += [f"add rule ip {table} {pre} {rule}", f"add rule ip {table} {out} {rule}"]
        lines.append(f'add rule ip {table} {post} oifname "{self.host_if}" ip saddr {portnat.LOOPBACK} masquerade')
        body = "  chain pre {\n    type nat hook prerouting priority dstnat; policy accept;\n"
        body += "".join(f'    iifname "{SANDBOX_LINK_IF}" {p.port.proto} dport {p.port.published} dnat to '
                        f"{_spread(p.backends, p.port.target)}\n" for p in ports if p.backends)
        body += "  }\n  chain post {\n    type nat hook postrouting priority srcnat; policy accept;\n"
        body += (f'    oifname "{SANDBOX_INGRESS_IF}" ip daddr {self.ingress.subnet} ct status dnat '
                 f"snat to {self.sandbox_ip}\n  }}\n")
        firewall.apply(_replace_table(INGRESS_TABLE, body), self.sandbox)
        with host_lock():
            firewall.apply("\n".join(lines) + "\n")

    def remove(self) -> None:
        """Drop the node's chains, the link and the sandbox, then the ingress network's namespace."""
        with host_lock():
            firewall.drop_chains(self.chains)
        self._remove_sandbox()
        self.plane.remove(self.ingress)

    def _remove_sandbox(self) -> None:
        """The sandbox's link, its leg on the ingress network and its namespace, whichever exist."""
        bridge.delete_link(self.host_if)
        self.plane.detach(self.ingress, SANDBOX_KEY)
        netns.destroy(self.sandbox)


def sandbox_endpoint(network_id: str, sandbox_ip: str, prefixlen: int) -> dict[str, str]:
    """The sandbox's entry in the ingress network's Containers, as docker shows its `ingress-endpoint` (the endpoint
    id derived from the network's, so it is the same on every inspect)."""
    return {"Name": "ingress-endpoint",
            "EndpointID": hashlib.sha256(f"{network_id}/{SANDBOX_KEY}".encode()).hexdigest(),
            "MacAddress": ipam.mac_of(ipaddress.IPv4Address(sandbox_ip)), "IPv4Address": f"{sandbox_ip}/{prefixlen}",
            "IPv6Address": ""}


def _forwarding_on() -> None:
    """Inside the sandbox (the calling thread's namespace): forward between the link and the ingress leg."""
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")


# ----- PublishMode: host -------------------------------------------------------------------------------

def publish_host_mode(task_id12: str, gw: GatewayBridge, task_ip: str, ports: Iterable[Port]) -> None:
    """A task's host-mode ports, as `docker run -p` publishes them: DNAT to its address on the egress bridge."""
    forwards = [portnat.Forward(p.proto, "", p.published, task_ip, p.target, gw.name) for p in ports]
    with host_lock():
        portnat.install(task_id12, forwards)


def unpublish_host_mode(task_id12: str) -> None:
    """Drop a task's host-mode ports."""
    with host_lock():
        portnat.remove(task_id12)
