"""The scheduler (swarmkit's `manager/scheduler`): pending tasks get a node. Filters, in swarmkit's order: node
ready and active, resource reservations (NanoCPUs, MemoryBytes, generic resources), placement constraints, platform,
host-mode ports, MaxReplicas per node. Ranking: each spread preference in turn picks the group of nodes with the
fewest tasks of the service, then the node with the fewest tasks of the service, then the fewest overall. A task
no node takes stays pending with `no suitable node (...)`, each failing filter counted once per node."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from dockyard.cluster import tasks as T
from dockyard.cluster.netalloc import is_allocated
from dockyard.cluster.manager import constraints as C
from dockyard.cluster.manager.plan import Plan

HostPort = tuple[str, int]


@dataclass
class NodeInfo:
    """A node and what its active tasks already use."""

    node: dict[str, Any]
    nano_cpus: int
    memory: int
    generic: Counter[str]
    by_service: Counter[str] = field(default_factory=Counter)
    total: int = 0
    host_ports: set[HostPort] = field(default_factory=set)

    @property
    def id(self) -> str:
        """The node's id."""
        return str(self.node["ID"])


def reservations(spec: dict[str, Any]) -> dict[str, Any]:
    """A task spec's Resources.Reservations."""
    return (spec.get("Resources") or {}).get("Reservations") or {}


def generic_amounts(resources: list[dict[str, Any]] | None) -> Counter[str]:
    """Generic resources as amounts per kind (a named resource counts 1)."""
    amounts: Counter[str] = Counter()
    for resource in resources or []:
        if "DiscreteResourceSpec" in resource:
            amounts[resource["DiscreteResourceSpec"]["Kind"]] += int(resource["DiscreteResourceSpec"]["Value"])
        elif "NamedResourceSpec" in resource:
            amounts[resource["NamedResourceSpec"]["Kind"]] += 1
    return amounts


def host_ports(service: dict[str, Any] | None) -> set[HostPort]:
    """The host-mode published ports a service's tasks take on their node."""
    ports = ((service or {}).get("Spec", {}).get("EndpointSpec") or {}).get("Ports") or []
    return {(p.get("Protocol") or "tcp", p["PublishedPort"]) for p in ports
            if p.get("PublishMode") == "host" and p.get("PublishedPort")}


def node_infos(nodes: list[dict[str, Any]], tasks: list[T.Task],
               services: dict[str, dict[str, Any]]) -> dict[str, NodeInfo]:
    """Every node with what its active tasks use."""
    infos = {}
    for node in nodes:
        resources = (node.get("Description") or {}).get("Resources") or {}
        infos[node["ID"]] = NodeInfo(node, resources.get("NanoCPUs", 0), resources.get("MemoryBytes", 0),
                                     generic_amounts(resources.get("GenericResources")))
    for task in tasks:
        info = infos.get(task.get("NodeID", ""))
        if info is not None and T.is_active(task) and T.observed(task) >= T.rank("assigned"):
            take(info, task, services.get(task["ServiceID"]))
    return infos


def take(info: NodeInfo, task: T.Task, service: dict[str, Any] | None) -> None:
    """Charge a task to its node."""
    wanted = reservations(task["Spec"])
    info.nano_cpus -= wanted.get("NanoCPUs", 0)
    info.memory -= wanted.get("MemoryBytes", 0)
    info.generic.subtract(generic_amounts(wanted.get("GenericResources")))
    info.by_service[task["ServiceID"]] += 1
    info.total += 1
    info.host_ports |= host_ports(service)


def _ready(task: T.Task, service: dict[str, Any] | None, info: NodeInfo) -> bool:
    return bool(info.node.get("Status", {}).get("State") == "ready"
                and info.node.get("Spec", {}).get("Availability", "active") == "active")


def _resources(task: T.Task, service: dict[str, Any] | None, info: NodeInfo) -> bool:
    wanted = reservations(task["Spec"])
    generic = generic_amounts(wanted.get("GenericResources"))
    return (wanted.get("NanoCPUs", 0) <= info.nano_cpus and wanted.get("MemoryBytes", 0) <= info.memory
            and all(amount <= info.generic[kind] for kind, amount in generic.items()))


def _constraints(task: T.Task, service: dict[str, Any] | None, info: NodeInfo) -> bool:
    return C.node_matches(C.service_constraints(task["Spec"]), info.node)


def _platform(task: T.Task, service: dict[str, Any] | None, info: NodeInfo) -> bool:
    wanted = (task["Spec"].get("Placement") or {}).get("Platforms") or []
    if not wanted:
        return True
    have = (info.node.get("Description") or {}).get("Platform") or {}

    def arch(name: str) -> str:
        return "amd64" if name == "x86_64" else name
    return any((not p.get("Architecture") or arch(p["Architecture"]) == arch(have.get("Architecture", "")))
               and (not p.get("OS") or p["OS"] == have.get("OS")) for p in wanted)


def _host_ports(task: T.Task, service: dict[str, Any] | None, info: NodeInfo) -> bool:
    return not host_ports(service) & info.host_ports


def _max_replicas(task: T.Task, service: dict[str, Any] | None, info: NodeInfo) -> bool:
    limit = (task["Spec"].get("Placement") or {}).get("MaxReplicas", 0)
    return not limit or info.by_service[task["ServiceID"]] < limit


Check = Callable[[T.Task, "dict[str, Any] | None", NodeInfo], bool]
FILTERS: list[tuple[Check, str, str]] = [
    (_ready, "1 node not available for new tasks", "{n} nodes not available for new tasks"),
    (_resources, "insufficient resources on 1 node", "insufficient resources on {n} nodes"),
    (_constraints, "scheduling constraints not satisfied on 1 node",
     "scheduling constraints not satisfied on {n} nodes"),
    (_platform, "unsupported platform on 1 node", "unsupported platform on {n} nodes"),
    (_host_ports, "host-mode port already in use on 1 node", "host-mode port already in use on {n} nodes"),
    (_max_replicas, "max replicas per node limit exceed", "max replicas per node limit exceed"),
]


def fitting(task: T.Task, service: dict[str, Any] | None, infos: list[NodeInfo]) -> tuple[list[NodeInfo], str]:
    """The nodes that pass every filter, and why the others did not (swarmkit's pipeline explanation)."""
    passed = []
    failures: Counter[int] = Counter()
    for info in infos:
        failed = next((index for index, (check, _, _) in enumerate(FILTERS) if not check(task, service, info)),
                      None)
        if failed is None:
            passed.append(info)
        else:
            failures[failed] += 1
    order = sorted(failures, key=lambda index: (-failures[index], index))
    reasons = [FILTERS[i][1] if failures[i] == 1 else FILTERS[i][2].format(n=failures[i]) for i in order]
    return passed, "; ".join(reasons)


def rank_nodes(task: T.Task, candidates: list[NodeInfo]) -> NodeInfo:
    """The best node: spread preferences, then fewest tasks of the service, then fewest tasks overall."""
    service_id = task["ServiceID"]
    for preference in (task["Spec"].get("Placement") or {}).get("Preferences") or []:
        descriptor = (preference.get("Spread") or {}).get("SpreadDescriptor", "")
        groups: dict[str, list[NodeInfo]] = {}
        for info in candidates:
            groups.setdefault(C.node_value(descriptor, info.node) or "", []).append(info)
        candidates = min(groups.values(), key=lambda group: (sum(i.by_service[service_id] for i in group),
                                                             C.node_value(descriptor, group[0].node) or ""))
    return min(candidates, key=lambda info: (info.by_service[service_id], info.total, info.id))


def schedule(tasks: list[T.Task], services: dict[str, dict[str, Any]], nodes: list[dict[str, Any]],
             now: float) -> Plan:
    """Assign every pending runnable task a node, or say why none fits; unassigned tasks no longer wanted are
    marked shut down (no agent will ever report them)."""
    plan = Plan()
    infos = node_infos(nodes, tasks, services)
    for task in sorted(tasks, key=lambda t: (t["CreatedAt"], t["ID"])):
        if T.observed(task) >= T.rank("assigned"):
            continue
        if not T.is_runnable(task):
            changed = T.with_status(task, "shutdown", "shutdown", now)
            plan.update += [changed] if changed else []
            continue
        if task["Status"]["State"] != "pending":
            continue
        service = services.get(task["ServiceID"])
        preset = task.get("NodeID")
        pool = [infos[preset]] if preset in infos else [] if preset else list(infos.values())
        passed, why = fitting(task, service, pool)
        if not passed:
            err = f"no suitable node ({why})" if why else "no suitable node"
            changed = T.with_status(task, "pending", "pending task scheduling", now, err=err)
            plan.update += [changed] if changed else []
            continue
        chosen = rank_nodes(task, passed)
        assigned = T.with_status(task, "assigned", "scheduler assigned task to node", now)
        assert assigned is not None  # pending -> assigned always moves forward
        assigned["NodeID"] = chosen.id
        take(chosen, assigned, service)
        plan.update.append(assigned)
    return plan


def allocate(tasks: list[T.Task], now: float) -> Plan:
    """NEW → PENDING for runnable tasks that have their network addresses (`netalloc` gives them)."""
    plan = Plan()
    for task in tasks:
        if task["Status"]["State"] == "new" and T.is_runnable(task) and is_allocated(task):
            changed = T.with_status(task, "pending", "pending task scheduling", now)
            plan.update += [changed] if changed else []
    return plan
