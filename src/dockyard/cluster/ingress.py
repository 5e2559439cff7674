"""The swarm's ingress network on this node (docker's `ingress` overlay, its `ingress-sbox` and routing mesh): made
when the node's swarm work starts, programmed after every assignment set with the running tasks' ingress addresses
per published port, removed when the node leaves. One node: the network is not a cluster object yet (part 2)."""

from __future__ import annotations

from typing import Any, Iterable

from dockyard.cluster.agent.protocols import TaskNetworks
from dockyard.cluster.service import new_id
from dockyard.errors import NotFound
from dockyard.network.lb import Port, Published, RoutingMesh
from dockyard.network.overlay import OverlaySpec
from dockyard.util.aio import run_blocking

INGRESS = "ingress"
INGRESS_SUBNET, INGRESS_GATEWAY, INGRESS_VNI = "10.0.0.0/24", "10.0.0.1", 4096  # swarmkit's defaults
SANDBOX_IP = "10.0.0.2"  # the node's ingress-sbox endpoint (kept from the task allocator)
INGRESS_LABELS = {"com.docker.swarm.internal": "true"}


def published(tasks: Iterable[dict[str, Any]], ports: dict[str, list[dict[str, Any]]],
              address_of: dict[str, str]) -> list[Published]:
    """Per ingress port of each service, the ingress addresses of its running tasks (`address_of`: task id ->)."""
    running = [t for t in tasks if t["Status"]["State"] == "running" and t["ID"] in address_of]
    return [Published(Port(p["PublishedPort"], p["TargetPort"], p.get("Protocol", "tcp")),
                      tuple(sorted(address_of[t["ID"]] for t in running if t["ServiceID"] == service_id)))
            for service_id, service_ports in sorted(ports.items()) for p in service_ports
            if p.get("PublishMode", "ingress") == "ingress"]


class Ingress:
    """The ingress overlay and its routing mesh, through the network service."""

    def __init__(self, networks: TaskNetworks) -> None:
        self.networks = networks
        self.mesh: RoutingMesh | None = None
        self.carried: list[Published] | None = None  # what the mesh was last given

    async def ensure(self) -> None:
        """The ingress network (recorded once; again after a restart: kept) and the mesh's sandbox."""
        try:
            self.networks.get(INGRESS)
        except NotFound:
            spec = OverlaySpec(new_id(), INGRESS_VNI, INGRESS_SUBNET, INGRESS_GATEWAY)
            await self.networks.add_overlay(spec, INGRESS, ingress=True, labels=INGRESS_LABELS,
                                            reserved={"ingress-sbox": SANDBOX_IP})
        self.mesh = self.networks.ingress_mesh(INGRESS, SANDBOX_IP)
        await run_blocking(self.mesh.ensure)
        self.carried = None

    async def publish(self, ports: list[Published]) -> None:
        """Make the node carry exactly these published ports (the rule sets are replaced only when they change: the
        agent asks after every assignment set)."""
        if self.mesh is not None and ports != self.carried:
            await run_blocking(self.mesh.publish, ports)
            self.carried = ports

    async def remove(self) -> None:
        """Leaving the swarm (task containers already gone): rules, sandbox and the ingress network."""
        try:
            mesh = self.mesh or self.networks.ingress_mesh(INGRESS, SANDBOX_IP)
        except NotFound:
            return
        await run_blocking(mesh.remove)
        self.mesh = self.carried = None
        await self.networks.remove(INGRESS)
