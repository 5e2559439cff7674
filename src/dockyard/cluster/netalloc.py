"""The leader's network allocator (swarmkit's `manager/allocator`): pure functions from stored objects to what to
write. A swarm overlay gets a subnet from the swarm's DefaultAddrPool (SubnetSize each) and a VNI; a service in
`vip` mode a VIP on each of its networks (`Endpoint.VirtualIPs`); a new task an address on each of its networks
(`NetworksAttachments`, then NEW → PENDING); a plain container's attachment one address.

Which addresses are taken is read from the store on every pass (level-triggered): the gateway, the VIPs of the
services there are, the addresses of tasks that have not ended and of attachments. A removed service's VIP and an
ended task's address are free again, with nothing to release."""

from __future__ import annotations

import copy
import ipaddress
from itertools import count
from typing import Any, Iterable

from dockyard.cluster import tasks as T
from dockyard.cluster.ingress import INGRESS, INGRESS_GATEWAY, INGRESS_LABELS, INGRESS_SUBNET, INGRESS_VNI, SANDBOX
from dockyard.cluster.manager.plan import Plan
from dockyard.errors import Forbidden
from dockyard.network.overlaynets import OVERLAY, VXLAN_OPT

FIRST_VNI = INGRESS_VNI + 1
RESERVED_SUBNETS = (INGRESS_SUBNET,)  # the ingress network's
ERR_NO_POOL = "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"

Obj = dict[str, Any]


def subnet_of(network: Obj) -> ipaddress.IPv4Network:
    """The allocated subnet of a stored network."""
    return ipaddress.IPv4Network(network["IPAMOptions"]["Configs"][0]["Subnet"])


def pick_subnet(pools: Iterable[str], size: int, networks: Iterable[Obj]) -> ipaddress.IPv4Network:
    """The first subnet of `size` bits in the pools that overlaps no network's nor the ingress network's."""
    used = [subnet_of(n) for n in networks] + [ipaddress.IPv4Network(s) for s in RESERVED_SUBNETS]
    for pool in pools:
        network = ipaddress.ip_network(pool, strict=False)
        if network.version != 4 or network.prefixlen > size:
            continue
        for candidate in network.subnets(new_prefix=size):
            if not any(candidate.overlaps(u) for u in used):
                return candidate
    raise Forbidden(ERR_NO_POOL)


def check_subnet(subnet: ipaddress.IPv4Network, networks: Iterable[Obj]) -> None:
    """A subnet the user gave overlaps no other swarm network (libnetwork's text)."""
    used = [subnet_of(n) for n in networks] + [ipaddress.IPv4Network(s) for s in RESERVED_SUBNETS]
    if any(subnet.overlaps(u) for u in used):
        raise Forbidden(f"Pool overlaps with other one on this address space: {subnet}")


def next_vni(networks: Iterable[Obj]) -> int:
    """The lowest VNI from 4097 no network has."""
    used = {vni_of(n) for n in networks}
    return next(v for v in count(FIRST_VNI) if v not in used)


def vni_of(network: Obj) -> int:
    """A stored network's VNI."""
    return int(network["DriverState"]["Options"][VXLAN_OPT])


def ingress_value(now: str) -> Obj:
    """The swarm's ingress network as the leader stores it once (swarmkit's defaults: 10.0.0.0/24, VNI 4096)."""
    return {"CreatedAt": now, "UpdatedAt": now,
            "Spec": {"Name": INGRESS, "Labels": dict(INGRESS_LABELS), "DriverConfiguration": {"Name": OVERLAY},
                     "Ingress": True, "Scope": "swarm"},
            "DriverState": {"Name": OVERLAY, "Options": {VXLAN_OPT: str(INGRESS_VNI)}},
            "IPAMOptions": {"Driver": {"Name": "default"},
                            "Configs": [{"Subnet": INGRESS_SUBNET, "Gateway": INGRESS_GATEWAY}]}}


def is_ingress(network: Obj) -> bool:
    """The swarm's ingress network."""
    return bool(network["Spec"].get("Ingress"))


def ingress_of(networks: Iterable[Obj]) -> Obj | None:
    """The stored ingress network, if the leader made it."""
    return next((n for n in networks if is_ingress(n)), None)


def publishes(service: Obj | None) -> bool:
    """The service has ports published in ingress mode (its tasks and a VIP go on the ingress network)."""
    return any(p.get("PublishMode", "ingress") == "ingress"
               for p in ((service or {}).get("Endpoint") or {}).get("Ports") or [])


def sandboxes(nodes: Iterable[Obj], attachments: Iterable[Obj], ingress_id: str) -> tuple[list[str], list[str]]:
    """(nodes without an ingress sandbox attachment, sandbox attachments of nodes that are gone)."""
    node_ids = {n["ID"] for n in nodes}
    have = {a["NodeID"]: a["ID"] for a in attachments
            if a["NetworkID"] == ingress_id and a["ContainerID"] == SANDBOX}
    return sorted(node_ids - set(have)), sorted(a for node, a in have.items() if node not in node_ids)


def task_networks(task: Obj) -> list[str]:
    """The network ids a task's spec attaches to, in order."""
    return [n["Target"] for n in task["Spec"].get("Networks") or []]


def service_networks(service: Obj) -> list[str]:
    """The network ids a service's tasks attach to (the service's VIP networks)."""
    return [n["Target"] for n in service["Spec"]["TaskTemplate"].get("Networks") or []]


def needed(task: Obj, service: Obj | None, ingress_id: str | None) -> list[str]:
    """The networks a task needs an address on: ingress first when its service publishes ports, then its own."""
    return ([ingress_id] if ingress_id and publishes(service) else []) + task_networks(task)


def is_allocated(task: Obj) -> bool:
    """The task has an address on each of its networks (or needs none)."""
    have = {a["Network"]["ID"] for a in task.get("NetworksAttachments") or []}
    return all(n in have for n in task_networks(task))


def _ip(cidr: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(cidr.partition("/")[0])


class Addresses:
    """The taken addresses of every network, and allocation of free ones (lowest first)."""

    def __init__(self, networks: dict[str, Obj], services: Iterable[Obj], tasks: Iterable[Obj],
                 attachments: Iterable[Obj]) -> None:
        self.networks = networks
        self.taken: dict[str, set[ipaddress.IPv4Address]] = {
            nid: {ipaddress.IPv4Address(n["IPAMOptions"]["Configs"][0]["Gateway"])} for nid, n in networks.items()}
        for service in services:
            for vip in (service.get("Endpoint") or {}).get("VirtualIPs") or []:
                self._take(vip["NetworkID"], vip["Addr"])
        for task in tasks:
            if T.observed(task) <= T.RUNNING:
                for attached in task.get("NetworksAttachments") or []:
                    for address in attached["Addresses"]:
                        self._take(attached["Network"]["ID"], address)
        for attachment in attachments:
            for address in attachment.get("Addresses") or []:
                self._take(attachment["NetworkID"], address)

    def _take(self, network_id: str, cidr: str) -> None:
        if network_id in self.taken:
            self.taken[network_id].add(_ip(cidr))

    def allocate(self, network_id: str, wanted: str | None = None) -> str | None:
        """A free address as `addr/prefix` (the wanted one when free), taken from now on; None when the network is
        unknown or full."""
        network = self.networks.get(network_id)
        if network is None:
            return None
        subnet = subnet_of(network)
        config = network["IPAMOptions"]["Configs"][0]
        pool = ipaddress.IPv4Network(config["Range"], strict=False) if config.get("Range") else subnet
        taken = self.taken[network_id] | {subnet.network_address, subnet.broadcast_address}
        if wanted:
            address = ipaddress.IPv4Address(wanted)
            if address not in subnet or address in taken:
                return None
        else:
            free = (a for a in pool if a not in taken)
            found = next(free, None)
            if found is None:
                return None
            address = found
        self.taken[network_id].add(address)
        return f"{address}/{subnet.prefixlen}"


def allocate(services: dict[str, Obj], tasks: list[Obj], networks: list[Obj], attachments: list[Obj],
             now: float) -> tuple[Plan, list[Obj]]:
    """VIPs for services, addresses for new tasks (which then go to PENDING) and for attachments: the plan, and the
    attachments to write."""
    by_id = {n["ID"]: n for n in networks}
    ingress = ingress_of(networks)
    ingress_id = ingress["ID"] if ingress is not None else None
    book = Addresses(by_id, services.values(), tasks, attachments)
    plan = Plan()
    for service in services.values():
        changed = _with_vips(service, by_id, book, ingress_id)
        if changed is not None:
            plan.services.append(changed)
    for task in tasks:
        wanted = needed(task, services.get(task["ServiceID"]), ingress_id)
        have = {a["Network"]["ID"] for a in task.get("NetworksAttachments") or []}
        if task["Status"]["State"] != "new" or not T.is_runnable(task) or all(n in have for n in wanted):
            continue  # tasks without networks go to PENDING through the scheduler's allocate
        attached = []
        for network_id in wanted:
            address = book.allocate(network_id)
            if address is None:
                break
            attached.append({"Network": by_id[network_id], "Addresses": [address]})
        else:
            changed = copy.deepcopy(task)
            changed["NetworksAttachments"] = attached
            changed = T.with_status(changed, "pending", "pending task scheduling", now) or changed
            plan.update.append(changed)
    written = []
    for attachment in attachments:
        if not attachment.get("Addresses") and not attachment.get("Err"):
            requested = attachment.get("Requested") or None
            address = book.allocate(attachment["NetworkID"], requested)
            written.append({**attachment, "Addresses": [address]} if address is not None else
                           {**attachment, "Err": f"no available IP address{' ' + requested if requested else ''} on "
                                                 f"network {attachment['NetworkID']}"})
    return plan, written


def _with_vips(service: Obj, networks: dict[str, Obj], book: Addresses, ingress_id: str | None) -> Obj | None:
    """The service with a VIP on each of its networks in `vip` mode, the ingress network first when it publishes
    ports (kept ones kept), or None when it has them."""
    endpoint = service.get("Endpoint") or {}
    current = {v["NetworkID"]: v for v in endpoint.get("VirtualIPs") or []}
    vip_mode = (service["Spec"].get("EndpointSpec") or {}).get("Mode", "vip") == "vip"
    ingress = [ingress_id] if ingress_id and publishes(service) else []
    wanted = [n for n in ingress + service_networks(service) if n in networks] if vip_mode else []
    if list(current) == wanted:
        return None
    vips = []
    for network_id in wanted:
        address = current[network_id]["Addr"] if network_id in current else book.allocate(network_id)
        if address is not None:
            vips.append({"NetworkID": network_id, "Addr": address})
    if [v["NetworkID"] for v in vips] == list(current):
        return None  # a network is full: nothing changes until an address frees
    changed = copy.deepcopy(service)
    changed["Endpoint"] = {**endpoint, "VirtualIPs": vips}
    if not vips:
        del changed["Endpoint"]["VirtualIPs"]
    return changed
