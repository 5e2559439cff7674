"""Network and endpoint settings as dockerd keeps and shows them: options echoed, DriverOpts, auxiliary addresses."""

from __future__ import annotations

import json
import secrets

import pytest

from daemon_harness import Daemon
from helpers import ok, unique


def _subnet() -> str:
    """A /24 unlikely to be taken on the host (10.2xx.y.0/24)."""
    return f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250)}.0/24"


def _network(daemon: Daemon, name: str) -> dict:
    return json.loads(ok(daemon.docker("network", "inspect", name)))[0]


def test_network_options_echo_the_request(clean: Daemon, need_docker_cli: None) -> None:
    plain, tuned = unique("plain"), unique("mtu")
    ok(clean.docker("network", "create", plain))
    ok(clean.docker("network", "create", "-o", "com.docker.network.driver.mtu=1280", tuned))
    try:
        assert _network(clean, plain)["Options"] == {}
        assert _network(clean, tuned)["Options"] == {"com.docker.network.driver.mtu": "1280"}
        mtu = ok(clean.docker("run", "--rm", "--network", tuned, "busybox", "cat", "/sys/class/net/eth0/mtu"))
        assert mtu == "1280"
        default = _network(clean, "bridge")["Options"]
        assert default["com.docker.network.bridge.default_bridge"] == "true"
        assert default["com.docker.network.driver.mtu"].isdigit()
    finally:
        clean.docker("network", "rm", plain, tuned)


def test_endpoint_driver_opts_are_kept_and_shown(clean: Daemon, need_docker_cli: None) -> None:
    net, first, second = unique("eopts"), unique("eo1"), unique("eo2")
    ok(clean.docker("network", "create", net))
    try:
        ok(clean.docker("run", "-d", "--name", first, "--network", f"name={net},driver-opt=dy.test.a=1",
                        "busybox", "sleep", "60"))
        ok(clean.docker("create", "--name", second, "busybox", "sleep", "60"))
        ok(clean.docker("network", "connect", "--driver-opt", "dy.test.b=two", net, second))
        assert clean.inspect(first)["NetworkSettings"]["Networks"][net]["DriverOpts"] == {"dy.test.a": "1"}
        assert clean.inspect(second)["NetworkSettings"]["Networks"][net]["DriverOpts"] == {"dy.test.b": "two"}
        ok(clean.docker("start", second))
        assert clean.inspect(second)["NetworkSettings"]["Networks"][net]["DriverOpts"] == {"dy.test.b": "two"}
        assert clean.inspect(second)["NetworkSettings"]["Networks"]["bridge"]["DriverOpts"] is None
    finally:
        clean.docker("rm", "-f", first, second)
        clean.docker("network", "rm", net)


def test_auxiliary_addresses_are_shown_and_never_handed_out(clean: Daemon, need_docker_cli: None) -> None:
    net = unique("aux")
    subnet = _subnet()
    base = subnet.rsplit(".", 1)[0]
    ok(clean.docker("network", "create", "--subnet", subnet, "--aux-address", f"router={base}.2",
                    "--aux-address", f"printer={base}.3", net))
    try:
        config = _network(clean, net)["IPAM"]["Config"]
        assert config == [{"Subnet": subnet, "Gateway": f"{base}.1",
                           "AuxiliaryAddresses": {"router": f"{base}.2", "printer": f"{base}.3"}}]
        address = ok(clean.docker("run", "--rm", "--network", net, "busybox", "sh", "-c",
                                  "ip -4 -o addr show eth0 | awk '{print $4}'"))
        assert address == f"{base}.4/24"
    finally:
        clean.docker("network", "rm", net)


def test_auxiliary_address_outside_the_subnet_is_refused(sdk) -> None:
    import docker

    subnet = _subnet().replace(".0/24", ".0/28")
    far = subnet.rsplit(".", 1)[0] + ".200"
    pool = docker.types.IPAMPool(subnet=subnet, aux_addresses={"far": far})
    with pytest.raises(docker.errors.APIError) as refused:
        sdk.networks.create(unique("aux-bad"), ipam=docker.types.IPAMConfig(pool_configs=[pool]))
    assert refused.value.status_code == 400
    assert f"invalid auxiliary address far: parent subnet {subnet} doesn't contain this address" in str(refused.value)


def test_network_container_mode_shares_the_namespace(clean: Daemon, need_docker_cli: None) -> None:
    net, owner, guest = unique("share"), unique("owner"), unique("guest")
    ok(clean.docker("network", "create", net))
    try:
        ok(clean.docker("run", "-d", "--name", owner, "--network", net, "busybox",
                        "httpd", "-f", "-p", "8080", "-h", "/etc"))
        owner_id = clean.inspect(owner)["Id"]
        ok(clean.docker("run", "-d", "--name", guest, "--network", f"container:{owner}", "busybox", "sleep", "60"))
        guest_doc = clean.inspect(guest)
        assert guest_doc["HostConfig"]["NetworkMode"] == f"container:{owner_id}"
        assert guest_doc["NetworkSettings"]["Networks"] == {}
        assert guest_doc["Config"]["Hostname"] == clean.inspect(owner)["Config"]["Hostname"]
        addresses = "ip -o addr | awk '{print $2, $4}'"
        assert ok(clean.docker("exec", guest, "sh", "-c", addresses)) == \
            ok(clean.docker("exec", owner, "sh", "-c", addresses))
        assert "root:" in ok(clean.docker("exec", guest, "wget", "-qO-", "http://127.0.0.1:8080/passwd"))
        assert ok(clean.docker("exec", guest, "nslookup", owner)).count("Address") >= 2  # the owner's resolver
        refused = clean.docker("network", "connect", net, guest)
        assert refused.returncode != 0 and "sharing network namespace" in refused.stderr.decode()
        missing = clean.docker("create", "--network", "container:dy-no-such-container", "busybox")
        assert missing.returncode != 0 and "No such container: dy-no-such-container" in missing.stderr.decode()
        ok(clean.docker("stop", "-t", "1", owner))
        ok(clean.docker("rm", "-f", guest))
        ok(clean.docker("create", "--name", guest, "--network", f"container:{owner}", "busybox", "true"))
        stopped = clean.docker("start", guest)
        assert stopped.returncode != 0
        assert f"cannot join network of a non running container: {owner_id}" in stopped.stderr.decode()
    finally:
        clean.docker("rm", "-f", guest, owner)
        clean.docker("network", "rm", net)


def test_enable_icc_false_keeps_containers_apart(clean: Daemon, need_docker_cli: None) -> None:
    # dockerd: with enable_icc=false the containers of a network reach its gateway and the outside, not each other
    apart, together = unique("noicc"), unique("icc")
    ok(clean.docker("network", "create", "-o", "com.docker.network.bridge.enable_icc=false", apart))
    ok(clean.docker("network", "create", together))
    names = []
    try:
        for net in (apart, together):
            server = unique("srv")
            names.append(server)
            ok(clean.docker("run", "-d", "--name", server, "--network", net, "busybox", "sleep", "60"))
            address = clean.inspect(server)["NetworkSettings"]["Networks"][net]["IPAddress"]
            gateway = _network(clean, net)["IPAM"]["Config"][0]["Gateway"]
            reach = clean.docker("run", "--rm", "--network", net, "busybox", "sh", "-c",
                                 f"ping -c1 -W2 {gateway} >/dev/null && echo gw; ping -c1 -W2 {address} >/dev/null"
                                 f" && echo peer; true")
            assert ok(reach).split() == (["gw"] if net == apart else ["gw", "peer"]), (net, reach)
    finally:
        clean.docker("rm", "-f", *names)
        clean.docker("network", "rm", apart, together)
