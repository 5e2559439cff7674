"""Firewall rules in an nftables table of our own (`ip dockyard`): one pair of base chains per bridge."""

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


def _chains() -> set[str]:
    """Names of the chains now in our table (empty when it does not exist)."""
    done = subprocess.run(["nft", "-j", "list", "table", "ip", TABLE], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return set()
    return {item["chain"]["name"] for item in json.loads(done.stdout)["nftables"] if "chain" in item}


def install(bridge: str, subnet: str, internal: bool) -> None:
    """Isolation from other bridges, no way out for internal networks, masquerade for the others (idempotent)."""
    fwd, nat = f"fwd-{bridge}", f"nat-{bridge}"
    rules = []
    if internal:
        rules += [f'iifname "{bridge}" oifname != "{bridge}" drop', f'oifname "{bridge}" iifname != "{bridge}" drop']
    # published ports reached from another network through the host's addresses (DNAT) pass the isolation
    rules += [f'iifname "{bridge}" ct status dnat accept']
    rules += [f'iifname "{bridge}" oifname "{prefix}*" oifname != "{bridge}" drop' for prefix in BRIDGE_PREFIXES]
    lines = [f"add table ip {TABLE}",
             f"add chain ip {TABLE} {fwd} {{ type filter hook forward priority 0; policy accept; }}",
             f"flush chain ip {TABLE} {fwd}"]
    lines += [f"add rule ip {TABLE} {fwd} {rule}" for rule in rules]
    if not internal:
        lines += [f"add chain ip {TABLE} {nat} {{ type nat hook postrouting priority 100; policy accept; }}",
                  f"flush chain ip {TABLE} {nat}",
                  f'add rule ip {TABLE} {nat} ip saddr {subnet} oifname != "{bridge}" masquerade']
    apply("\n".join(lines) + "\n")


def remove(bridge: str) -> None:
    """Drop the bridge's chains, and the table once no chain is left in it."""
    drop_chains([f"fwd-{bridge}", f"nat-{bridge}"])


def drop_chains(names: list[str]) -> None:
    """Delete those of `names` that exist, and the table once no chain is left in it."""
    present = _chains()
    mine = [c for c in names if c in present]
    if mine:
        apply("".join(f"flush chain ip {TABLE} {c}\ndelete chain ip {TABLE} {c}\n" for c in mine))
    if present and not present - set(mine):
        apply(f"delete table ip {TABLE}\n")
