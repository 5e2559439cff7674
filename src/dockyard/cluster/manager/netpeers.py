"""The network peers the dispatcher sends a node with its assignments (swarm-design.md §4, §5.3): for each swarm
network its tasks or plain containers are on, the network object and, per service attached to it, its VIP there
(None in `dnsrr` mode), its aliases there, and the names and addresses of its running tasks — the VIP backends and
the DNS records (on the ingress network: the routing mesh's backends), computed from the store, never gossiped —
and the endpoints on other nodes (address and that node's VTEP: its data path address, else its `Status.Addr`) for
the VXLAN device's static entries, with this node's own VTEP and the swarm's DataPathPort. Tasks not wanted running,
ended, or on a node that is down are in none of them."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.ingress import SANDBOX
from dockyard.cluster.netalloc import publishes
from dockyard.cluster.service import DATA_PATH_ADDR
from dockyard.cluster.store.backend import ClusterStore

NETWORKS, ATTACHMENTS, SERVICES, TASKS, NODES, CLUSTER = (
    "networks", "attachments", "services", "tasks", "nodes", "cluster")
PEER_KINDS = (NETWORKS, ATTACHMENTS, NODES)  # besides tasks and services, changes of these change a node's peers
DEFAULT_DATA_PATH_PORT = 4789


def _ip(cidr: str) -> str:
    return cidr.partition("/")[0]


def network_peers(store: ClusterStore, node_id: str, node_tasks: list[T.Task]) -> list[dict[str, Any]]:
    """[{"Network": {...}, "Services": [{"ID", "Name", "VIP", "Aliases", "Tasks": [{"Name", "Address"}], "Ports"}],
    "VTEP", "DataPathPort", "Sandbox", "Peers": [{"Address", "VTEP"}]}] for the networks the node's tasks that have
    not ended and its attachments are on — the ingress network through its sandbox attachment (`Sandbox` its
    address there, `Ports` each service's ingress ports)."""
    wanted = {a["Network"]["ID"] for t in node_tasks if T.observed(t) <= T.RUNNING
              for a in t.get("NetworksAttachments") or []}
    wanted |= {r.value["NetworkID"] for r in store.list(ATTACHMENTS) if r.value["NodeID"] == node_id}  # its sandbox
    sandbox = {r.value["NetworkID"]: _ip(r.value["Addresses"][0]) for r in store.list(ATTACHMENTS)
               if r.value["NodeID"] == node_id and r.value["ContainerID"] == SANDBOX and r.value.get("Addresses")}
    networks = [r for r in store.list(NETWORKS) if r.id in wanted]
    if not networks:
        return []
    vteps = {r.id: r.value.get(DATA_PATH_ADDR) or (r.value.get("Status") or {}).get("Addr", "")
             for r in store.list(NODES) if (r.value.get("Status") or {}).get("State") != "down"}
    cluster = store.find(CLUSTER, "default")
    port = (cluster.value.get("DataPathPort") if cluster is not None else None) or DEFAULT_DATA_PATH_PORT
    services = [{"ID": r.id, **r.value} for r in store.list(SERVICES)]
    running: dict[str, list[T.Task]] = {}
    live: list[T.Task] = []  # tasks with addresses that may be up, on nodes that are not down
    for record in store.list(TASKS):
        task = {"ID": record.id, **record.value}
        if task.get("NodeID") not in vteps or T.observed(task) > T.RUNNING or T.desired(task) > T.RUNNING:
            continue
        live.append(task)
        if task["Status"]["State"] == "running":
            running.setdefault(task["ServiceID"], []).append(task)
    return [{"Network": {"ID": network.id, **network.value},
             "Services": [entry for service in services
                          if (entry := _service_entry(service, network.id, bool(network.value["Spec"].get("Ingress")),
                                                      running.get(service["ID"], [])))],
             "VTEP": vteps.get(node_id, ""), "DataPathPort": port, "Sandbox": sandbox.get(network.id),
             "Peers": _remote_endpoints(store, network.id, node_id, live, vteps)}
            for network in networks]


def _remote_endpoints(store: ClusterStore, network_id: str, node_id: str, tasks: list[T.Task],
                      vteps: dict[str, str]) -> list[dict[str, str]]:
    """The addresses on a network of tasks and attachments on other nodes (up), each with its node's VTEP."""
    found = [(t["NodeID"], a["Addresses"][0]) for t in tasks
             for a in t.get("NetworksAttachments") or [] if a["Network"]["ID"] == network_id]
    found += [(r.value["NodeID"], r.value["Addresses"][0]) for r in store.list(ATTACHMENTS)
              if r.value["NetworkID"] == network_id and r.value.get("Addresses")]
    return sorted(({"Address": _ip(address), "VTEP": vteps[node]} for node, address in found
                   if node != node_id and vteps.get(node)), key=lambda p: p["Address"])


def _service_entry(service: dict[str, Any], network_id: str, ingress: bool,
                   tasks: list[T.Task]) -> dict[str, Any] | None:
    """A service's peers on one network (on the ingress network: a service publishing ports, with them), or None
    when it is not there (or its VIP is not allocated yet)."""
    attachment = {} if ingress and publishes(service) else next(
        (n for n in service["Spec"]["TaskTemplate"].get("Networks") or [] if n["Target"] == network_id), None)
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
    ports = [p for p in (service.get("Endpoint") or {}).get("Ports") or []
             if ingress and p.get("PublishMode", "ingress") == "ingress"]
    return {"ID": service["ID"], "Name": name, "VIP": vip, "Aliases": list(attachment.get("Aliases") or []),
            "Tasks": backends, "Ports": ports}
