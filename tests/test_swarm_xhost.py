"""Overlay networks and the routing mesh across namespace hosts (tests/swarm_hosts.py): tasks of one overlay on three
hosts reach each other through VXLAN, the embedded DNS and the VIP cover the tasks of every host, a published port
answers on a host running none of its tasks and balances over the others, and a dead host's tasks leave the VIP, the
DNS and the mesh; two services never take one published port."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from netns_hosts import Lan, NetnsDaemon, entered
from swarm_hosts import kill_host, nodes, node_id, running_tasks, swarm_of_three
from test_swarm_overlay import SERVE_HOSTNAME
from test_swarm_services import eventually, running

PREFIX = "dyx"


def addresses_in(nslookup: str) -> list[str]:
    """The answers of busybox's nslookup output, sorted."""
    answers = nslookup.split("Name:")[1:]
    return sorted(line.split()[1] for part in answers for line in part.splitlines() if line.startswith("Address:"))


def web_tasks(daemons: list[NetnsDaemon], network: str) -> dict[str, tuple[int, str]]:
    """Hostname of each running web task container -> (index of its host, its address on `network`)."""
    found = {}
    for n, d in enumerate(daemons):
        for name in running_tasks(d, "web"):
            container = d.inspect(name)
            found[container["Config"]["Hostname"]] = (n, container["NetworkSettings"]["Networks"][network]["IPAddress"])
    return found


def vxlan_packets(d: NetnsDaemon, network_id: str, vni: int) -> int:
    """rx + tx packets of the overlay's VXLAN device in its namespace on one host."""
    pin = d.exec_root / "overlay" / f"dy-ov-{network_id[:12]}"
    out = d.netns.run(["nsenter", f"--net={pin}", "ip", "-s", "-j", "link", "show", f"vx{vni}"], text=True)
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)[0]["stats64"]
    return int(stats["rx"]["packets"]) + int(stats["tx"]["packets"])


def requests(client: NetnsDaemon, container: str, target: str, count: int) -> list[str]:
    """What `count` plain wget requests to `target` from a task container print, one line each ("-" if failed)."""
    script = (f"for i in $(seq {count}); do timeout 3 wget -qO- http://{target}/ || echo -; done")
    return client.docker_ok("exec", container, "sh", "-c", script).split()


def mesh_requests(lan: Lan, host: int, count: int) -> list[str]:
    """What `count` requests from the switch namespace to a host's port 8080 answer ("-" for a failure)."""
    answers = []
    with entered(lan.switch):
        for _ in range(count):
            try:
                with urllib.request.urlopen(f"http://{lan.hosts[host].address}:8080/", timeout=5) as response:
                    answers.append(response.read().decode().strip())
            except OSError:
                answers.append("-")
    return answers


def test_overlay_and_routing_mesh_span_hosts(tmp_path: Path) -> None:
    with swarm_of_three(PREFIX, tmp_path) as swarm:
        lan, daemons = swarm.lan, swarm.daemons
        manager, w1, w2 = daemons
        # two services asking for one published port at the same moment: exactly one gets it
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda name: manager.docker(
                "service", "create", "-d", "--name", name, "--publish", "8080:80", "busybox", "sleep", "1d"),
                ("pa", "pb")))
        assert sorted(r.returncode for r in results) == [0, 1], [r.stderr for r in results]
        assert "port '8080' is already in use by service" in b"".join(r.stderr for r in results).decode()
        manager.docker_ok("service", "rm", "pa" if results[0].returncode == 0 else "pb")

        network_id = manager.docker_ok("network", "create", "-d", "overlay", "appnet")
        manager.docker_ok("service", "create", "-d", "--name", "web", "--replicas", "3", "--network", "appnet",
                          "--restart-delay", "1s", "busybox", "sh", "-c", SERVE_HOSTNAME)
        manager.docker_ok("service", "create", "-d", "--name", "client", "--network", "appnet",
                          "--constraint", "node.role==manager", "busybox", "sleep", "1d")
        eventually("a web task on each host", lambda: [len(running_tasks(d, "web")) for d in daemons] == [1, 1, 1])
        eventually("the client runs", lambda: len(running_tasks(manager, "client")) == 1)
        [client] = running_tasks(manager, "client")
        # a worker records only the swarm networks its tasks use
        assert "appnet" in w1.docker_ok("network", "ls", "--format", "{{.Name}}").split()
        vni = int(manager.api("GET", f"/networks/{network_id}")["Options"][
            "com.docker.network.driver.overlay.vxlanid_list"])
        vip = manager.api("GET", "/services/web")["Endpoint"]["VirtualIPs"][0]["Addr"].partition("/")[0]
        tasks = web_tasks(daemons, "appnet")
        assert sorted(h for h, _ in tasks.values()) == [0, 1, 2]

        assert addresses_in(manager.docker_ok("exec", client, "nslookup", "web")) == [vip]
        eventually("tasks.web lists the tasks of every host", lambda: addresses_in(
            manager.docker_ok("exec", client, "nslookup", "tasks.web")) == sorted(a for _, a in tasks.values()))
        before = [vxlan_packets(d, network_id, vni) for d in daemons]
        served = requests(manager, client, "web", 12)
        assert "-" not in served and set(served) <= set(tasks)
        assert len({tasks[h][0] for h in served}) >= 2, served
        after = [vxlan_packets(d, network_id, vni) for d in daemons]
        assert all(a > b for a, b in zip(after, before)), (before, after)
        # a port published by a service with tasks on the workers only answers on the manager's address too
        manager.docker_ok("service", "create", "-d", "--name", "edge", "--replicas", "2", "--publish", "8080:80",
                          "--constraint", "node.role==worker", "--restart-delay", "1s", "busybox", "sh", "-c",
                          SERVE_HOSTNAME)
        eventually("an edge task on each worker", lambda: [len(running_tasks(d, "edge")) for d in daemons] == [0, 1, 1])
        edges = {d.inspect(name)["Config"]["Hostname"]: n for n, d in enumerate(daemons)
                 for name in running_tasks(d, "edge")}
        eventually("the mesh on the manager balances over both", lambda: set(mesh_requests(lan, 0, 4)) == set(edges))
        served = mesh_requests(lan, 0, 10)
        assert "-" not in served and set(served) == set(edges), served
        with entered(lan.hosts[0]), urllib.request.urlopen("http://127.0.0.1:8080/", timeout=5) as response:
            assert response.read().decode().strip() in edges
        assert set(mesh_requests(lan, 1, 4)) <= set(edges)
        # every task's egress goes through its own host's docker_gwbridge
        for d in daemons:
            assert "docker_gwbridge" in d.docker_ok("network", "ls", "--format", "{{.Name}}").split()

        # w2's host dies: after the rescheduling its task's address is in no answer and no request fails
        w2_id = node_id(w2)
        kill_host(w2)
        eventually("w2 down", lambda: nodes(manager)[w2_id][0] == "Down", deadline=10)
        eventually("three web tasks on the others", lambda: len(running(manager, "web")) == 3
                   and len(running_tasks(manager, "web")) + len(running_tasks(w1, "web")) == 3)
        live = web_tasks(daemons[:2], "appnet")
        eventually("tasks.web follows", lambda: addresses_in(
            manager.docker_ok("exec", client, "nslookup", "tasks.web")) == sorted(a for _, a in live.values()))
        served = requests(manager, client, "web", 12)
        assert "-" not in served and set(served) <= set(live), served
        assert len({live[h][0] for h in served}) == 2, served
        # and the mesh: both edge tasks on w1 now, every request answered by them
        eventually("two edge tasks on w1", lambda: len(running(manager, "edge")) == 2
                   and len(running_tasks(w1, "edge")) == 2)
        on_w1 = {w1.inspect(name)["Config"]["Hostname"] for name in running_tasks(w1, "edge")}
        eventually("the mesh follows", lambda: set(mesh_requests(lan, 0, 4)) <= on_w1)
        served = mesh_requests(lan, 0, 10)
        assert "-" not in served and set(served) == on_w1, served
        # --publish-rm closes the port on every host
        manager.docker_ok("service", "update", "-d", "--publish-rm", "80", "edge")  # by its target port
        eventually("8080 closed everywhere", lambda: mesh_requests(lan, 0, 1) == ["-"]
                   and mesh_requests(lan, 1, 1) == ["-"])
        manager.docker_ok("service", "rm", "web", "client", "edge")
    assert str(tmp_path) not in Path("/proc/mounts").read_text()  # no overlay namespace pin or task mount left
