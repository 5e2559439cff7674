"""`GET /services/{id}/logs` and `/tasks/{id}/logs`: the logs of the task containers on this node, merged, each
entry with the details the docker CLI needs to name its task (`com.docker.swarm.node.id`, `service.id`,
`task.id`)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Protocol

from dockyard.cluster import tasks as T
from dockyard.cluster.filters import lookup
from dockyard.cluster.service import ClusterService
from dockyard.cluster.services import SERVICES, TASKS, as_object
from dockyard.errors import NotFound

SWARM = "com.docker.swarm."
Sources = list[tuple[dict[str, str], AsyncIterator[Any]]]
Entries = AsyncIterator[tuple[dict[str, str], Any]]


class ContainerLogs(Protocol):
    """The container log reader, handed in by `daemon/`."""

    async def logs(self, ref: str, tail: int | None, since: float | None, until: float | None,
                   follow: bool) -> tuple[bool, AsyncIterator[Any]]:
        """Whether the container has a TTY, and its log entries."""


class ServiceLogs:
    """Logs of services and tasks."""

    def __init__(self, cluster: ClusterService, containers: ContainerLogs) -> None:
        self.cluster = cluster
        self.containers = containers

    async def logs(self, kind: str, ref: str, tail: int | None, since: float | None, until: float | None,
                   follow: bool) -> tuple[bool, Entries]:
        """Whether the tasks have TTYs, and (details, entry) pairs of every task of a service (kind "services")
        or of one task (kind "tasks")."""
        store = self.cluster.manager()
        if kind == SERVICES:
            service = lookup(store, SERVICES, "service", ref)
            tasks = [as_object(r) for r in store.list(TASKS) if r.value["ServiceID"] == service.id]
        else:
            tasks = [as_object(lookup(store, TASKS, "task", ref))]
            service = lookup(store, SERVICES, "service", tasks[0]["ServiceID"])
        name = service.value["Spec"]["Name"]
        tty = bool((service.value["Spec"]["TaskTemplate"].get("ContainerSpec") or {}).get("TTY"))
        sources: Sources = []
        for task in sorted(tasks, key=lambda t: (t.get("Slot", 0), t["CreatedAt"])):
            try:
                _, entries = await self.containers.logs(T.task_name(task, name), tail, since, until, follow)
            except NotFound:
                continue  # not created yet, or already removed
            details = {SWARM + "node.id": task.get("NodeID", ""), SWARM + "service.id": task["ServiceID"],
                       SWARM + "task.id": task["ID"]}
            sources.append((details, entries))
        return tty, (_merged(sources) if follow else _in_order(sources))


async def _in_order(sources: Sources) -> Entries:
    """Every entry of finished logs, ordered by time."""
    collected = [(entry.time, index, details, entry) for index, (details, entries) in enumerate(sources)
                 async for entry in entries]
    for _, _, details, entry in sorted(collected, key=lambda item: (item[0], item[1])):
        yield details, entry


async def _merged(sources: Sources) -> Entries:
    """Followed logs, interleaved as they come."""
    queue: asyncio.Queue[tuple[dict[str, str], Any] | None] = asyncio.Queue()

    async def pump(details: dict[str, str], entries: AsyncIterator[Any]) -> None:
        try:
            async for entry in entries:
                await queue.put((details, entry))
        finally:
            await queue.put(None)
    pumps = [asyncio.create_task(pump(details, entries)) for details, entries in sources]
    try:
        remaining = len(pumps)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            else:
                yield item
    finally:
        for task in pumps:
            task.cancel()
