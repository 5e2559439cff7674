"""The agent's side of the network peers (`manager/netpeers.py`): the swarm networks its tasks join are recorded
with the network service before their containers are made, and after every assignment set each network's whole VIP
set (backends: the running tasks, on every node) and DNS records replace the old ones, and the overlay's VXLAN peers
(the endpoints on other nodes) too — level-triggered, so a task that stopped running is gone from all of them in the
same step. Networks that left the set are forgotten; on a worker their records go too (with their last local
endpoint), as dockerd's executor removes a task's networks with the task: a manager's records follow the store."""

from __future__ import annotations

import ipaddress
from typing import Any

from dockyard.cluster.agent.protocols import TaskEngine
from dockyard.cluster.networks import record_locally
from dockyard.errors import NotFound
from dockyard.network.ipam import mac_of
from dockyard.network.lb import Vip
from dockyard.network.overlay import Peer
from dockyard.network.servicedns import ServiceEntry, TaskEntry

Peers = list[dict[str, Any]]


def entries(services: list[dict[str, Any]]) -> list[ServiceEntry]:
    """The DNS records of a network's services."""
    return [ServiceEntry(s["Name"], s["VIP"], tuple(TaskEntry(t["Name"], t["Address"]) for t in s["Tasks"]),
                         tuple(s["Aliases"])) for s in services]


def vips(services: list[dict[str, Any]]) -> list[Vip]:
    """The VIPs of a network's services, each over its running tasks' addresses."""
    return [Vip(s["VIP"], tuple(t["Address"] for t in s["Tasks"])) for s in services if s["VIP"]]


def vxlan_peers(entry: dict[str, Any]) -> list[Peer]:
    """A network's endpoints on other nodes, each with the MAC derived from its address and its node's VTEP."""
    return [Peer(p["Address"], mac_of(ipaddress.IPv4Address(p["Address"])), p["VTEP"]) for p in entry["Peers"]]


class NetworkPeers:
    """What this node programs for the swarm networks it is on."""

    def __init__(self, engine: TaskEngine) -> None:
        self.engine = engine
        self.applied: set[str] = set()
        self.worker = False  # set on a worker: the records of networks its tasks left are retired

    async def record(self, peers: Peers) -> None:
        """The networks are known to the network service (task containers name them)."""
        for entry in peers:
            await record_locally(self.engine.networks, entry["Network"])

    async def apply(self, peers: Peers) -> None:
        """Each network's DNS records and VIPs are exactly the set's; networks no longer in it are forgotten."""
        current = set()
        for entry in peers:
            network = entry["Network"]
            current.add(network["ID"])
            if not network["Spec"].get("Ingress"):  # the ingress network has no names; its VIPs are the mesh's
                self.engine.names.replace(network["ID"], network["Spec"]["Name"], entries(entry["Services"]))
                await self.engine.networks.set_vips(network["ID"], vips(entry["Services"]))
            await self.engine.networks.set_peers(network["ID"], entry["VTEP"], entry["DataPathPort"],
                                                 vxlan_peers(entry))
        for network_id in self.applied - current:
            await self.forget(network_id)
        self.applied = current
        if self.worker:  # level-triggered: also the records a restarted daemon kept
            for network in self.engine.networks.list({"driver": ["overlay"], "scope": ["swarm"]}):
                if network["Id"] not in current and not network["Ingress"]:
                    await self._retire(network["Id"])

    async def forget(self, network_id: str) -> None:
        """No DNS records, VIPs or VXLAN peers for the network."""
        self.engine.names.drop(network_id)
        await self.engine.networks.set_vips(network_id, [])
        await self.engine.networks.set_peers(network_id, "", 0, [])

    async def remove_all(self) -> None:
        """Leaving the swarm (task containers gone): forget every network and remove the swarm's overlay records."""
        for network_id in self.applied:
            await self.forget(network_id)
        self.applied = set()
        for network in self.engine.networks.list({"driver": ["overlay"], "scope": ["swarm"]}):
            if not network["Ingress"]:
                await self._retire(network["Id"])

    async def _retire(self, network_id: str) -> None:
        """The network's record goes now, or with its last local endpoint (a plain container's exit)."""
        try:
            await self.engine.networks.retire_overlay(network_id)
        except NotFound:
            pass  # removed meanwhile
