"""The swarm's ingress network on this node (docker's `ingress` overlay, its `ingress-sbox` and routing mesh): a
cluster object made by the first manager's swarm work (subnet 10.0.0.0/24, VNI 4096: tasks and VIPs get their
addresses there from the leader's allocator), recorded on the node with the mesh's sandbox when the swarm work
starts, programmed after every assignment set with the running tasks' ingress addresses per published port, removed
from the node when it leaves."""

from __future__ import annotations

from typing import Any, Iterable

from dockyard.cluster.agent.protocols import TaskNetworks
from dockyard.cluster.netalloc import INGRESS_GATEWAY, INGRESS_SUBNET, INGRESS_VNI, SANDBOX_IP
from dockyard.cluster.networks import NETWORKS, record_locally
from dockyard.cluster.service import new_id
from dockyard.cluster.store.backend import ClusterStore, Record
from dockyard.network.lb import Port, Published, RoutingMesh
from dockyard.network.overlaynets import OVERLAY, VXLAN_OPT
from dockyard.util.aio import run_blocking
from dockyard.util.timeutil import now_rfc3339

INGRESS = "ingress"
INGRESS_LABELS = {"com.docker.swarm.internal": "true"}


def ingress_object(now: str) -> dict[str, Any]:
    """The ingress network as swarmkit's manager makes it (its subnet and VNI allocated)."""
    ipam = {"Driver": {"Name": "default"}, "Configs": [{"Subnet": INGRESS_SUBNET, "Gateway": INGRESS_GATEWAY}]}
    return {"CreatedAt": now, "UpdatedAt": now,
            "Spec": {"Name": INGRESS, "Labels": dict(INGRESS_LABELS), "DriverConfiguration": {"Name": OVERLAY},
                     "Ingress": True, "IPAMOptions": ipam, "Scope": "swarm"},
            "DriverState": {"Name": OVERLAY, "Options": {VXLAN_OPT: str(INGRESS_VNI)}}, "IPAMOptions": ipam}


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

    async def ensure(self, store: ClusterStore | None) -> None:
        """The ingress network (on a manager: made in the store once; a worker without the store keeps a record
        of its own until the leader sends the object), recorded here, and the mesh's sandbox on it."""
        if store is not None:
            record = await self._object(store)
            network = {"ID": record.id, **record.value}
        else:
            known = self._local()
            network = {"ID": known[0]["Id"] if known else new_id(), **ingress_object(now_rfc3339())}
        for local in self._local():
            if local["Id"] != network["ID"]:  # the record of an older swarm's ingress: it goes with its endpoints
                await self.networks.retire_overlay(local["Id"])
        await record_locally(self.networks, network)
        self.mesh = self.networks.ingress_mesh(network["ID"], SANDBOX_IP)
        await run_blocking(self.mesh.ensure)
        self.carried = None

    @staticmethod
    async def _object(store: ClusterStore) -> Record:
        """The swarm's ingress network, made when there is none."""
        for record in store.list(NETWORKS):
            if record.value["Spec"].get("Ingress"):
                return record
        return await store.create(NETWORKS, new_id(), ingress_object(now_rfc3339()), name=INGRESS)

    def _local(self) -> list[dict[str, Any]]:
        """The node's records of ingress networks."""
        return [n for n in self.networks.list({"driver": [OVERLAY]}) if n["Ingress"]]

    async def publish(self, ports: list[Published]) -> None:
        """Make the node carry exactly these published ports (the rule sets are replaced only when they change: the
        agent asks after every assignment set)."""
        if self.mesh is not None and ports != self.carried:
            await run_blocking(self.mesh.publish, ports)
            self.carried = ports

    async def remove(self) -> None:
        """Leaving the swarm (task containers already gone): rules, sandbox and the ingress network's record."""
        for local in self._local():
            mesh = self.mesh or self.networks.ingress_mesh(local["Id"], SANDBOX_IP)
            await run_blocking(mesh.remove)
            self.mesh = self.carried = None
            await self.networks.remove(local["Id"])
