"""Published ports forwarded by the kernel: per-container DNAT and masquerade chains in table `ip dockyard`.

Each container with published ports gets three base chains named after its short id (the name of its namespace
pin): `pre-<id>` (nat prerouting: traffic from other hosts and from containers via the host's addresses),
`out-<id>` (nat output: traffic the host itself sends to its own addresses, 127.0.0.1 included) and
`post-<id>` (nat postrouting: masquerade for loopback sources and for hairpin traffic that re-enters the bridge it
came from), as docker does with its userland proxy disabled. Loopback sources need `route_localnet` on the target
bridge, which is set on the project's own bridge only.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from dockyard.network import firewall

TABLE = firewall.TABLE
LOOPBACK = "127.0.0.0/8"
ANY = ("", "0.0.0.0")
SYSCTL = Path("/proc/sys/net/ipv4/conf")


@dataclass(frozen=True)
class Forward:
    """One published port: host_ip:host_port/proto goes to target_ip:target_port behind `bridge`."""

    proto: str
    host_ip: str
    host_port: int
    target_ip: str
    target_port: int
    bridge: str


def chain_names(short_id: str) -> tuple[str, str, str]:
    """The prerouting, output and postrouting chains of one container (by its 12-character id)."""
    return f"pre-{short_id}", f"out-{short_id}", f"post-{short_id}"


def available() -> bool:
    """Kernel forwarding needs the nft tool; without it published ports go through the userland proxy only."""
    return shutil.which("nft") is not None


def _dnat_rule(fwd: Forward) -> str:
    where = "fib daddr type local" if fwd.host_ip in ANY else f"ip daddr {fwd.host_ip}"
    return f"{where} {fwd.proto} dport {fwd.host_port} counter dnat to {fwd.target_ip}:{fwd.target_port}"


def _masquerade_rules(fwd: Forward) -> list[str]:
    to = f'oifname "{fwd.bridge}" ip daddr {fwd.target_ip} {fwd.proto} dport {fwd.target_port} ct status dnat'
    return [f"{to} ip saddr {LOOPBACK} counter masquerade", f'{to} iifname "{fwd.bridge}" counter masquerade']


def route_localnet(bridge: str) -> None:
    """Let 127.0.0.0/8 sources and destinations be routed through one of our bridges (and nothing else)."""
    (SYSCTL / bridge / "route_localnet").write_text("1\n")


def install(short_id: str, forwards: list[Forward]) -> None:
    """Replace the container's chains with rules for `forwards` (idempotent; nothing when the list is empty)."""
    if not forwards:
        remove(short_id)
        return
    for bridge in {fwd.bridge for fwd in forwards}:
        route_localnet(bridge)
    pre, out, post = chain_names(short_id)
    lines = [f"add table ip {TABLE}"]
    for chain, hook, priority in ((pre, "prerouting", "dstnat"), (out, "output", "-100"), (post, "postrouting",
                                                                                         "srcnat")):
        lines += [f"add chain ip {TABLE} {chain} {{ type nat hook {hook} priority {priority}; policy accept; }}",
                  f"flush chain ip {TABLE} {chain}"]
    for fwd in forwards:
        lines += [f"add rule ip {TABLE} {pre} {_dnat_rule(fwd)}", f"add rule ip {TABLE} {out} {_dnat_rule(fwd)}"]
        lines += [f"add rule ip {TABLE} {post} {rule}" for rule in _masquerade_rules(fwd)]
    firewall.apply("\n".join(lines) + "\n")


def remove(short_id: str) -> None:
    """Drop the container's chains (and the table once nothing of ours is left in it)."""
    if available():
        firewall.drop_chains(list(chain_names(short_id)))
