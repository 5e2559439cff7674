"""Networking through the real docker CLI and SDK: user networks with DNS, isolation, published ports, clean-up."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from daemon_harness import Daemon, busybox_daemon
from helpers import fetch, free_port, ok, unique


def links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout


def nft_ruleset() -> str:
    return subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=True).stdout


def assert_no_trace(daemon: Daemon, network_id: str) -> None:
    """No bridge, firewall chain or namespace pin of the network is left."""
    bridge = f"dy-{network_id[:12]}"
    assert bridge not in links()
    assert bridge not in nft_ruleset()


def pins(daemon: Daemon) -> list[str]:
    path = daemon.exec_root / "netns"
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


def test_user_network_names_and_isolation(clean: Daemon, need_docker_cli: None) -> None:
    app, other, db = unique("app"), unique("other"), unique("db")
    app_id = ok(clean.docker("network", "create", app))
    other_id = ok(clean.docker("network", "create", "--label", "team=net", other))
    try:
        ok(clean.docker("run", "-d", "--name", db, "--network", app, "--network-alias", "store",
                        "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"))
        container_id = ok(clean.docker("inspect", "-f", "{{.Id}}", db))
        for name in (db, "store", container_id[:12]):
            out = clean.docker("run", "--rm", "--network", app, "busybox", "wget", "-qO-", f"http://{name}:8080/hostname")
            assert ok(out) == container_id[:12], name
        blocked = clean.docker("run", "--rm", "--network", other, "busybox", "wget", "-T", "3", "-qO-",
                               f"http://{db}:8080/hostname")
        assert blocked.returncode != 0
        ip = ok(clean.docker("inspect", "-f", "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % app, db))
        probe = clean.docker("run", "--rm", "--network", other, "busybox", "sh", "-c",
                             f"nc -w 2 {ip} 8080 </dev/null && echo reached || echo blocked")
        assert ok(probe) == "blocked"
        resolv = ok(clean.docker("run", "--rm", "--network", app, "busybox", "cat", "/etc/resolv.conf"))
        assert "nameserver 127.0.0.11" in resolv
        inspect = json.loads(ok(clean.docker("network", "inspect", app)))[0]
        assert inspect["Containers"][container_id]["Name"] == db
        assert inspect["Containers"][container_id]["IPv4Address"] == f"{ip}/{int(inspect['IPAM']['Config'][0]['Subnet'].split('/')[1])}"
        in_use = clean.docker("network", "rm", app)
        assert in_use.returncode != 0 and "active endpoints" in in_use.stderr.decode()
        listed = ok(clean.docker("network", "ls", "--filter", "label=team=net", "--format", "{{.Name}}"))
        assert listed == other
    finally:
        clean.docker("rm", "-f", db)
        clean.docker("network", "rm", app, other)
    assert_no_trace(clean, app_id)
    assert_no_trace(clean, other_id)


def test_publish_on_loopback_and_all_exposed(clean: Daemon, need_docker_cli: None) -> None:
    port = free_port()
    web, everything = unique("web"), unique("pub")
    try:
        ok(clean.docker("run", "-d", "--name", web, "-p", f"127.0.0.1:{port}:8080", "busybox",
                        "httpd", "-f", "-p", "8080", "-h", "/etc"))
        assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")
        assert ok(clean.docker("port", web)) == f"8080/tcp -> 127.0.0.1:{port}"
        ip = ok(clean.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", web))
        assert ip and ok(clean.docker("inspect", "-f", "{{.NetworkSettings.Gateway}}", web))
        ok(clean.docker("run", "-d", "--name", everything, "--expose", "8080", "-P", "busybox",
                        "httpd", "-f", "-p", "8080", "-h", "/etc"))
        mapping = ok(clean.docker("port", everything, "8080/tcp")).splitlines()[0]
        host_port = int(mapping.rsplit(":", 1)[1])
        assert host_port > 0
        assert "root:" in fetch(f"http://127.0.0.1:{host_port}/passwd")
    finally:
        clean.docker("rm", "-f", web, everything)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/passwd", timeout=2)


def test_sdk_connect_with_alias_and_ports(sdk, clean: Daemon) -> None:
    network = sdk.networks.create(unique("sdknet"), driver="bridge")
    port = free_port()
    server = None
    try:
        server = sdk.containers.run("busybox", ["httpd", "-f", "-p", "8080", "-h", "/etc"], detach=True,
                                    ports={"8080/tcp": ("127.0.0.1", port)}, name=unique("srv"))
        network.connect(server, aliases=["api"])
        assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")
        out = sdk.containers.run("busybox", ["wget", "-qO-", "http://api:8080/hostname"], network=network.name,
                                 remove=True)
        assert out.decode().strip() == server.id[:12]
        network.reload()
        assert server.id in network.attrs["Containers"]
        server.reload()
        assert set(server.attrs["NetworkSettings"]["Networks"]) == {"bridge", network.name}
        network.disconnect(server)
        network.reload()
        assert not network.attrs["Containers"]
    finally:
        if server is not None:
            server.remove(force=True)
        network.remove()
    assert_no_trace(clean, network.id)


def test_restart_keeps_addresses_and_ports_and_sigkill_leaves_nothing(need_docker_cli: None) -> None:
    with busybox_daemon() as daemon:
        port = free_port()
        default_id = ok(daemon.docker("network", "inspect", "-f", "{{.Id}}", "bridge"))
        net_id = ok(daemon.docker("network", "create", "keep"))
        ok(daemon.docker("run", "-d", "--name", "keeper", "--network", "keep", "-p", f"127.0.0.1:{port}:8080",
                         "busybox", "httpd", "-f", "-p", "8080", "-h", "/etc"))
        ok(daemon.docker("run", "-d", "--name", "brief", "--network", "keep", "busybox", "sleep", "3"))
        before = ok(daemon.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "keeper"))
        assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")
        daemon.stop(9)
        time.sleep(3.5)  # "brief" exits while the daemon is down
        daemon.start()
        assert ok(daemon.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", "keeper")) == before
        assert "root:" in fetch(f"http://127.0.0.1:{port}/passwd")
        assert ok(daemon.docker("inspect", "-f", "{{.State.Running}} {{.NetworkSettings.SandboxKey}}", "brief")) \
            == "false"
        out = daemon.docker("run", "--rm", "--network", "keep", "busybox", "wget", "-qO-", "http://keeper:8080/hostname")
        assert ok(out)
        assert len(pins(daemon)) == 1
        ok(daemon.docker("rm", "-f", "keeper", "brief"))
        assert pins(daemon) == []
        ok(daemon.docker("network", "prune", "-f"))
        assert_no_trace(daemon, net_id)
    assert f"dockyard:{default_id[:24]}" not in links()  # idle bridges go when the daemon stops


def test_embedded_dns_answers_over_tcp(clean: Daemon, need_docker_cli: None) -> None:
    """127.0.0.11 answers over TCP too (length-prefixed, several queries on one connection), as over UDP."""
    net, db = unique("tcpdns"), unique("db")
    ok(clean.docker("network", "create", net))
    try:
        ok(clean.docker("run", "-d", "--name", db, "--network", net, "--network-alias", "store",
                        "busybox", "sleep", "300"))
        ip = ok(clean.docker("inspect", "-f", "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % net, db))
        pid = ok(clean.docker("inspect", "-f", "{{.State.Pid}}", db))
        script = ("import socket, struct, sys\n"
                  "from dnslib import DNSRecord\n"
                  "s = socket.create_connection(('127.0.0.11', 53), timeout=5)\n"
                  "for name in sys.argv[1:]:\n"
                  "    q = DNSRecord.question(name).pack()\n"
                  "    s.sendall(struct.pack('!H', len(q)) + q)\n"
                  "    n = struct.unpack('!H', s.recv(2, socket.MSG_WAITALL))[0]\n"
                  "    reply = DNSRecord.parse(s.recv(n, socket.MSG_WAITALL))\n"
                  "    print(name, ','.join(str(r.rdata) for r in reply.rr))\n")
        result = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", script, db, "store"],
                                capture_output=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode().split("\n")[:2] == [f"{db} {ip}", f"store {ip}"], result.stdout
    finally:
        clean.docker("rm", "-f", db)
        clean.docker("network", "rm", net)
