"""The leader's network allocator as pure functions: subnets and VNIs for swarm networks, VIPs for services, addresses
for new tasks and attachments — taken from what the store holds, free again once a task ended or a service went."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest

from dockyard.cluster import netalloc, tasks as T
from dockyard.cluster.manager import scheduler
from dockyard.errors import Forbidden

NOW = 1_800_000_000.0


def network(network_id: str, subnet: str, vni: int, gateway: str = "", ip_range: str = "") -> dict[str, Any]:
    """A swarm network as the store holds it."""
    config = {"Subnet": subnet, "Gateway": gateway or str(next(ipaddress.IPv4Network(subnet).hosts()))}
    if ip_range:
        config["Range"] = ip_range
    return {"ID": network_id, "Version": {"Index": 3}, "Spec": {"Name": network_id, "Labels": {}},
            "DriverState": {"Name": "overlay",
                            "Options": {"com.docker.network.driver.overlay.vxlanid_list": str(vni)}},
            "IPAMOptions": {"Driver": {"Name": "default"}, "Configs": [config]}}


def service(service_id: str, networks: list[str], mode: str = "vip") -> dict[str, Any]:
    """A service as the store holds it."""
    return {"ID": service_id, "Version": {"Index": 5},
            "Spec": {"Name": service_id, "EndpointSpec": {"Mode": mode},
                     "TaskTemplate": {"ContainerSpec": {"Image": "busybox"},
                                      "Networks": [{"Target": n} for n in networks]}}}


def task(task_id: str, svc: dict[str, Any], state: str = "new", desired: str = "running",
         addresses: dict[str, str] | None = None, nets: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """A task of `svc` in observed `state`, with the addresses it was given."""
    made = T.new_task(svc, 1, "", NOW, lambda: task_id, desired_state=desired)
    made["Status"]["State"] = state
    if addresses:
        made["NetworksAttachments"] = [{"Network": (nets or {})[n], "Addresses": [a]} for n, a in addresses.items()]
    return made


def test_subnets_skip_ingress_and_taken_ones_and_vnis_start_at_4097() -> None:
    assert str(netalloc.pick_subnet(["10.0.0.0/8"], 24, [])) == "10.0.1.0/24"
    taken = [network("a", "10.0.1.0/24", 4097), network("b", "10.0.2.0/23", 4099)]
    assert str(netalloc.pick_subnet(["10.0.0.0/8"], 24, taken)) == "10.0.4.0/24"
    assert str(netalloc.pick_subnet(["192.168.0.0/16", "10.0.0.0/8"], 20, taken)) == "192.168.0.0/20"
    with pytest.raises(Forbidden, match="non-overlapping"):
        netalloc.pick_subnet(["10.0.0.0/23"], 24, taken)
    with pytest.raises(Forbidden, match="Pool overlaps"):
        netalloc.check_subnet(ipaddress.IPv4Network("10.0.0.128/25"), [])
    assert netalloc.next_vni([]) == 4097
    assert netalloc.next_vni(taken) == 4098


def test_vips_and_task_addresses_are_allocated_lowest_first_and_kept() -> None:
    net = network("n1", "10.0.1.0/24", 4097)
    web, rr = service("web", ["n1"]), service("rr", ["n1"], mode="dnsrr")
    tasks = [task("t1", web), task("t2", rr)]
    plan, attachments = netalloc.allocate({"web": web, "rr": rr}, tasks, [net], [], NOW)
    assert attachments == []
    [with_vip] = plan.services
    assert with_vip["ID"] == "web" and with_vip["Endpoint"]["VirtualIPs"] == [{"NetworkID": "n1",
                                                                                "Addr": "10.0.1.2/24"}]
    allocated = {t["ID"]: t for t in plan.update}
    assert allocated["t1"]["NetworksAttachments"] == [{"Network": net, "Addresses": ["10.0.1.3/24"]}]
    assert allocated["t2"]["NetworksAttachments"][0]["Addresses"] == ["10.0.1.4/24"]
    assert {t["Status"]["State"] for t in plan.update} == {"pending"}
    assert scheduler.allocate(tasks, NOW).update == []  # without their addresses, no task goes to pending

    again, _ = netalloc.allocate({"web": with_vip, "rr": rr}, list(allocated.values()), [net], [], NOW)
    assert not again  # level-triggered: nothing more to write


def test_ended_tasks_and_removed_services_free_their_addresses() -> None:
    net = network("n1", "10.0.1.0/29", 4097)  # hosts .1 (gateway) to .6
    web = service("web", ["n1"])
    web["Endpoint"] = {"VirtualIPs": [{"NetworkID": "n1", "Addr": "10.0.1.2/29"}]}
    live = task("t1", web, state="running", addresses={"n1": "10.0.1.3/29"}, nets={"n1": net})
    dead = task("t2", web, state="failed", addresses={"n1": "10.0.1.4/29"}, nets={"n1": net})
    fresh = task("t3", web)
    plan, _ = netalloc.allocate({"web": web}, [live, dead, fresh], [net], [], NOW)
    assert plan.update[0]["NetworksAttachments"][0]["Addresses"] == ["10.0.1.4/29"]  # the failed task's, reused

    plan, _ = netalloc.allocate({}, [task("t4", web)], [net], [], NOW)  # the service and its tasks are gone
    assert plan.update[0]["NetworksAttachments"][0]["Addresses"] == ["10.0.1.2/29"]


def test_a_full_network_leaves_tasks_new_and_vips_follow_the_spec() -> None:
    net = network("n1", "10.0.1.0/30", 4097)  # one host besides the gateway
    other = network("n2", "10.0.2.0/24", 4098)
    web = service("web", ["n1"])
    first, _ = netalloc.allocate({"web": web}, [task("t1", web)], [net, other], [], NOW)
    assert first.services[0]["Endpoint"]["VirtualIPs"][0]["Addr"] == "10.0.1.2/30"
    assert first.update == []  # no address left for the task: it stays new

    moved = copy.deepcopy(first.services[0])
    moved["Spec"]["TaskTemplate"]["Networks"] = [{"Target": "n2"}, {"Target": "n1"}]
    plan, _ = netalloc.allocate({"web": moved}, [], [net, other], [], NOW)
    assert plan.services[0]["Endpoint"]["VirtualIPs"] == [{"NetworkID": "n2", "Addr": "10.0.2.2/24"},
                                                          {"NetworkID": "n1", "Addr": "10.0.1.2/30"}]
    moved["Spec"]["EndpointSpec"]["Mode"] = "dnsrr"
    plan, _ = netalloc.allocate({"web": moved}, [], [net, other], [], NOW)
    assert "VirtualIPs" not in plan.services[0]["Endpoint"]


def test_attachments_get_an_address_in_the_range_or_the_requested_one_or_an_error() -> None:
    net = network("n1", "10.0.1.0/24", 4097, ip_range="10.0.1.128/25")
    asked = [{"ID": "a1", "Version": {"Index": 1}, "NetworkID": "n1", "Requested": ""},
             {"ID": "a2", "Version": {"Index": 1}, "NetworkID": "n1", "Requested": "10.0.1.9"},
             {"ID": "a3", "Version": {"Index": 1}, "NetworkID": "n1", "Requested": "10.0.1.9"},
             {"ID": "a4", "Version": {"Index": 1}, "NetworkID": "n1", "Addresses": ["10.0.1.128/24"]}]
    _, written = netalloc.allocate({}, [], [net], asked, NOW)
    by_id = {a["ID"]: a for a in written}
    assert by_id["a1"]["Addresses"] == ["10.0.1.129/24"]
    assert by_id["a2"]["Addresses"] == ["10.0.1.9/24"]
    assert by_id["a3"]["Err"] == "no available IP address 10.0.1.9 on network n1" and "a4" not in by_id


def test_services_publishing_ports_get_ingress_first_and_the_sandbox_address_stays_free() -> None:
    ingress = network("ing", "10.0.0.0/24", 4096)
    ingress["Spec"]["Ingress"] = True
    net = network("n1", "10.0.1.0/24", 4097)
    web = service("web", ["n1"])
    web["Endpoint"] = {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080,
                                  "PublishMode": "ingress"}]}
    plan, _ = netalloc.allocate({"web": web}, [task("t1", web)], [ingress, net], [], NOW)
    assert plan.services[0]["Endpoint"]["VirtualIPs"] == [{"NetworkID": "ing", "Addr": "10.0.0.3/24"},
                                                          {"NetworkID": "n1", "Addr": "10.0.1.2/24"}]
    assert plan.services[0]["Endpoint"]["Ports"] == web["Endpoint"]["Ports"]
    assert [(a["Network"]["ID"], a["Addresses"]) for a in plan.update[0]["NetworksAttachments"]] == [
        ("ing", ["10.0.0.4/24"]), ("n1", ["10.0.1.3/24"])]  # 10.0.0.2 is the node's ingress sandbox
