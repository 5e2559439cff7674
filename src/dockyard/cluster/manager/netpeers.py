"""The network peers the dispatcher sends a node with its assignments (swarm-design.md §4, §5.3): for each swarm
network its tasks or plain containers are on, the network object and, per service attached to it, its VIP there
(None in `dnsrr` mode), its aliases there, and the names and addresses of its running tasks — the VIP backends and
the DNS records, computed from the store, never gossiped. Multi-node (part 2) adds the other nodes' endpoints."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.store.backend import ClusterStore

NETWORKS, ATTACHMENTS, SERVICES, TASKS = "networks", "attachments", "services", "tasks"
PEER_KINDS = (NETWORKS, ATTACHMENTS)  # besides tasks and services, changes of these change a node's peers


def _ip(cidr: str) -> str:
    return cidr.partition("/")[0]


def network_peers(store: ClusterStore, node_id: str, node_tasks: list[T.Task]) -> list[dict[str, Any]]:
    """[{"Network": {...}, "Services": [{"Name", "VIP", "Aliases", "Tasks": [{"Name", "Address"}]}]}] for the
    networks the node's tasks that have not ended and its attachments are on (the ingress network aside: the
    routing mesh has its own feed)."""
    wanted = {a["Network"]["ID"] for t in node_tasks if T.observed(t) <= T.RUNNING
              for a in t.get("NetworksAttachments") or []}
    wanted |= {r.value["NetworkID"] for r in store.list(ATTACHMENTS) if r.value["NodeID"] == node_id}
    networks = [r for r in store.list(NETWORKS) if r.id in wanted and not r.value["Spec"].get("Ingress")]
    if not networks:
        return []
    services = [{"ID": r.id, **r.value} for r in store.list(SERVICES)]
    running: dict[str, list[T.Task]] = {}
    for record in store.list(TASKS):
        task = {"ID": record.id, **record.value}
        if task["Status"]["State"] == "running" and task["DesiredState"] == "running":
            running.setdefault(task["ServiceID"], []).append(task)
    return [{"Network": {"ID": network.id, **network.value},
             "Services": [entry for service in services
                          if (entry := _service_entry(service, network.id, running.get(service["ID"], [])))]}
            for network in networks]


def _service_entry(service: dict[str, Any], network_id: str, tasks: list[T.Task]) -> dict[str, Any] | None:
    """A service's peers on one network, or None when it is not there (or its VIP is not allocated yet)."""
    attachment = next((n for n in service["Spec"]["TaskTemplate"].get("Networks") or []
                       if n["Target"] == network_id), None)
    if attachment is None:
        return None
    vip = None
    if (service["Spec"].get("EndpointSpec") or {}).get("Mode", "vip") == "vip":
        vip = next((_ip(v["Addr"]) for v in (service.get("Endpoint") or {}).get("VirtualIPs") or []
                    if v["NetworkID"] == network_id), None)
        if vip is None:
            return None
    name = service["Spec"]["Name"]
    backends = [{"Name": T.task_name(t, name), "Address": _ip(a["Addresses"][0])}
                for t in sorted(tasks, key=lambda t: (t.get("Slot", 0), t["ID"]))
                for a in t.get("NetworksAttachments") or [] if a["Network"]["ID"] == network_id]
    return {"Name": name, "VIP": vip, "Aliases": list(attachment.get("Aliases") or []), "Tasks": backends}
