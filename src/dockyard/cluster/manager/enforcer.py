"""The constraint enforcer (swarmkit's `manager/orchestrator/constraintenforcer`): on an active node, a task that
is wanted and has not ended is rejected when the node no longer satisfies its service's current placement
constraints or can no longer hold its resource reservations; the restart supervisor then shuts it down and
replaces it where it fits. Drained nodes are left to the orchestrators, paused nodes are not touched."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.manager import constraints as C
from dockyard.cluster.manager.plan import Plan
from dockyard.cluster.manager.scheduler import reservations

MESSAGE = "task rejected by constraint enforcer"
ERR = "assigned node no longer meets constraints"


def enforce(tasks: list[T.Task], services: dict[str, dict[str, Any]], nodes: list[dict[str, Any]],
            now: float) -> Plan:
    """Rejections of the tasks whose node stopped fitting them."""
    plan = Plan()
    for node in nodes:
        if node.get("Spec", {}).get("Availability", "active") != "active":
            continue
        resources = (node.get("Description") or {}).get("Resources") or {}
        cpus, memory = resources.get("NanoCPUs", 0), resources.get("MemoryBytes", 0)
        for task in sorted(tasks, key=lambda t: t["ID"]):
            if task.get("NodeID") != node["ID"] or not _holds_node(task):
                continue
            service = services.get(task["ServiceID"])
            spec = service["Spec"]["TaskTemplate"] if service is not None else task["Spec"]
            wanted = reservations(task["Spec"])
            fits = (C.node_matches(C.service_constraints(spec), node)
                    and wanted.get("MemoryBytes", 0) <= memory and wanted.get("NanoCPUs", 0) <= cpus)
            if not fits:
                changed = T.with_status(task, "rejected", MESSAGE, now, err=ERR)
                plan.update += [changed] if changed else []
                continue
            memory -= wanted.get("MemoryBytes", 0)
            cpus -= wanted.get("NanoCPUs", 0)
    return plan


def _holds_node(task: T.Task) -> bool:
    """Wanted between assigned and complete and not yet complete: the task uses its node."""
    return T.rank("assigned") <= T.desired(task) <= T.rank("complete") and T.observed(task) < T.rank("complete")
