"""`--data-path-addr`: a node's VXLAN traffic leaves from and arrives at the data path address it gave at `swarm
init`/`swarm join`, not its advertise address (docker's split of control and data traffic); a node that gave none
uses its advertise address. Three namespace hosts (tests/swarm_hosts.py), each with a second address on the LAN."""

from __future__ import annotations

import json
from pathlib import Path

from netns_hosts import NetnsDaemon
from swarm_hosts import HEARTBEAT, nodes, running_tasks, three_hosts
from test_swarm_services import eventually

PREFIX = "dydp"


def vxlan(d: NetnsDaemon, network_id: str, vni: int) -> tuple[str, set[str]]:
    """The overlay's VXLAN device on a host: its local address and the remote VTEPs of its forwarding entries."""
    pin = ["nsenter", f"--net={d.exec_root / 'overlay' / f'dy-ov-{network_id[:12]}'}"]
    link = d.netns.run([*pin, "ip", "-d", "-j", "link", "show", f"vx{vni}"], capture_output=True, text=True)
    assert link.returncode == 0, link.stderr
    fdb = d.netns.run([*pin, "bridge", "-j", "fdb", "show", "dev", f"vx{vni}"], capture_output=True, text=True)
    assert fdb.returncode == 0, fdb.stderr
    local = json.loads(link.stdout)[0]["linkinfo"]["info_data"]["local"]
    return local, {entry["dst"] for entry in json.loads(fdb.stdout) if entry.get("dst")}


def test_vxlan_runs_between_data_path_addresses(tmp_path: Path) -> None:
    with three_hosts(PREFIX, tmp_path) as (lan, daemons):
        manager, w1, w2 = daemons
        control = [h.address for h in lan.hosts]
        data = [address.rsplit(".", 1)[0] + f".{100 + n}" for n, address in enumerate(control, 1)]
        for host, address in zip(lan.hosts, data):
            host.ip("addr", "add", f"{address}/24", "dev", "eth0")
        manager.docker_ok("swarm", "init", "--listen-addr", f"{control[0]}:2377", "--advertise-addr", control[0],
                          "--data-path-addr", data[0], "--dispatcher-heartbeat", f"{int(HEARTBEAT)}s")
        token = manager.docker_ok("swarm", "join-token", "-q", "worker")
        w1.docker_ok("swarm", "join", "--token", token, "--listen-addr", f"{control[1]}:2377", "--advertise-addr",
                     control[1], "--data-path-addr", data[1], f"{control[0]}:2377")
        w2.docker_ok("swarm", "join", "--token", token, "--listen-addr", f"{control[2]}:2377", "--advertise-addr",
                     control[2], f"{control[0]}:2377")  # no data path address: its advertise address carries VXLAN
        eventually("three Ready/Active nodes", lambda: list(nodes(manager).values()) == [("Ready", "Active")] * 3)
        assert manager.api("GET", f"/nodes/{manager.api('GET', '/info')['Swarm']['NodeID']}")["Status"]["Addr"] \
            == control[0]  # the node's address stays its advertise address

        network_id = manager.docker_ok("network", "create", "-d", "overlay", "dpnet")
        vni = int(manager.api("GET", f"/networks/{network_id}")["Options"][
            "com.docker.network.driver.overlay.vxlanid_list"])
        manager.docker_ok("service", "create", "-d", "--name", "everywhere", "--mode", "global", "--network", "dpnet",
                          "busybox", "sleep", "1d")
        eventually("a task on each host", lambda: [len(running_tasks(d, "everywhere")) for d in daemons] == [1, 1, 1])
        addresses = [d.inspect(running_tasks(d, "everywhere")[0])["NetworkSettings"]["Networks"]["dpnet"]["IPAddress"]
                     for d in daemons]
        vteps = [data[0], data[1], control[2]]
        eventually("every host's VXLAN device knows the other hosts' VTEPs", lambda: all(
            vxlan(d, network_id, vni) == (vteps[n], set(vteps) - {vteps[n]}) for n, d in enumerate(daemons)))
        task = running_tasks(manager, "everywhere")[0]
        for address in addresses[1:]:  # the manager's task reaches both workers' tasks over VXLAN
            manager.docker_ok("exec", task, "ping", "-c", "1", "-W", "3", address)
