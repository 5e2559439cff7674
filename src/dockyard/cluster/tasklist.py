"""The `/tasks` face of the swarm: list with moby's filters (service and node by id or name, desired-state, label —
matched against the labels its service had when the task was made, swarmkit's ServiceAnnotations —, name, id, and
the docker CLI's private `_up-to-date`), inspect by id or id prefix."""

from __future__ import annotations

from typing import Any

from dockyard.cluster import tasks as T
from dockyard.cluster.filters import labels_match, lookup, prefix_match
from dockyard.cluster.nodes import node_name
from dockyard.cluster.service import NODES, ClusterService
from dockyard.cluster.services import SERVICES, TASKS, as_object
from dockyard.errors import InvalidParameter
from dockyard.util.filters import Filters, check_keys

TASK_FILTERS = ("id", "name", "service", "node", "label", "desired-state", "_up-to-date", "runtime")
DESIRED_STATES = ("running", "shutdown", "accepted")


class TaskObjects:
    """Tasks of the swarm, through a manager's store."""

    def __init__(self, cluster: ClusterService) -> None:
        self.cluster = cluster

    def list(self, filters: Filters) -> list[T.Task]:
        """GET /tasks."""
        check_keys(filters, TASK_FILTERS)
        store = self.cluster.manager()
        for state in filters.get("desired-state", []):
            if state not in DESIRED_STATES:
                raise InvalidParameter(f"Invalid desired-state filter: '{state}'")
        services = {r.id: r.value for r in store.list(SERVICES)}
        wanted_services = {lookup(store, SERVICES, "service", ref).id for ref in filters.get("service", [])}
        wanted_nodes = {lookup(store, NODES, "node", ref, node_name).id for ref in filters.get("node", [])}
        up_to_date = bool(filters.get("_up-to-date"))
        found = []
        for record in store.list(TASKS):
            task = as_object(record)
            service = services.get(task["ServiceID"])
            name = T.task_name(task, service["Spec"]["Name"] if service else "")
            if (prefix_match(filters.get("id"), task["ID"]) and prefix_match(filters.get("name"), name)
                    and (not wanted_services or task["ServiceID"] in wanted_services)
                    and (not wanted_nodes or task.get("NodeID") in wanted_nodes)
                    and (not filters.get("desired-state") or task["DesiredState"] in filters["desired-state"])
                    and (not filters.get("runtime") or task["Spec"].get("Runtime", "container")
                         in filters["runtime"])
                    and labels_match(filters, "label", (task.get("ServiceAnnotations") or {}).get("Labels"))
                    and (not up_to_date or (service is not None
                                            and task["Spec"] == service["Spec"]["TaskTemplate"]))):
                found.append(T.public_view(task))
        return found

    def inspect(self, ref: str) -> T.Task:
        """GET /tasks/{id}."""
        return T.public_view(as_object(lookup(self.cluster.manager(), TASKS, "task", ref)))
