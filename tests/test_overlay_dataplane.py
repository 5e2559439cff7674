"""The swarm data plane on one node (network/overlay.py, lb.py, servicedns.py) on the real kernel: busybox "task"
containers made with the docker CLI (`--network none`), joined to an overlay network's namespace by the library as
the cluster agent will do; VIPs balanced by nftables from a client container, service names from the embedded DNS,
the ingress routing mesh on 127.0.0.1 and the host's own address, host-mode ports through the egress bridge, and
nothing left behind."""

from __future__ import annotations

import asyncio
import collections
import http.client
import ipaddress
import json
import secrets
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
from pyroute2 import IPRoute

from daemon_harness import Daemon
from helpers import free_port, ok, unique
from test_network_ports import host_address

from dockyard.network import bridge, ipam, netns
from dockyard.network.dns import DnsServer
from dockyard.network.lb import (VIP_TABLE, Port, Published, RoutingMesh, Vip, clear_vips,
                                 program_vips, publish_host_mode, unpublish_host_mode)
from dockyard.network.overlay import GatewayBridge, OverlayPlane, OverlaySpec, Peer
from dockyard.network.servicedns import ServiceEntry, ServiceTable, TaskEntry

APP = OverlaySpec(secrets.token_hex(32), 4300, "10.251.7.0/24", "10.251.7.1")
INGRESS = OverlaySpec(secrets.token_hex(32), 4096, "10.252.0.0/24", "10.252.0.1")


def host_links(prefix: str) -> list[str]:
    """Links in the node's namespace whose names start with `prefix`."""
    with IPRoute() as ipr:
        return [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()
                if link.get_attr("IFLA_IFNAME").startswith(prefix)]


def dockyard_chains() -> set[str]:
    done = subprocess.run(["nft", "-j", "list", "table", "ip", "dockyard"], capture_output=True, text=True)
    if done.returncode != 0:
        return set()
    return {item["chain"]["name"] for item in json.loads(done.stdout)["nftables"] if "chain" in item}


def tables_in(namespace: Path) -> str:
    return ok(subprocess.run(["nsenter", f"--net={namespace}", "nft", "list", "tables"], capture_output=True))


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[OverlayPlane]:
    """A plane with a prefix of its own; the test must leave no pin, host link or chain of it."""
    prefix = f"dyov{secrets.token_hex(2)}-"
    made = OverlayPlane(tmp_path / "overlay", prefix=prefix)
    yield made
    assert not (made.root.is_dir() and list(made.root.iterdir())), "namespace pins left"
    assert not host_links(prefix), "links left in the node's namespace"
    assert not {c for c in dockyard_chains() if c.startswith(prefix)}, "chains left in table ip dockyard"


def task(daemon: Daemon, name: str, page: str | None = None) -> Path:
    """A busybox container without networking (an httpd serving `page` when given); its namespace's path."""
    command = ["sleep", "600"] if page is None else \
        ["sh", "-c", f"mkdir /w && echo {page} > /w/index.html && exec httpd -f -p 80 -h /w"]
    ok(daemon.docker("run", "-d", "--name", name, "--network", "none", "busybox", *command))
    pid = daemon.inspect(name)["State"]["Pid"]
    return Path(f"/proc/{pid}/ns/net")


def wget(daemon: Daemon, client: str, url: str) -> str:
    done = daemon.docker("exec", client, "wget", "-q", "-O", "-", url)  # busybox wget with -T segfaults here
    return done.stdout.decode().strip() if done.returncode == 0 else f"failed ({done.returncode}): {done.stderr!r}"


def get(host: str, port: int) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode().strip()
    finally:
        conn.close()


class LoopThread:
    """An asyncio loop in a thread of the test, for the embedded DNS server."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def nslookup(daemon: Daemon, client: str, name: str) -> list[str]:
    """The addresses the resolver at 127.0.0.11 gives for `name` (busybox nslookup's answer section)."""
    done = daemon.docker("exec", client, "nslookup", name, "127.0.0.11")
    text = done.stdout.decode()
    answer = text.split("Name:", 1)[1] if "Name:" in text else ""
    return sorted(line.split()[-1] for line in answer.splitlines() if line.startswith("Address"))


def test_vip_balances_and_dns_answers_services(clean: Daemon, plane: OverlayPlane) -> None:
    names = [unique("dyov-t") for _ in range(3)]
    client = unique("dyov-c")
    addresses = ["10.251.7.11", "10.251.7.12", "10.251.7.13"]
    vip = "10.251.7.2"
    spaces = [task(clean, name, f"task{n}") for n, name in enumerate(names, 1)]
    client_ns = task(clean, client)
    loop = LoopThread()
    dns = None
    try:
        plane.ensure(APP)
        for ns, name, ip in zip(spaces, names, addresses):
            plane.attach(APP, ns, name, ip)
        plane.attach(APP, client_ns, client, "10.251.7.20")
        inside = ok(clean.docker("exec", names[0], "ip", "-o", "addr", "show", "eth0"))
        assert "10.251.7.11/24" in inside
        assert f"mtu {bridge.host_mtu() - 50}" in ok(clean.docker("exec", names[0], "ip", "link", "show", "eth0"))

        program_vips(client_ns, [Vip(vip, tuple(addresses))])
        answers = [wget(clean, client, f"http://{vip}/") for _ in range(6)]
        assert collections.Counter(answers) == {"task1": 2, "task2": 2, "task3": 2}, answers

        program_vips(client_ns, [Vip(vip, (addresses[1],))])  # a backend set changed: one atomic replace
        assert {wget(clean, client, f"http://{vip}/") for _ in range(3)} == {"task2"}
        program_vips(client_ns, [Vip(vip, ())])  # no backend: refused at once
        assert wget(clean, client, f"http://{vip}/").startswith("failed")

        records = ServiceTable()
        tasks = tuple(TaskEntry(f"web.{n}.x{n}", ip) for n, ip in enumerate(addresses, 1))
        records.replace(APP.network_id, "appnet", [ServiceEntry("web", vip, tasks),
                                                   ServiceEntry("webrr", None, tasks[:2])])
        dns = loop.run(DnsServer.start(client_ns, lambda name: records.addresses([APP.network_id], name),
                                       lambda: []))
        assert nslookup(clean, client, "web") == [vip]
        assert nslookup(clean, client, "web.appnet") == [vip]
        assert nslookup(clean, client, "tasks.web") == addresses
        assert nslookup(clean, client, "webrr") == addresses[:2]
        assert nslookup(clean, client, "web.2.x2") == [addresses[1]]
        records.drop(APP.network_id)
        assert nslookup(clean, client, "tasks.web") == []

        plane.detach(APP, names[0])
        assert "eth0" not in ok(clean.docker("exec", names[0], "ip", "-o", "link"))
        clear_vips(client_ns)
        assert VIP_TABLE not in tables_in(client_ns)
    finally:
        if dns is not None:
            loop.run(dns.close())
        loop.stop()
        plane.remove(APP)
    assert not plane.exists(APP)
    assert "eth0" not in ok(clean.docker("exec", client, "ip", "-o", "link"))  # the veth went too


def test_routing_mesh_answers_on_the_host_round_robin(clean: Daemon, plane: OverlayPlane) -> None:
    names = [unique("dyov-i") for _ in range(3)]
    addresses = ["10.252.0.11", "10.252.0.12", "10.252.0.13"]
    spaces = [task(clean, name, f"task{n}") for n, name in enumerate(names, 1)]
    port = free_port()
    mesh = RoutingMesh(plane, INGRESS, sandbox_ip="10.252.0.2")
    try:
        mesh.ensure()
        bridge.delete_link(mesh.host_if)  # as if a crash had come between the sandbox and its link
        mesh.ensure()
        mesh.ensure()
        for ns, name, ip in zip(spaces, names, addresses):
            plane.attach(INGRESS, ns, name, ip)
        mesh.publish([Published(Port(port, 80), tuple(addresses))])
        answers = [get("127.0.0.1", port) for _ in range(6)]
        assert collections.Counter(answers) == {"task1": 2, "task2": 2, "task3": 2}, answers
        assert {get(host_address(), port) for _ in range(3)} == {"task1", "task2", "task3"}
        assert {f"{plane.prefix}mesh-pre", f"{plane.prefix}mesh-out", f"{plane.prefix}mesh-post"} <= dockyard_chains()

        mesh.publish([Published(Port(port, 80), tuple(addresses[2:]))])
        assert {get("127.0.0.1", port) for _ in range(3)} == {"task3"}
        mesh.publish([])
        with pytest.raises(OSError):
            get("127.0.0.1", port)
    finally:
        mesh.remove()
    assert not netns.is_pinned(mesh.sandbox)
    for name in names:  # their ingress legs went with the ingress network's namespace
        assert "eth0" not in ok(clean.docker("exec", name, "ip", "-o", "link"))


def test_host_mode_port_through_the_egress_bridge(clean: Daemon, plane: OverlayPlane) -> None:
    name, neighbour = unique("dyov-h"), unique("dyov-n")
    space = task(clean, name, "hosttask")
    # away from 172.16/12, which the test daemons' default bridges take and leave again
    subnet = ipam.pick_subnet(bridge.host_routes() + [ipaddress.IPv4Network("172.16.0.0/12")])
    gw = GatewayBridge(f"{plane.prefix}gw", f"{ipam.default_gateway(subnet)}/{subnet.prefixlen}")
    task_ip = str(ipaddress.IPv4Address(gw.gateway) + 1)
    short = secrets.token_hex(6)
    port = free_port()
    try:
        plane.ensure(APP)
        plane.attach(APP, space, name, "10.251.7.30")
        plane.ensure_gateway(gw)
        plane.attach_gateway(gw, space, name, task_ip)
        assert f"default via {gw.gateway} dev eth1" in ok(clean.docker("exec", name, "ip", "route"))
        publish_host_mode(short, gw, task_ip, [Port(port, 80)])
        assert get("127.0.0.1", port) == "hosttask"
        assert get(host_address(), port) == "hosttask"
        # icc is off on the egress bridge (docker_gwbridge): another task reaches the gateway, not its neighbour
        plane.attach_gateway(gw, task(clean, neighbour), neighbour, str(ipaddress.IPv4Address(task_ip) + 1))
        pings = f"ping -c1 -W2 {gw.gateway} >/dev/null && echo gw; ping -c1 -W2 {task_ip} >/dev/null && echo peer; true"
        assert ok(clean.docker("exec", neighbour, "sh", "-c", pings)).split() == ["gw"]
    finally:
        unpublish_host_mode(short)
        plane.detach_gateway(gw, neighbour)
        plane.detach_gateway(gw, name)
        plane.remove(APP)
        plane.remove_gateway(gw)
    assert not {c for c in dockyard_chains() if short in c}
    assert "eth" not in ok(clean.docker("exec", name, "ip", "-o", "link"))


def test_vxlan_carries_traffic_between_two_nodes(plane: OverlayPlane, tmp_path: Path) -> None:
    """Two "nodes" (namespaces joined by a veth on an underlay subnet), each with its own plane for the same
    network: the VXLAN device appears with the first peer, carries a task-to-task connection, and goes with the
    last peer; nothing of it is ever in the test's own namespace."""
    nodes = [tmp_path / f"node{n}" for n in (1, 2)]
    planes = [OverlayPlane(tmp_path / f"ov{n}", prefix=plane.prefix) for n in (1, 2)]
    tasks = [tmp_path / f"task{n}" for n in (1, 2)]
    vteps = ["192.168.231.1", "192.168.231.2"]
    overlay_ips = ["10.251.7.41", "10.251.7.42"]
    for path in nodes + tasks:
        netns.create(path)
    try:
        underlay = bridge.Endpoint(netns=nodes[1], host_ifname=f"{plane.prefix}u", ifname="u0",
                                   address=f"{vteps[1]}/24", mac="02:42:c0:a8:e7:02", gateway=None, mtu=1500)
        netns.run_in(nodes[0], lambda: _underlay(underlay, vteps[0]))
        for n in (0, 1):
            netns.run_in(nodes[n], lambda: planes[n].ensure(APP))
            planes[n].attach(APP, tasks[n], f"t{n}", overlay_ips[n])
        for n in (0, 1):
            other = 1 - n
            peer = Peer(overlay_ips[other], ipam.mac_of(ipaddress.IPv4Address(overlay_ips[other])), vteps[other])
            netns.run_in(nodes[n], lambda: planes[n].set_peers(APP, vteps[n], [peer]))
        assert not host_links(f"vx{APP.vni}") and not host_links("dyvx")
        fdb = ok(subprocess.run(["nsenter", f"--net={planes[0].namespace(APP)}", "bridge", "fdb", "show", "dev",
                                 f"vx{APP.vni}"], capture_output=True))
        assert f"{ipam.mac_of(ipaddress.IPv4Address(overlay_ips[1]))} dst {vteps[1]}" in fdb and "self permanent" in fdb
        link = ok(subprocess.run(["nsenter", f"--net={planes[0].namespace(APP)}", "ip", "-d", "link", "show",
                                  f"vx{APP.vni}"], capture_output=True))
        assert f"vxlan id {APP.vni}" in link and "dstport 4789" in link and f"mtu {planes[0].mtu(APP)}" in link

        payload = secrets.token_bytes(2_000_000)
        assert _send_across(tasks[1], overlay_ips[1], tasks[0], payload) == payload

        def entries() -> str:
            return ok(subprocess.run(["nsenter", f"--net={planes[0].namespace(APP)}", "sh", "-c",
                                      f"bridge fdb show dev vx{APP.vni}; ip neigh"], capture_output=True))

        remote = Peer(overlay_ips[1], ipam.mac_of(ipaddress.IPv4Address(overlay_ips[1])), vteps[1])
        moved = Peer("10.251.7.43", ipam.mac_of(ipaddress.IPv4Address("10.251.7.43")), "192.168.231.9")
        for _ in range(2):  # the same list twice: no error, nothing doubled
            netns.run_in(nodes[0], lambda: planes[0].set_peers(APP, vteps[0], [remote, moved]))
        assert entries().count(moved.mac) == 2 and "dst 192.168.231.9" in entries()
        netns.run_in(nodes[0], lambda: planes[0].set_peers(APP, vteps[0], [remote]))
        assert moved.mac not in entries() and "10.251.7.43" not in entries() and remote.mac in entries()
        assert _send_across(tasks[1], overlay_ips[1], tasks[0], payload[:1000]) == payload[:1000]

        netns.run_in(nodes[0], lambda: planes[0].set_peers(APP, vteps[0], []))
        assert "vx" not in ok(subprocess.run(["nsenter", f"--net={planes[0].namespace(APP)}", "ip", "-o", "link"],
                                             capture_output=True))
    finally:
        for n in (0, 1):
            planes[n].remove(APP)
        for path in nodes + tasks:
            netns.destroy(path)


def _underlay(ep: bridge.Endpoint, address: str) -> None:
    """In node 1's namespace: the veth to node 2 with both underlay addresses."""
    bridge.add_endpoint(None, ep)
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=ep.host_ifname)[0]
        ipr.addr("add", index=index, address=address, prefixlen=24)


def _send_across(server_ns: Path, server_ip: str, client_ns: Path, payload: bytes) -> bytes:
    """Send `payload` over TCP from a socket in `client_ns` to one in `server_ns`; what the server received."""
    import socket

    listener = netns.socket_in(server_ns, socket.SOCK_STREAM, (server_ip, 9000))
    listener.setblocking(True)
    listener.settimeout(10)
    received = bytearray()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)

    server = threading.Thread(target=serve)
    server.start()

    def send() -> None:
        with socket.create_connection((server_ip, 9000), timeout=10) as sock:
            sock.sendall(payload)

    try:
        netns.run_in(client_ns, send)
        server.join(20)
    finally:
        listener.close()
    return bytes(received)
