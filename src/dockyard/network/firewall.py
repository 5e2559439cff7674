"""Firewall rules in nftables tables of our own (`ip dockyard`, and `ip6 dockyard` for IPv6 networks): one pair of
base chains per bridge and address family."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dockyard.errors import SystemError_

TABLE = "dockyard"
# every bridge this project makes starts with one of these (isolation drops traffic between them)
BRIDGE_PREFIXES = ("dy-", "dockyard")


def apply(script: str, namespace: Path | None = None) -> None:
    """Apply an nft script atomically (inside the network namespace pinned at `namespace` when one is given)."""
    enter = ["nsenter", f"--net={namespace}"] if namespace is not None else []
    done = subprocess.run([*enter, "nft", "-f", "-"], input=script, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemError_(f"nft: {done.stderr.strip()}")


def _chains(family: str) -> set[str]:
    """Names of the chains now in our table of `family` (empty when it does not exist)."""
    done = subprocess.run(["nft", "-j", "list", "table", family, TABLE], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return set()
    return {item["chain"]["name"] for item in json.loads(done.stdout)["nftables"] if "chain" in item}


def install(bridge: str, subnet: str, internal: bool, family: str = "ip") -> None:
    """Isolation from other bridges, no way out for internal networks, masquerade for the others (idempotent);
    `family` ip6 for an IPv6 network's pool."""
    fwd, nat = f"fwd-{bridge}", f"nat-{bridge}"
    rules = []
    if internal:
        rules += [f'iifname "{bridge}" oifname != "{bridge}" drop', f'oifname "{bridge}" iifname != "{bridge}" drop']
    # published ports reached from another network through the host's addresses (DNAT) pass the isolation
    rules += [f'iifname "{bridge}" ct status dnat accept']
    rules += [f'iifname "{bridge}" oifname "{prefix}*" oifname != "{bridge}" drop' for prefix in BRIDGE_PREFIXES]
    lines = [f"add table {family} {TABLE}",
             f"add chain {family} {TABLE} {fwd} {{ type filter hook forward priority 0; policy accept; }}",
             f"flush chain {family} {TABLE} {fwd}"]
    lines += [f"add rule {family} {TABLE} {fwd} {rule}" for rule in rules]
    if not internal:
        lines += [f"add chain {family} {TABLE} {nat} {{ type nat hook postrouting priority 100; policy accept; }}",
                  f"flush chain {family} {TABLE} {nat}",
                  f'add rule {family} {TABLE} {nat} {family} saddr {subnet} oifname != "{bridge}" masquerade']
    apply("\n".join(lines) + "\n")


def remove(bridge: str) -> None:
    """Drop the bridge's chains (of both families), and a table once no chain is left in it."""
    for family in ("ip", "ip6"):
        drop_chains([f"fwd-{bridge}", f"nat-{bridge}"], family)


def drop_chains(names: list[str], family: str = "ip") -> None:
    """Delete those of `names` that exist in our table of `family`, and the table once no chain is left in it."""
    present = _chains(family)
    mine = [c for c in names if c in present]
    if mine:
        apply("".join(f"flush chain {family} {TABLE} {c}\ndelete chain {family} {TABLE} {c}\n" for c in mine))
    if present and not present - set(mine):
        apply(f"delete table {family} {TABLE}\n")
