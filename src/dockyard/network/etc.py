"""A container's resolv.conf and hosts as its network makes them: embedded resolver, --dns, its own address."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.network.dns import ADDRESS


@dataclass(frozen=True)
class EtcPlan:
    """What the network knows for a container's /etc files, taken on the loop; `write` runs in any thread."""

    embedded: bool  # on a user network: the embedded resolver answers
    host_gateway: str  # what `host-gateway` in --add-host stands for
    address: str | None  # the container's own address, listed under its hostname
    address6: str | None = None  # and its IPv6 address on an IPv6 network

    def write(self, host: dict[str, Any], hostname: str, container_dir: Path) -> None:
        """Point resolv.conf at the embedded resolver (user networks) or --dns servers; the container's own
        address and `host-gateway` in /etc/hosts."""
        if host.get("NetworkMode") == "host":
            return
        resolv = container_dir / "resolv.conf"
        if self.embedded or host.get("Dns") or host.get("DnsSearch") or host.get("DnsOptions"):
            resolv.write_text(resolv_conf(resolv.read_text(), self.embedded, host))
        hosts = container_dir / "hosts"
        text = hosts.read_text().replace("host-gateway\t", f"{self.host_gateway}\t")
        text += "".join(f"{ip}\t{hostname}\n" for ip in (self.address, self.address6) if ip)
        hosts.write_text(text)


def resolv_conf(current: str, embedded: bool, host: dict[str, Any]) -> str:
    """resolv.conf for a container: 127.0.0.11 on user networks, else --dns servers; search and options kept
    from the host's unless --dns-search / --dns-option are given."""
    lines = current.splitlines()
    search = [ln for ln in lines if ln.startswith(("search", "domain"))]
    options = [ln for ln in lines if ln.startswith("options")]
    if host.get("DnsSearch"):
        search = ["search " + " ".join(host["DnsSearch"])]
    if host.get("DnsOptions"):
        options = ["options " + " ".join(host["DnsOptions"])]
    if embedded:
        servers = [f"nameserver {ADDRESS}"]
        options = options or ["options ndots:0"]
    elif host.get("Dns"):
        servers = [f"nameserver {s}" for s in host["Dns"]]
    else:
        servers = [ln for ln in lines if ln.startswith("nameserver")]
    return "\n".join(servers + search + options) + "\n"
