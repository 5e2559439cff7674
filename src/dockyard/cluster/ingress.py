"""The swarm's ingress network on this node (docker's `ingress` overlay, its `ingress-sbox` and routing mesh): the
network is a cluster object the leader allocates once (`netalloc.ingress_value`), with a sandbox address per node; the
mesh is made with the first assignment set that carries it and this node's sandbox address, programmed after every
set with each service's ingress ports over its running tasks on every node, removed when the node leaves."""

from __future__ import annotations

from typing import Any

from dockyard.cluster.agent.protocols import TaskNetworks
from dockyard.errors import NotFound
from dockyard.network.lb import Port, Published, RoutingMesh
from dockyard.util.aio import run_blocking

INGRESS = "ingress"
INGRESS_SUBNET, INGRESS_GATEWAY, INGRESS_VNI = "10.0.0.0/24", "10.0.0.1", 4096  # swarmkit's defaults
SANDBOX = "ingress-sbox"  # the ContainerID of a node's sandbox attachment on the ingress network
INGRESS_LABELS = {"com.docker.swarm.internal": "true"}


def published(entry: dict[str, Any]) -> list[Published]:
    """Per ingress port of each service, the ingress addresses of its running tasks on every node (the ingress
    network's peers entry, `manager/netpeers.py`)."""
    return [Published(Port(p["PublishedPort"], p["TargetPort"], p.get("Protocol", "tcp")),
                      tuple(sorted(t["Address"] for t in service["Tasks"])))
            for service in sorted(entry["Services"], key=lambda s: s["ID"]) for p in service["Ports"]]


class Ingress:
    """The ingress overlay and its routing mesh, through the network service."""

    def __init__(self, networks: TaskNetworks) -> None:
        self.networks = networks
        self.mesh: RoutingMesh | None = None
        self.carried: list[Published] | None = None  # what the mesh was last given

    async def apply(self, entry: dict[str, Any] | None) -> None:
        """The mesh follows the ingress network's peers entry (recorded here already): its sandbox made with the
        node's allocated address, then exactly the entry's published ports. Nothing before the leader allocated."""
        if entry is None or not entry.get("Sandbox"):
            return
        if self.mesh is None:
            self.mesh = self.networks.ingress_mesh(entry["Network"]["ID"], entry["Sandbox"])
            await run_blocking(self.mesh.ensure)
            self.carried = None
        ports = published(entry)
        if ports != self.carried:  # the rule sets are replaced only when they change: this runs after every set
            await run_blocking(self.mesh.publish, ports)
            self.carried = ports

    async def remove(self) -> None:
        """Leaving the swarm (task containers already gone): rules, sandbox and the ingress network."""
        try:
            mesh = self.mesh or self.networks.ingress_mesh(INGRESS, "")  # removing needs no sandbox address
        except NotFound:
            return
        await run_blocking(mesh.remove)
        self.mesh = self.carried = None
        await self.networks.remove(INGRESS)
