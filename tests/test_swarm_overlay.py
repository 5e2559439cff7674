"""Swarm overlay networks on one node, end to end through the real docker CLI: `network create -d overlay` makes a
cluster object (subnet, VNI, attachable), services on it get a VIP and their tasks addresses from the leader's
allocator, and from a container on the network `<service>` resolves to the VIP, `tasks.<service>` to the running
tasks, and the VIP balances over them — following scale-ups and killed tasks with no stale address."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import Iterator

import pytest

from daemon_harness import Daemon, busybox_daemon
from helpers import free_port
from test_swarm_services import assert_overlays_gone, eventually, fetch, running, swarm_containers

ERR_NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
                   'node to swarm and try again.')
SERVE_HOSTNAME = "mkdir -p /tmp/w; hostname > /tmp/w/index.html; exec httpd -f -p 80 -h /tmp/w"


def failure(result: subprocess.CompletedProcess) -> str:
    """The docker CLI's error text of a command that must fail."""
    assert result.returncode != 0, result.stdout
    return result.stderr.decode()


def names(d: Daemon) -> list[str]:
    """`docker network ls` names."""
    return d.docker_ok("network", "ls", "--format", "{{.Name}}").split()


def from_client(d: Daemon, network: str, script: str) -> str:
    """Run a shell script in a throwaway busybox container on `network`; its output."""
    return d.docker_ok("run", "--rm", "--network", network, "busybox", "sh", "-c", script)


def lookup(d: Daemon, network: str, name: str) -> list[str]:
    """The addresses busybox's nslookup gets for `name` from the embedded DNS, sorted."""
    out = from_client(d, network, f"nslookup {name} 2>/dev/null || true")
    answers = out.split("Name:")[1:]
    return sorted(line.split()[1] for part in answers for line in part.splitlines() if line.startswith("Address:"))


def task_addresses(d: Daemon, service: str, network_id: str) -> list[str]:
    """The addresses of the service's running tasks on a network, from the tasks' NetworksAttachments."""
    return sorted(a["Addresses"][0].partition("/")[0] for t in running(d, service)
                  for a in t["NetworksAttachments"] if a["Network"]["ID"] == network_id)


@pytest.fixture(scope="module")
def swarm() -> Iterator[Daemon]:
    """A daemon with busybox, refusing overlays until it is a single-node swarm manager."""
    with busybox_daemon() as d:
        refused = d.docker("network", "create", "-d", "overlay", "early")
        assert ERR_NOT_MANAGER in failure(refused)
        d.docker_ok("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
        try:
            yield d
        finally:
            d.docker("swarm", "leave", "--force")
            assert [n for n in names(d) if n not in ("bridge", "host", "none", "docker_gwbridge")] == []
            assert_overlays_gone(d)


def test_overlay_networks_are_cluster_objects(swarm: Daemon) -> None:
    d = swarm
    network_id = d.docker_ok("network", "create", "-d", "overlay", "--attachable", "--label", "team=a", "objnet")
    rows = [line.split() for line in d.docker_ok("network", "ls", "--filter", "driver=overlay").splitlines()]
    assert rows[0] == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [network_id[:12], "objnet", "overlay", "swarm"] in rows[1:]
    shown = json.loads(d.docker_ok("network", "inspect", "objnet"))[0]
    assert shown["Id"] == network_id and shown["Driver"] == "overlay" and shown["Scope"] == "swarm"
    assert shown["Attachable"] is True and shown["Internal"] is False and shown["Ingress"] is False
    assert shown["Labels"] == {"team": "a"}
    assert shown["IPAM"]["Config"] == [{"Subnet": "10.0.1.0/24", "Gateway": "10.0.1.1"}]  # ingress has 10.0.0.0/24
    assert shown["Options"] == {"com.docker.network.driver.overlay.vxlanid_list": "4097"}
    assert d.api("GET", f"/networks/{network_id[:8]}")["Id"] == network_id

    second = json.loads(d.docker_ok("network", "inspect", d.docker_ok(
        "network", "create", "-d", "overlay", "--internal", "--subnet", "10.77.0.0/16", "--gateway", "10.77.0.254",
        "objnet2")))[0]
    assert second["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/16", "Gateway": "10.77.0.254"}]
    assert second["Internal"] is True and second["Attachable"] is False
    assert second["Options"]["com.docker.network.driver.overlay.vxlanid_list"] == "4098"

    assert "network with name objnet already exists" in failure(d.docker("network", "create", "-d", "overlay",
                                                                         "objnet"))
    assert "Pool overlaps with other one on this address space" in failure(d.docker(
        "network", "create", "-d", "overlay", "--subnet", "10.0.1.128/25", "clash"))
    assert "encrypted overlay networks need IPsec ESP in the kernel" in failure(d.docker(
        "network", "create", "-d", "overlay", "--opt", "encrypted", "secret"))
    assert "network with name objnet already exists" in failure(d.docker("network", "create", "objnet"))

    ingress_id = d.api("GET", "/networks/ingress")["Id"]
    prefixed = d.docker_ok("network", "create", "-d", "overlay", ingress_id[:2])  # a name, not an id prefix
    assert d.api("GET", f"/networks/{ingress_id[:2]}")["Id"] == prefixed
    d.docker_ok("network", "rm", ingress_id[:2])

    d.docker_ok("network", "create", "mybridge")
    assert "The network mybridge cannot be used with services. Only networks scoped to the swarm can be used, such " \
           "as those created with the overlay driver." in failure(d.docker(
               "service", "create", "-d", "--network", "mybridge", "busybox", "true"))
    d.docker_ok("network", "rm", "mybridge")
    assert 'Service cannot be explicitly attached to the ingress network "ingress"' in failure(d.docker(
        "service", "create", "-d", "--network", "ingress", "busybox", "true"))

    d.docker_ok("network", "rm", "objnet", "objnet2")
    assert "objnet" not in names(d) and "objnet2" not in names(d)
    third = json.loads(d.docker_ok("network", "inspect", d.docker_ok("network", "create", "-d", "overlay", "again")))
    assert third[0]["IPAM"]["Config"][0]["Subnet"] == "10.0.1.0/24"  # freed with the network
    d.docker_ok("network", "rm", "again")


def test_service_vip_dns_and_load_balancing_follow_the_tasks(swarm: Daemon) -> None:
    d = swarm
    network_id = d.docker_ok("network", "create", "-d", "overlay", "--attachable", "mynet")
    d.docker_ok("service", "create", "-d", "--name", "web", "--replicas", "2", "--network", "mynet", "busybox",
                "sh", "-c", SERVE_HOSTNAME)
    eventually("2 running web tasks", lambda: len(running(d, "web")) == 2)

    service = d.api("GET", "/services/web")
    assert service["Endpoint"]["Spec"] == {"Mode": "vip"}
    [vip] = service["Endpoint"]["VirtualIPs"]
    assert vip["NetworkID"] == network_id and vip["Addr"].endswith("/24") and vip["Addr"].startswith("10.0.1.")
    vip_address = vip["Addr"].partition("/")[0]
    task = running(d, "web")[0]
    [attachment] = task["NetworksAttachments"]
    assert attachment["Network"]["ID"] == network_id and attachment["Network"]["Spec"]["Name"] == "mynet"
    assert attachment["Network"]["DriverState"]["Name"] == "overlay"
    address = attachment["Addresses"][0].partition("/")[0]
    container = d.inspect(task["Status"]["ContainerStatus"]["ContainerID"])
    assert container["NetworkSettings"]["Networks"]["mynet"]["IPAddress"] == address

    refused = failure(d.docker("network", "rm", "mynet"))
    assert f"network {network_id} is in use by service {service['ID']}" in refused

    assert lookup(d, "mynet", "web") == [vip_address]
    assert lookup(d, "mynet", "tasks.web") == task_addresses(d, "web", network_id)
    hostnames = {d.inspect(t["Status"]["ContainerStatus"]["ContainerID"])["Config"]["Hostname"]
                 for t in running(d, "web")}
    served = from_client(d, "mynet", "for i in 1 2 3 4 5 6; do wget -qO- http://web/; done").split()
    assert len(served) == 6 and set(served) == hostnames
    inside = task["Status"]["ContainerStatus"]["ContainerID"]  # from a task: its own service's VIP and names
    assert "Address: " + vip_address in d.docker_ok("exec", inside, "nslookup", "web")
    served = d.docker_ok("exec", inside, "sh", "-c", "for i in 1 2 3 4; do wget -qO- http://web/; done").split()
    assert set(served) == hostnames

    d.docker_ok("service", "scale", "-d", "web=3")
    eventually("3 running web tasks", lambda: len(running(d, "web")) == 3)
    eventually("tasks.web has the third task", lambda: lookup(d, "mynet", "tasks.web") == task_addresses(
        d, "web", network_id) and len(task_addresses(d, "web", network_id)) == 3)

    victim = running(d, "web")[0]
    os.kill(d.inspect(victim["Status"]["ContainerStatus"]["ContainerID"])["State"]["Pid"], signal.SIGKILL)
    eventually("a replacement runs", lambda: len(running(d, "web")) == 3 and victim["ID"] not in
               {t["ID"] for t in running(d, "web")})
    eventually("tasks.web follows", lambda: lookup(d, "mynet", "tasks.web") == task_addresses(d, "web", network_id))
    hostnames = {d.inspect(t["Status"]["ContainerStatus"]["ContainerID"])["Config"]["Hostname"]
                 for t in running(d, "web")}
    served = from_client(d, "mynet", "for i in 1 2 3 4 5 6 7 8 9; do wget -qO- http://web/; done").split()
    assert len(served) == 9 and set(served) == hostnames  # every request answered: no stale backend

    d.docker_ok("service", "create", "-d", "--name", "rr", "--endpoint-mode", "dnsrr", "--replicas", "2",
                "--network", "mynet", "busybox", "sleep", "600")
    eventually("2 running rr tasks", lambda: len(running(d, "rr")) == 2)
    assert "VirtualIPs" not in d.api("GET", "/services/rr")["Endpoint"]
    eventually("rr resolves to its tasks", lambda: lookup(d, "mynet", "rr") == task_addresses(d, "rr", network_id))

    d.docker_ok("service", "rm", "web", "rr")
    eventually("the tasks are gone", lambda: not swarm_containers(d, "web") and not swarm_containers(d, "rr"))
    eventually("mynet removed", lambda: d.docker("network", "rm", "mynet").returncode == 0)
    eventually("its record gone here", lambda: "mynet" not in names(d))


def test_plain_containers_join_attachable_overlays_only(swarm: Daemon) -> None:
    d = swarm
    d.docker_ok("network", "create", "-d", "overlay", "closed")
    refused = failure(d.docker("run", "--rm", "--network", "closed", "busybox", "true"))
    assert "Could not attach to network closed: rpc error: code = PermissionDenied desc = network closed not " \
           "manually attachable" in refused
    d.docker("container", "prune", "-f")

    network_id = d.docker_ok("network", "create", "-d", "overlay", "--attachable", "open")
    d.docker_ok("service", "create", "-d", "--name", "api", "--network", "open", "busybox", "sh", "-c",
                SERVE_HOSTNAME)
    eventually("the api task runs", lambda: running(d, "api"))
    client = d.docker_ok("run", "-d", "--name", "client", "--network", "open", "busybox", "sleep", "600")
    mine = d.inspect(client)["NetworkSettings"]["Networks"]["open"]["IPAddress"]
    vip = d.api("GET", "/services/api")["Endpoint"]["VirtualIPs"][0]["Addr"].partition("/")[0]
    assert mine not in (vip, *task_addresses(d, "api", network_id))  # the allocator's, not a taken one
    hostname = d.inspect(running(d, "api")[0]["Status"]["ContainerStatus"]["ContainerID"])["Config"]["Hostname"]
    fetched = eventually("the VIP answers the plain container", lambda: d.docker(
        "exec", "client", "wget", "-qO-", f"http://{vip}/").stdout.decode().strip())
    assert fetched == hostname
    refused = failure(d.docker("network", "rm", "open"))
    assert f"network {network_id} is in use by service" in refused

    second = d.docker_ok("network", "create", "-d", "overlay", "--attachable", "second")
    d.docker_ok("service", "update", "-d", "--network-add", "second", "api")
    vips = eventually("a VIP on both networks", lambda: {
        v["NetworkID"]: v["Addr"] for v in d.api("GET", "/services/api")["Endpoint"].get("VirtualIPs", [])
        if len(d.api("GET", "/services/api")["Endpoint"]["VirtualIPs"]) == 2})
    assert vips[network_id].partition("/")[0] == vip and vips[second].startswith("10.0.")
    eventually("api answers on the second network", lambda: lookup(d, "second", "api") == [
        vips[second].partition("/")[0]] and from_client(d, "second", "wget -qO- http://api/ || true"))
    d.docker_ok("service", "update", "-d", "--network-rm", "second", "api")
    eventually("the second VIP released", lambda: len(d.api("GET", "/services/api")["Endpoint"]["VirtualIPs"]) == 1)
    eventually("second removed", lambda: d.docker("network", "rm", "second").returncode == 0)
    d.docker_ok("service", "rm", "api")
    eventually("api's task gone", lambda: not swarm_containers(d, "api"))
    assert f"network {network_id} is in use by task" in failure(d.docker("network", "rm", "open"))
    d.docker_ok("rm", "-f", "client")
    eventually("open removed", lambda: d.docker("network", "rm", "open").returncode == 0)
    d.docker_ok("network", "rm", "closed")
    eventually("both records gone here", lambda: "open" not in names(d) and "closed" not in names(d))


def test_vip_and_names_come_back_after_the_daemon_is_killed(swarm: Daemon) -> None:
    d = swarm
    network_id = d.docker_ok("network", "create", "-d", "overlay", "--attachable", "kept")
    port = free_port()
    d.docker_ok("service", "create", "-d", "--name", "svc", "--replicas", "2", "--network", "kept", "-p",
                f"{port}:80", "busybox", "sh", "-c", SERVE_HOSTNAME)
    eventually("2 running svc tasks", lambda: len(running(d, "svc")) == 2)
    ingress_id = d.api("GET", "/networks/ingress")["Id"]
    vips = d.api("GET", "/services/svc")["Endpoint"]["VirtualIPs"]
    assert [v["NetworkID"] for v in vips] == [ingress_id, network_id]  # the allocator's, ingress first
    sandbox = d.api("GET", "/networks/ingress")["Containers"]["ingress-sbox"]  # docker's ingress-endpoint
    assert sandbox["Name"] == "ingress-endpoint" and sandbox["IPv4Address"].startswith("10.0.0.")
    assert vips[0]["Addr"].startswith("10.0.0.") and vips[0]["Addr"] != sandbox["IPv4Address"]
    attached = running(d, "svc")[0]["NetworksAttachments"]
    assert [a["Network"]["ID"] for a in attached] == [ingress_id, network_id]
    container = d.inspect(running(d, "svc")[0]["Status"]["ContainerStatus"]["ContainerID"])
    assert container["NetworkSettings"]["Networks"]["ingress"]["IPAddress"] == \
        attached[0]["Addresses"][0].partition("/")[0]
    before = sorted(t["ID"] for t in running(d, "svc"))
    d.stop(signal.SIGKILL)
    d.start()
    assert sorted(t["ID"] for t in running(d, "svc")) == before  # adopted, not restarted
    eventually("names served again", lambda: lookup(d, "kept", "tasks.svc") == task_addresses(d, "svc", network_id))
    hostnames = {d.inspect(t["Status"]["ContainerStatus"]["ContainerID"])["Config"]["Hostname"]
                 for t in running(d, "svc")}
    served = from_client(d, "kept", "for i in 1 2 3 4; do wget -qO- http://svc/; done").split()
    assert set(served) == hostnames
    assert eventually("the mesh answers", lambda: fetch(port, "/")) in {h + "\n" for h in hostnames}
    d.docker_ok("service", "rm", "svc")
    eventually("kept removed", lambda: d.docker("network", "rm", "kept").returncode == 0)
    eventually("its record gone here", lambda: "kept" not in names(d))
