"""IPv6 on bridge networks as dockerd v28 has it: EnableIPv6, v6 pools in IPAM, container addresses and inspect
fields, the bridge's gateway address, ping6, AAAA answers from the embedded DNS and /etc/hosts."""

from __future__ import annotations

import ipaddress
import json
import secrets
import signal
import subprocess

import pytest

from daemon_harness import Daemon
from helpers import ok, unique


def _subnet6() -> str:
    """A /64 of fd00:db8::/32 no other test run uses (fd00:db8:<16 random bits>::/64)."""
    return f"fd00:db8:{secrets.randbelow(0xffff):x}::/64"


def _ip6_chains() -> set[str]:
    """The chains of the daemon's `ip6 dockyard` nftables table (empty when there is none)."""
    done = subprocess.run(["nft", "-j", "list", "table", "ip6", "dockyard"], capture_output=True, text=True)
    if done.returncode != 0:
        return set()
    return {item["chain"]["name"] for item in json.loads(done.stdout)["nftables"] if "chain" in item}


def _network(daemon: Daemon, name: str) -> dict:
    return json.loads(ok(daemon.docker("network", "inspect", name)))[0]


def test_ipv6_network_and_containers(clean: Daemon, need_docker_cli: None) -> None:
    net, first, second = unique("v6net"), unique("v6a"), unique("v6b")
    subnet = _subnet6()
    prefix = subnet.split("::")[0]
    ok(clean.docker("network", "create", "--ipv6", "--subnet", subnet, net))
    try:
        doc = _network(clean, net)
        assert doc["EnableIPv6"] is True
        v6, v4 = doc["IPAM"]["Config"]  # the pool asked for, then the IPv4 one dockerd picks itself
        assert v6 == {"Subnet": subnet, "Gateway": f"{prefix}::1"}
        v4_subnet = ipaddress.ip_network(v4["Subnet"])
        assert v4_subnet.version == 4 and v4["Gateway"] == str(v4_subnet.network_address + 1)
        bridge = ok(clean.docker("run", "--rm", "--network", "host", "busybox", "ip", "-6", "-o", "addr"))
        assert f"inet6 {prefix}::1/64" in bridge  # the bridge carries the IPv6 gateway

        ok(clean.docker("run", "-d", "--name", first, "--network", net, "busybox", "sleep", "300"))
        ok(clean.docker("run", "-d", "--name", second, "--network", net, "--ip6", f"{prefix}::50",
                        "--network-alias", "other", "busybox", "sleep", "300"))
        entry = clean.inspect(first)["NetworkSettings"]["Networks"][net]
        assert (entry["GlobalIPv6Address"], entry["GlobalIPv6PrefixLen"], entry["IPv6Gateway"]) == \
            (f"{prefix}::2", 64, f"{prefix}::1")
        assert entry["IPAMConfig"] is None
        entry = clean.inspect(second)["NetworkSettings"]["Networks"][net]
        assert entry["GlobalIPv6Address"] == f"{prefix}::50"
        assert entry["IPAMConfig"] == {"IPv6Address": f"{prefix}::50"}
        containers = {c["Name"]: c for c in _network(clean, net)["Containers"].values()}
        assert containers[second]["IPv6Address"] == f"{prefix}::50/64"
        assert containers[first]["IPv6Address"] == f"{prefix}::2/64"

        assert ok(clean.docker("exec", first, "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6")) == "0"
        assert f"inet6 {prefix}::2/64" in ok(clean.docker("exec", first, "ip", "-6", "-o", "addr", "show", "eth0"))
        assert f"default via {prefix}::1" in ok(clean.docker("exec", first, "ip", "-6", "route"))
        ok(clean.docker("exec", first, "ping", "-6", "-c", "1", "-W", "5", f"{prefix}::50"))
        ok(clean.docker("exec", first, "ping", "-6", "-c", "1", "-W", "5", f"{prefix}::1"))
        ok(clean.docker("exec", second, "ping", "-6", "-c", "1", "-W", "5", first))  # by name, through AAAA

        answer = ok(clean.docker("exec", first, "nslookup", "-type=AAAA", "other"))
        assert f"{prefix}::50" in answer
        answer = ok(clean.docker("exec", first, "nslookup", "-type=A", second))
        assert f"{prefix}::50" not in answer and entry["IPAddress"] in answer

        hosts = ok(clean.docker("exec", second, "cat", "/etc/hosts")).splitlines()
        hostname = clean.inspect(second)["Config"]["Hostname"]
        assert hosts[-2:] == [f"{entry['IPAddress']}\t{hostname}", f"{prefix}::50\t{hostname}"]

        ok(clean.docker("stop", "-t", "0", second))
        entry = clean.inspect(second)["NetworkSettings"]["Networks"][net]
        assert (entry["GlobalIPv6Address"], entry["GlobalIPv6PrefixLen"], entry["IPv6Gateway"]) == ("", 0, "")

        bridge_name = f"dy-{doc['Id'][:12]}"  # isolation and masquerade for the IPv6 pool, in our ip6 table
        assert {f"fwd-{bridge_name}", f"nat-{bridge_name}"} <= _ip6_chains()
        ok(clean.docker("rm", "-f", first, second))
        ok(clean.docker("network", "rm", net))
        assert not {f"fwd-{bridge_name}", f"nat-{bridge_name}"} & _ip6_chains()
    finally:
        clean.docker("rm", "-f", first, second)
        clean.docker("network", "rm", net)


def test_ipv4_only_names_answer_aaaa_empty_and_interfaces_have_no_ipv6(clean: Daemon, need_docker_cli: None) -> None:
    net, box = unique("v4net"), unique("v4box")
    ok(clean.docker("network", "create", net))
    try:
        ok(clean.docker("run", "-d", "--name", box, "--network", net, "busybox", "sleep", "300"))
        assert clean.inspect(box)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"] == ""
        assert _network(clean, net)["EnableIPv6"] is False
        # dockerd disables IPv6 on an interface of an IPv4-only network
        assert ok(clean.docker("exec", box, "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6")) == "1"
        done = clean.docker("exec", box, "nslookup", "-type=AAAA", box)
        said = (done.stdout + done.stderr).decode()
        assert done.returncode == 0 and "can't find" not in said and "Address:\t127.0.0.11:53" in said, said
        picked = ipaddress.ip_network(_network(clean, net)["IPAM"]["Config"][0]["Subnet"])
        refused = clean.docker("create", "--network", net, "--ip", str(picked.network_address + 9), "busybox")
        assert b"user specified IP address is supported only when connecting to networks with user configured " \
            b"subnets" in refused.stderr  # the pool was picked, not configured
    finally:
        clean.docker("rm", "-f", box)
        clean.docker("network", "rm", net)


def test_ipv6_without_a_subnet_gets_a_ula_pool(clean: Daemon, need_docker_cli: None) -> None:
    net, box = unique("v6auto"), unique("v6auto")
    ok(clean.docker("network", "create", "--ipv6", net))
    try:
        v4, v6 = _network(clean, net)["IPAM"]["Config"]
        subnet = ipaddress.ip_network(v6["Subnet"])
        assert subnet.version == 6 and subnet.prefixlen == 64 and str(subnet).startswith("fd")
        assert ipaddress.ip_network(v4["Subnet"]).version == 4
        ok(clean.docker("run", "-d", "--name", box, "--network", net, "busybox", "sleep", "300"))
        assert clean.inspect(box)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"] == \
            str(subnet.network_address + 2)
        refused = clean.docker("run", "--rm", "--network", net, "--ip6", str(subnet.network_address + 9),
                               "busybox", "true")
        assert refused.returncode == 125
        assert b"user specified IP address is supported only when connecting to networks with user configured " \
            b"subnets" in refused.stderr
    finally:
        clean.docker("rm", "-f", box)
        clean.docker("network", "rm", net)


def test_ipv6_through_the_sdk(sdk, clean: Daemon) -> None:
    import docker

    subnet = _subnet6()
    prefix = subnet.split("::")[0]
    pool = docker.types.IPAMPool(subnet=subnet, gateway=f"{prefix}::fe")
    network = sdk.networks.create(unique("v6sdk"), enable_ipv6=True, ipam=docker.types.IPAMConfig(pool_configs=[pool]))
    box = None
    try:
        assert network.attrs["EnableIPv6"] is True
        assert network.attrs["IPAM"]["Config"][0] == {"Subnet": subnet, "Gateway": f"{prefix}::fe"}
        box = sdk.containers.run("busybox", ["sleep", "300"], detach=True)
        network.connect(box, ipv6_address=f"{prefix}::7")
        box.reload()
        entry = box.attrs["NetworkSettings"]["Networks"][network.name]
        assert (entry["GlobalIPv6Address"], entry["IPv6Gateway"]) == (f"{prefix}::7", f"{prefix}::fe")
        code, out = box.exec_run(["ping", "-6", "-c", "1", "-W", "5", f"{prefix}::fe"])
        assert code == 0, out
        with_v4 = sdk.api.create_networking_config({network.name: sdk.api.create_endpoint_config(
            ipv6_address="10.1.2.3")})
        with pytest.raises(docker.errors.APIError) as refused:
            sdk.api.create_container("busybox", ["true"], networking_config=with_v4,
                                     host_config=sdk.api.create_host_config(network_mode=network.name))
        assert refused.value.status_code == 400
        assert "invalid IPv6 address: 10.1.2.3" in refused.value.explanation
        other = sdk.containers.create("busybox", ["true"])
        with pytest.raises(docker.errors.APIError) as refused:
            network.connect(other, ipv6_address="fd00:dead::7")
        assert refused.value.status_code == 400
        assert "no configured subnet or ip-range contain the IP address fd00:dead::7" in refused.value.explanation
    finally:
        if box is not None:
            box.remove(force=True)
        network.remove()


def test_ipv6_and_links_survive_a_daemon_restart(own_daemon: Daemon, need_docker_cli: None) -> None:
    d = own_daemon
    net, box, child, parent = unique("v6keep"), unique("v6keep"), unique("kid"), unique("parent")
    subnet = _subnet6()
    prefix = subnet.split("::")[0]
    ok(d.docker("network", "create", "--ipv6", "--subnet", subnet, net))
    try:
        ok(d.docker("run", "-d", "--name", box, "--network", net, "busybox", "sleep", "300"))
        ok(d.docker("run", "-d", "--name", child, "busybox", "sleep", "300"))
        ok(d.docker("create", "--name", parent, "--link", f"{child}:c", "busybox", "sleep", "300"))
        d.stop(signal.SIGKILL)
        d.start()
        ok(d.docker("exec", box, "ping", "-6", "-c", "1", "-W", "5", f"{prefix}::1"))
        ok(d.docker("run", "--rm", "--network", net, "busybox", "ping", "-6", "-c", "1", "-W", "5", box))
        assert d.inspect(parent)["HostConfig"]["Links"] == [f"/{child}:/{parent}/c"]
        ok(d.docker("start", parent))
        assert ok(d.docker("exec", parent, "sh", "-c", "echo $C_NAME")) == f"/{parent}/c"
    finally:
        d.docker("rm", "-f", box, child, parent)
        d.docker("network", "rm", net)
