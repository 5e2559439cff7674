"""The `/nodes` face of the swarm: list with filters, inspect, update (spec replaced under `version`), remove."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import spec as shapes
from dockyard.cluster.filters import labels_match, lookup, prefix_match
from dockyard.cluster.service import NODES, ClusterService
from dockyard.cluster.store.backend import Record, delete_whatever_changed
from dockyard.errors import InvalidParameter, NotFound, NotImplementedYet
from dockyard.util.filters import Filters, check_keys
from dockyard.util.timeutil import now_rfc3339

NODE_FILTERS = ("name", "id", "label", "role", "membership", "node.label")
ROLES = ("worker", "manager")
AVAILABILITIES = ("active", "pause", "drain")
ERR_LAST_MANAGER = "rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm"
ERR_PROMOTE = ("rpc error: code = Unimplemented desc = promoting a worker to manager is not supported yet: Dockyard "
               "swarms have one manager")
TASKS = "tasks"


class NodeService:
    """Nodes of the swarm, through a manager's store."""

    def __init__(self, cluster: ClusterService) -> None:
        self.cluster = cluster

    def render(self, record: Record) -> dict[str, Any]:
        """A node as dockerd shows it; ManagerStatus.Leader from the leader key."""
        value = record.value
        node: dict[str, Any] = {"ID": record.id, "Version": {"Index": record.version},
                                "CreatedAt": value["CreatedAt"], "UpdatedAt": value["UpdatedAt"],
                                "Spec": shapes.with_labels(shapes.render(shapes.NODE_SPEC, value["Spec"])),
                                "Description": value["Description"], "Status": value["Status"]}
        if value.get("ManagerStatus"):
            status = dict(value["ManagerStatus"])
            leader = self.cluster.manager().leader()
            if leader is not None and leader.get("NodeID") == record.id:
                status = {"Leader": True, **status}
            node["ManagerStatus"] = status
        return node

    def list(self, filters: Filters) -> list[dict[str, Any]]:
        """GET /nodes."""
        check_keys(filters, NODE_FILTERS)
        for role in filters.get("role", []):
            if role and role not in ROLES:
                raise InvalidParameter(f"Invalid role filter: '{role}'")
        for membership in filters.get("membership", []):
            if membership and membership not in ("accepted", "pending"):
                raise InvalidParameter(f"Invalid membership filter: '{membership}'")
        found = []
        for record in self.cluster.manager().list(NODES):
            value = record.value
            names = [value["Spec"].get("Name") or "", value["Description"].get("Hostname", "")]
            if (prefix_match(filters.get("id"), record.id)
                    and (not filters.get("name") or any(prefix_match(filters["name"], n) for n in names if n))
                    and (not filters.get("role") or value["Spec"].get("Role") in filters["role"])
                    and (not filters.get("membership") or "accepted" in filters["membership"])
                    and labels_match(filters, "label", value["Description"].get("Engine", {}).get("Labels"))
                    and labels_match(filters, "node.label", value["Spec"].get("Labels"))):
                found.append(self.render(record))
        return found

    def inspect(self, ref: str) -> dict[str, Any]:
        """GET /nodes/{id}: by id, hostname or id prefix."""
        return self.render(self._find(ref))

    def _find(self, ref: str) -> Record:
        """The node `ref` names."""
        return lookup(self.cluster.manager(), NODES, "node", ref, node_name)

    async def update(self, ref: str, version: int, body: Any) -> None:
        """POST /nodes/{id}/update: the spec replaced as sent (inspect returns exactly it)."""
        store = self.cluster.manager()
        record = self._find(ref)
        sent = shapes.render(shapes.NODE_SPEC, body, "swarm.NodeSpec")
        role = sent.get("Role", "")
        availability = sent.get("Availability", "")
        if role not in ROLES:
            raise InvalidParameter(f'invalid Role: "{role}"')
        if availability not in AVAILABILITIES:
            raise InvalidParameter(f'invalid Availability: "{availability}"')
        managers = [n for n in store.list(NODES) if n.value["Spec"].get("Role") == "manager"]
        if role == "worker" and record.value["Spec"].get("Role") == "manager" and len(managers) <= 1:
            raise InvalidParameter(ERR_LAST_MANAGER)
        if role == "manager" and record.value["Spec"].get("Role") != "manager":
            raise NotImplementedYet(ERR_PROMOTE)  # a manager join (an etcd member) is not built: no half promotion
        value = {**record.value, "Spec": sent, "UpdatedAt": now_rfc3339()}
        await store.update(NODES, record.id, value, version=version)

    async def remove(self, ref: str, force: bool) -> None:
        """DELETE /nodes/{id}: a manager must be demoted first, a live node needs force; the node's tasks are
        deleted with it."""
        store = self.cluster.manager()
        record = self._find(ref)
        if record.value["Spec"].get("Role") == "manager":
            raise InvalidParameter(f"rpc error: code = FailedPrecondition desc = node {record.id} is a cluster "
                                   "manager and is a member of the raft cluster. It must be demoted to worker "
                                   "before removal")
        if record.value["Status"].get("State") != "down" and not force:
            raise InvalidParameter(f"rpc error: code = FailedPrecondition desc = node {record.id} is not down and "
                                   "can't be removed")
        await delete_whatever_changed(store, NODES, record.id)  # a heartbeat or a status may have just written it
        await self._forget_tasks(record.id)

    async def _forget_tasks(self, node_id: str) -> None:
        """A removed node's tasks leave the store (its replicated tasks are replaced, its global ones not)."""
        store = self.cluster.manager()
        for task in [r for r in store.list(TASKS) if r.value.get("NodeID") == node_id]:
            try:
                await delete_whatever_changed(store, TASKS, task.id)
            except NotFound:
                pass  # deleted meanwhile (the reaper)


def node_name(record: Record) -> str:
    """swarmkit's node name: the spec's Name, else the hostname."""
    return record.value["Spec"].get("Name") or record.value["Description"].get("Hostname", "")


def describe(info: dict[str, Any]) -> dict[str, Any]:
    """NodeDescription from /info's figures (hostname, platform, resources, engine version)."""
    return {"Hostname": info["Name"], "Platform": {"Architecture": info["Architecture"], "OS": info["OSType"]},
            "Resources": {"NanoCPUs": info["NCPU"] * 1_000_000_000, "MemoryBytes": info["MemTotal"]},
            "Engine": {"EngineVersion": info["ServerVersion"]}}
