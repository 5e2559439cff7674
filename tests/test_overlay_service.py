"""The network service with swarm overlay networks (`NetworkService.add_overlay`), driven in-process as the cluster
agent will drive it: two sandboxes planned and attached on an overlay get eth0 there and eth1 on the egress bridge
with the default route, reach each other over the overlay, resolve each other and the service records fed to the
embedded DNS, publish a port through the egress bridge, and leave no namespace, link or chain behind."""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import subprocess
from pathlib import Path

from dnslib import DNSRecord

from helpers import free_port, ok
from test_overlay_dataplane import _send_across, dockyard_chains, host_links

from dockyard.events.bus import EventBus
from dockyard.metadata.db import MetadataDB
from dockyard.network import netns
from dockyard.network.overlay import OverlaySpec
from dockyard.network.service import NetworkService
from dockyard.network.servicedns import ServiceEntry, ServiceTable, TaskEntry
from dockyard.network.store import NetworkStore
from dockyard.util.aio import run_blocking

SPEC = OverlaySpec(secrets.token_hex(32), 4310, "10.251.9.0/24", "10.251.9.1")


def ask(namespace: Path, name: str) -> list[str]:
    """A-record answers of the resolver at 127.0.0.11, asked from inside `namespace`."""
    def query() -> list[str]:
        reply = DNSRecord.parse(DNSRecord.question(name).send("127.0.0.11", 53, timeout=3))
        return sorted(str(rr.rdata) for rr in reply.rr)

    return netns.run_in(namespace, query)


def inside(namespace: Path, *command: str) -> str:
    return ok(subprocess.run(["nsenter", f"--net={namespace}", *command], capture_output=True))


def test_containers_on_an_overlay_network(tmp_path: Path) -> None:
    prefix = f"dyov{secrets.token_hex(2)}-"
    asyncio.run(_scenario(tmp_path, prefix))
    assert not host_links(prefix), "links left in the node's namespace"
    assert not [c for c in dockyard_chains() if prefix in c], "chains left"
    assert not list((tmp_path / "exec" / "overlay").iterdir()) and not list((tmp_path / "exec" / "netns").iterdir())


async def _scenario(tmp_path: Path, prefix: str) -> None:
    records = ServiceTable()
    events = EventBus()
    events.bind_loop(asyncio.get_running_loop())
    service = NetworkService(NetworkStore(MetadataDB(tmp_path / "metadata.db")), tmp_path / "exec", events,
                             records, overlay_prefix=prefix)
    await service.restore()
    ids = [secrets.token_hex(32) for _ in range(2)]
    port = free_port()
    try:
        await service.add_overlay(SPEC, "dyovnet", attachable=True)
        await service.add_overlay(SPEC, "dyovnet", attachable=True)  # again after an agent restart: no change
        view = service.inspect("dyovnet")
        assert (view["Driver"], view["Scope"], view["Options"]) == \
            ("overlay", "swarm", {"com.docker.network.driver.overlay.vxlanid_list": "4310"})
        settings = []
        for n, cid in enumerate(ids):
            planned = service.plan({"NetworkMode": "dyovnet"}, None, {})
            host_config = {"NetworkMode": "dyovnet", "PortBindings": {"80/tcp": [{"HostPort": str(port)}]}} \
                if n == 0 else {"NetworkMode": "dyovnet"}
            settings.append(await service.attach(cid, f"/task{n}", host_config, {"80/tcp": {}} if n == 0 else None,
                                                 planned))
        sandboxes = [Path(s["SandboxKey"]) for s in settings]
        addresses = [s["Networks"]["dyovnet"]["IPAddress"] for s in settings]
        assert addresses == ["10.251.9.2", "10.251.9.3"]
        assert list(settings[0]["Networks"]) == ["dyovnet"]  # the egress bridge is not shown, as docker does
        assert "10.251.9.2/24" in inside(sandboxes[0], "ip", "-o", "addr", "show", "eth0")
        gateway = service.inspect("docker_gwbridge")["IPAM"]["Config"][0]["Gateway"]
        assert f"default via {gateway} dev eth1" in inside(sandboxes[0], "ip", "route")
        assert service.etc_plan(ids[0]).embedded

        payload = secrets.token_bytes(100_000)
        assert _send_across(sandboxes[1], addresses[1], sandboxes[0], payload) == payload

        records.replace(SPEC.network_id, "dyovnet", [ServiceEntry("web", "10.251.9.200",
                                                                  (TaskEntry("web.1.a", addresses[1]),))])
        # the resolver answers on this loop: ask from a worker thread
        assert await run_blocking(ask, sandboxes[0], "task1") == [addresses[1]]  # a container name first
        assert await run_blocking(ask, sandboxes[0], "web") == ["10.251.9.200"]
        assert await run_blocking(ask, sandboxes[0], "tasks.web") == [addresses[1]]

        await service.shutdown()  # a daemon restart: the sandboxes and their endpoints outlive it
        service = NetworkService(NetworkStore(MetadataDB(tmp_path / "metadata.db")), tmp_path / "exec", events,
                                 records, overlay_prefix=prefix)
        await service.restore()
        assert sorted(service.inspect("dyovnet")["Containers"]) == sorted(ids)
        assert await run_blocking(ask, sandboxes[1], "task0") == [addresses[0]]
        assert _send_across(sandboxes[0], addresses[0], sandboxes[1], payload) == payload

        listener = netns.socket_in(sandboxes[0], socket.SOCK_STREAM, ("0.0.0.0", 80))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
            listener.setblocking(True)
            listener.settimeout(5)
            conn, peer = listener.accept()
            conn.close()
            assert ipaddress.IPv4Address(peer[0]) in ipaddress.IPv4Network(
                service.inspect("docker_gwbridge")["IPAM"]["Config"][0]["Subnet"])  # came in over the egress leg
        finally:
            listener.close()

        overlay_ns = tmp_path / "exec" / "overlay" / f"{prefix}{SPEC.network_id[:12]}"
        await service.release(ids[0])
        assert netns.is_pinned(overlay_ns)  # task1 is still on it
        await service.release(ids[1])
        assert not netns.is_pinned(overlay_ns)  # gone with the last local endpoint
    finally:
        for cid in ids:
            await service.release(cid)
        for name in ("dyovnet", "docker_gwbridge"):
            if any(r["Name"] == name for r in service.list({})):
                await service.remove(name)
        await service.shutdown()
