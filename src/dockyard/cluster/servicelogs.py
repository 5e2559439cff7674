"""`GET /services/{id}/logs` and `/tasks/{id}/logs`: the logs of the task containers on this node and, through the
log broker, on every other node with a live session, merged, each entry with the details the docker CLI needs to
name its task (`com.docker.swarm.node.id`, `service.id`, `task.id`)."""

from __future__ import annotations

from typing import Any, AsyncIterator, Protocol

from dockyard.cluster import logmerge, tasks as T
from dockyard.cluster.filters import lookup
from dockyard.cluster.rpcwire import LogLine
from dockyard.cluster.service import ClusterService
from dockyard.cluster.services import SERVICES, TASKS, as_object
from dockyard.cluster.work import SwarmWork
from dockyard.errors import NotFound

SWARM = "com.docker.swarm."
Details = dict[str, str]
Entries = AsyncIterator[tuple[Details, Any]]


class ContainerLogs(Protocol):
    """The container log reader, handed in by `daemon/`."""

    async def logs(self, ref: str, tail: int | None, since: float | None, until: float | None,
                   follow: bool) -> tuple[bool, AsyncIterator[Any]]:
        """Whether the container has a TTY, and its log entries."""


class ServiceLogs:
    """Logs of services and tasks."""

    def __init__(self, cluster: ClusterService, containers: ContainerLogs, work: SwarmWork) -> None:
        self.cluster = cluster
        self.containers = containers
        self.work = work

    async def logs(self, kind: str, ref: str, tail: int | None, since: float | None, until: float | None,
                   follow: bool) -> tuple[bool, Entries]:
        """Whether the tasks have TTYs, and (details, entry) pairs of every task of a service (kind "services")
        or of one task (kind "tasks"), wherever they run."""
        store = self.cluster.manager()
        if kind == SERVICES:
            service = lookup(store, SERVICES, "service", ref)
            tasks = [as_object(r) for r in store.list(TASKS) if r.value["ServiceID"] == service.id]
        else:
            tasks = [as_object(lookup(store, TASKS, "task", ref))]
            service = lookup(store, SERVICES, "service", tasks[0]["ServiceID"])
        name = service.value["Spec"]["Name"]
        tty = bool((service.value["Spec"]["TaskTemplate"].get("ContainerSpec") or {}).get("TTY"))
        streams: list[logmerge.Pairs[Details]] = []
        elsewhere: dict[str, dict[str, str]] = {}  # node id -> task id -> container name
        details: dict[str, Details] = {}
        for task in sorted(tasks, key=lambda t: (t.get("Slot", 0), t["CreatedAt"])):
            node_id = task.get("NodeID", "")
            details[task["ID"]] = {SWARM + "node.id": node_id, SWARM + "service.id": task["ServiceID"],
                                   SWARM + "task.id": task["ID"]}
            if node_id and node_id != self.work.node_id:
                elsewhere.setdefault(node_id, {})[task["ID"]] = T.task_name(task, name)
                continue
            try:
                _, entries = await self.containers.logs(T.task_name(task, name), tail, since, until, follow)
            except NotFound:
                continue  # not created yet, or already removed
            streams.append(logmerge.tagged(details[task["ID"]], entries))
        sessions = self.work.sessions
        for node_id, containers in elsewhere.items():
            if sessions is not None and node_id in sessions.by_node:  # a node without a session cannot answer
                streams.append(self._remote(node_id, containers, details, tail, since, until, follow))
        return tty, (logmerge.merged(streams) if follow else logmerge.in_order(streams))

    async def _remote(self, node_id: str, containers: dict[str, str], details: dict[str, Details],
                      tail: int | None, since: float | None, until: float | None, follow: bool
                      ) -> AsyncIterator[tuple[Details, LogLine]]:
        """The entries another node publishes for its tasks."""
        async for task_id, entry in self.work.logbroker.subscribe(node_id, containers, tail, since, until, follow):
            if task_id in details:
                yield details[task_id], entry
