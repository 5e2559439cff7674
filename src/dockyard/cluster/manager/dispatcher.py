"""The dispatcher (swarmkit's `manager/dispatcher`), in-process for the local agent: a node's session is its COMPLETE
assignment set (its tasks, with their services' names, the plaintext of the secrets and configs its unfinished tasks
reference — only those — and the peers of their networks), then after every batch of changes an INCREMENTAL message
with only what changed (`manager/assignments.py`); status reports are written back fenced, compared on each task's
version, never moving a task backwards. Remote workers get the same messages over the swarm listener
(`manager/rpc.py`)."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any, AsyncGenerator, Callable

from dockyard.cluster import tasks as T
from dockyard.cluster.manager.assignments import AssignmentSet, Current, Key, Value, known
from dockyard.cluster.manager.netpeers import PEER_KINDS, network_peers
from dockyard.util.aio import cancel_and_wait
from dockyard.cluster.store.backend import ClusterStore, Fence, OutOfSequence, Record
from dockyard.cluster import templating
from dockyard.cluster.templating import TemplateError

SERVICES, TASKS = "services", "tasks"
NODES = "nodes"
BATCH = 0.05
STATUS_RETRIES = 5


class Dispatcher:
    """Assignments out, statuses in."""

    def __init__(self, store: ClusterStore, fence: Callable[[], Fence | None],
                 reveal: Callable[[str, Record], bytes]) -> None:
        self.store = store
        self.fence = fence
        self.reveal = reveal

    def current(self, node_id: str) -> Current:
        """The node's assignments now: its tasks from `assigned` on, as the agent runs them, with what they need."""
        tasks = [{"ID": r.id, "Version": {"Index": r.version}, **r.value} for r in self.store.list(TASKS)
                 if r.value.get("NodeID") == node_id and T.rank(r.value["Status"]["State"]) >= T.rank("assigned")]
        names = {}
        for task in tasks:
            service = self.store.get(SERVICES, task["ServiceID"])
            if service is not None:
                names[task["ServiceID"]] = service.value["Spec"]["Name"]
        networks = network_peers(self.store, node_id, tasks)
        runs, data = self.for_agent(tasks, node_id)
        data.update(self._referenced(tasks))
        return Current(runs, names, data, networks)

    def _referenced(self, tasks: list[dict[str, Any]]) -> dict[Key, Value]:
        """The secrets and configs the tasks that have not ended reference (only those: swarmkit releases a task's
        dependencies once it ended), each unsealed when first sent; a templated one rendered per task (under
        `templating.task_key`), or the rendering's error under `errors`."""
        data: dict[Key, Value] = {}
        for task in tasks:
            if T.observed(task) > T.RUNNING:
                continue
            container = task["Spec"].get("ContainerSpec") or {}
            for kind, key, id_key in (("secrets", "Secrets", "SecretID"), ("configs", "Configs", "ConfigID")):
                for ref in container.get(key) or []:
                    record = self.store.get(kind, ref.get(id_key, ""))
                    if record is None:
                        continue
                    if not record.value["Spec"].get("Templating"):
                        data[kind, record.id] = partial(self._plain, kind, record)
                    else:
                        data[kind, templating.task_key(record.id, task["ID"])] = partial(self._templated, kind,
                                                                                         record, task)
        return data

    def _plain(self, kind: str, record: Record) -> tuple[Key, bytes]:
        """A secret's or config's plaintext."""
        return (kind, record.id), self.reveal(kind, record)

    def _templated(self, kind: str, record: Record, task: dict[str, Any]) -> tuple[Key, bytes]:
        """A templated secret or config rendered for a task, or the rendering's error under `errors`."""
        where = templating.task_key(record.id, task["ID"])
        try:
            return (kind, where), self._render(kind, record, task)
        except TemplateError as exc:
            return ("errors", where), f"failed to expand templated {kind[:-1]} {record.id}: {exc.message}".encode()

    async def session(self, node_id: str, details: dict[str, Any] | None = None) -> AsyncGenerator[dict[str, Any], None]:
        """The node's session: the session message (with `details`: id, managers, heartbeat period for a remote
        node), then the COMPLETE set, then after every batch of changes what changed (INCREMENTAL; nothing when
        nothing did)."""
        feed = self.store.subscribe()
        changed = asyncio.Event()

        async def follow() -> None:
            async for change in feed:
                if change.kind in (TASKS, SERVICES, *PEER_KINDS):
                    changed.set()
        follower = asyncio.create_task(follow())
        sent = AssignmentSet()
        try:
            yield {"type": "session", "node_id": node_id, **(details or {})}
            while True:
                changed.clear()
                message = sent.next(self.current(node_id))
                if message is not None:
                    yield message
                await changed.wait()
                await asyncio.sleep(BATCH)
        finally:
            await cancel_and_wait(follower)

    async def update_status(self, node_id: str, updates: list[dict[str, Any]]) -> None:
        """Write reported statuses of the node's tasks (stale or backward ones are dropped)."""
        for update in updates:
            for _ in range(STATUS_RETRIES):
                record = self.store.get(TASKS, update["TaskID"])
                if record is None or record.value.get("NodeID") != node_id:
                    break
                task = {"ID": record.id, "Version": {"Index": record.version}, **record.value}
                status = update["Status"]
                extra = {k: v for k, v in status.items() if k not in ("State", "Message", "Err")}
                changed = T.with_status(task, status["State"], status.get("Message", ""), time.time(),
                                        status.get("Err", ""), **extra)
                if changed is None:
                    break
                value = {k: v for k, v in changed.items() if k not in ("ID", "Version")}
                try:
                    await self.store.update(TASKS, record.id, value, record.version, fence=self.fence())
                    break
                except OutOfSequence:
                    continue  # the task changed meanwhile: read it again

    def for_agent(self, tasks: list[dict[str, Any]], node_id: str) -> tuple[list[dict[str, Any]], dict[Key, Value]]:
        """The tasks as the agent runs them: ContainerSpec templates expanded (swarmkit's agent does it; a task whose
        templates fail goes as it is, its error under the data's `errors` by task id), each service's host-mode ports
        as its tasks' Endpoint (swarmkit's allocator gives tasks their service's endpoint; ingress ports reach the
        agent with the ingress network's peers)."""
        node = self.store.get(NODES, node_id)
        runs: list[dict[str, Any]] = []
        errors: dict[Key, Value] = {}
        for task in tasks:
            service = self.store.get(SERVICES, task["ServiceID"])
            value = service.value if service is not None else None
            host = [p for p in ((value or {}).get("Endpoint") or {}).get("Ports") or [] if p["PublishMode"] == "host"]
            if host:
                task = {**task, "Endpoint": {"Ports": host}}
            try:
                runs.append(templating.expand_container(task, value, node.value if node is not None else None))
            except TemplateError as exc:
                errors["errors", task["ID"]] = known(("errors", task["ID"]), exc.message.encode())
                runs.append(task)
        return runs, errors

    def _render(self, kind: str, record: Record, task: dict[str, Any]) -> bytes:
        """A templated secret or config rendered for a task."""
        service = self.store.get(SERVICES, task["ServiceID"])
        node = self.store.get(NODES, task.get("NodeID", ""))

        def reveal(other_kind: str, object_id: str) -> bytes:
            other = self.store.get(other_kind, object_id)
            if other is None:
                raise ValueError(f"{other_kind[:-1]} {object_id} not found")
            return self.reveal(other_kind, other)
        return templating.render(record.value["Spec"]["Templating"], self.reveal(kind, record), task,
                                 service.value if service is not None else None,
                                 node.value if node is not None else None, reveal)
