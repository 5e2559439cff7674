"""Published ports forwarded in the kernel (nftables DNAT): loopback, the host's own address, container to host,
UDP, ranges, a daemon restart (and the daemon being down), and no rule left after `docker rm -f`."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from daemon_harness import Daemon, busybox_daemon
from helpers import fetch, free_port, ok, unique

BUSY = ("busybox", "httpd", "-f", "-p", "8080", "-h", "/etc")
# busybox has no UDP server: the host's python3 (read-only, chrooted) answers inside the container's namespace
UDP_ECHO = ("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 9000))\n"
            "while True:\n    data, peer = s.recvfrom(100)\n    s.sendto(b'echo:' + data, peer)\n")


def host_address() -> str:
    """One of the host's own IPv4 addresses that is neither loopback nor on a bridge (read with netlink)."""
    with IPRoute() as ipr:
        bridges = {link["index"] for link in ipr.get_links() if (link.get_attr("IFLA_LINKINFO") or {}) and
                   link.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_KIND") == "bridge"}
        for addr in ipr.get_addr(family=socket.AF_INET):
            ip = ipaddress.IPv4Address(addr.get_attr("IFA_ADDRESS"))
            if not ip.is_loopback and addr["index"] not in bridges:
                return str(ip)
    pytest.skip("the host has no non-loopback IPv4 address")


def free_pair() -> int:
    """The first of two consecutive free TCP ports on 127.0.0.1."""
    for _ in range(50):
        first = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return first
    raise AssertionError("no two consecutive free ports")


def chains() -> dict[str, list[dict]]:
    """Chains of table `ip dockyard` -> their rules (nft's JSON)."""
    done = subprocess.run(["nft", "-j", "list", "table", "ip", "dockyard"], capture_output=True, text=True)
    if done.returncode != 0:
        return {}
    items = json.loads(done.stdout)["nftables"]
    out: dict[str, list[dict]] = {i["chain"]["name"]: [] for i in items if "chain" in i}
    for item in items:
        if "rule" in item:
            out[item["rule"]["chain"]].append(item["rule"])
    return out


def packets(chain: str) -> int:
    """Packets counted by the DNAT rules of one chain."""
    return sum(e["counter"]["packets"] for r in chains().get(chain, []) for e in r["expr"] if "counter" in e)


def short_id(daemon: Daemon, name: str) -> str:
    return ok(daemon.docker("inspect", "-f", "{{.Id}}", name))[:12]


def test_loopback_host_address_and_container_to_host(clean: Daemon, need_docker_cli: None) -> None:
    web, net = unique("web"), unique("other")
    ok(clean.docker("network", "create", net))
    try:
        ok(clean.docker("run", "-d", "--name", web, "-p", "8080", *BUSY))
        port = int(ok(clean.docker("port", web, "8080")).splitlines()[0].rsplit(":", 1)[1])
        sid = short_id(clean, web)
        before = packets(f"out-{sid}")
        assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")
        address = host_address()
        assert "root:" in fetch(f"http://{address}:{port}/passwd")
        assert packets(f"out-{sid}") >= before + 2  # both went through the kernel's DNAT, not the proxy
        before = packets(f"pre-{sid}")
        for network in ("bridge", net):  # a container on the same bridge (hairpin) and one on another network
            got = clean.docker("run", "--rm", "--network", network, "busybox", "timeout", "10", "wget", "-qO-",
                               f"http://{address}:{port}/hostname")
            assert ok(got) == sid, network
        assert packets(f"pre-{sid}") >= before + 2
        for proc in ("all", "default", "lo"):
            assert Path(f"/proc/sys/net/ipv4/conf/{proc}/route_localnet").read_text().strip() == "0"
    finally:
        clean.docker("rm", "-f", web)
        clean.docker("network", "rm", net)
    assert not any(sid in chain for chain in chains())
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_udp_and_port_ranges(clean: Daemon, need_docker_cli: None) -> None:
    udp, ranged = unique("udp"), unique("range")
    udp_port, first = free_port(), free_pair()
    ids: list[str] = []
    try:
        ok(clean.docker("run", "-d", "--name", udp, "-p", f"127.0.0.1:{udp_port}:9000/udp", "-v", "/:/host:ro",
                        "busybox", "chroot", "/host", "python3", "-c", UDP_ECHO))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            reply = b""
            for _ in range(20):  # until the server in the container is up
                s.sendto(b"over-udp", ("127.0.0.1", udp_port))
                try:
                    reply = s.recv(100)
                    break
                except TimeoutError:
                    continue
        assert reply == b"echo:over-udp"
        ids.append(short_id(clean, udp))
        assert packets(f"out-{ids[0]}") > 0
        ok(clean.docker("run", "-d", "--name", ranged, "-p", f"127.0.0.1:{first}-{first + 1}:8080-8081",
                        "busybox", "sh", "-c", "httpd -p 8081 -h /etc && exec httpd -f -p 8080 -h /etc"))
        ids.append(short_id(clean, ranged))
        lines = sorted(ok(clean.docker("port", ranged)).splitlines())
        assert lines == [f"8080/tcp -> 127.0.0.1:{first}", f"8081/tcp -> 127.0.0.1:{first + 1}"]
        for port in (first, first + 1):
            assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")
    finally:
        clean.docker("rm", "-f", udp, ranged)
    assert not any(name.endswith(tuple(ids)) for name in chains())


def test_rules_outlive_a_killed_daemon_and_go_with_the_container(need_docker_cli: None) -> None:
    with busybox_daemon() as daemon:
        port = free_port()
        ok(daemon.docker("run", "-d", "--name", "keep", "-p", f"127.0.0.1:{port}:8080", *BUSY))
        sid = short_id(daemon, "keep")
        assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")
        daemon.stop(9)
        assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")  # the kernel forwards with no daemon at all
        daemon.start()
        assert {f"pre-{sid}", f"out-{sid}", f"post-{sid}"} <= set(chains())
        assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")
        ok(daemon.docker("rm", "-f", "keep"))
        assert not any(sid in chain for chain in chains())
