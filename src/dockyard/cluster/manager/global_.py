"""The global orchestrator (swarmkit's `manager/orchestrator/global`): one runnable task on every node that is
ready, active and satisfies the service's constraints; tasks on nodes that are drained, down or stop satisfying
the constraints are shut down (a paused node keeps its tasks but gets no new ones), tasks on nodes that left the
swarm are removed."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.manager import constraints as C
from dockyard.cluster.manager.plan import Plan


def is_global(service: dict[str, Any]) -> bool:
    """Whether the service runs one task per node."""
    return "Global" in (service["Spec"].get("Mode") or {})


def eligible(node: dict[str, Any], constraints: list[C.Constraint]) -> bool:
    """Whether a node should get a new task of the service."""
    return (node.get("Status", {}).get("State") == "ready"
            and node.get("Spec", {}).get("Availability", "active") == "active"
            and C.node_matches(constraints, node))


def invalid(node: dict[str, Any]) -> bool:
    """swarmkit's InvalidNode: the node is down or drained, its tasks go."""
    return node.get("Status", {}).get("State") == "down" or node.get("Spec", {}).get("Availability") == "drain"


def reconcile(service: dict[str, Any], tasks: list[T.Task], nodes: list[dict[str, Any]], now: float,
              new_id: T.NewId) -> Plan:
    """Writes that leave one runnable task of a global service on each eligible node."""
    plan = Plan()
    if not is_global(service):
        return plan
    constraints = C.service_constraints(service["Spec"]["TaskTemplate"])
    known = {node["ID"]: node for node in nodes}
    held: dict[str, list[T.Task]] = {}
    for task in tasks:
        if T.is_runnable(task):
            held.setdefault(task.get("NodeID", ""), []).append(task)
    for node_id, node_tasks in held.items():
        if node_id not in known:
            plan.update += [T.with_desired(t, "remove", now) for t in node_tasks]
        elif invalid(known[node_id]) or not C.node_matches(constraints, known[node_id]):
            plan.update += [T.with_desired(t, "shutdown", now) for t in node_tasks]
    for node in nodes:
        if node["ID"] not in held and eligible(node, constraints):
            plan.create.append(T.new_task(service, 0, node["ID"], now, new_id))
    return plan
