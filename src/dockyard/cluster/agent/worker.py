"""The agent (swarmkit's `agent/worker.go`): follows this node's session with the dispatcher — a COMPLETE assignment
set, then INCREMENTAL changes — keeps one controller per assigned task and the secret, config and error data its
tasks need (in memory only), removes the containers of tasks that left the assignments, and sends statuses back in
batches. The COMPLETE set of each session is where a node that was away catches up: task containers of this node
no assignment knows are removed (their tasks were deleted meanwhile), and so are those of tasks moved off this node
while it was away (wanted shut down while the manager last saw them running: they stop, report `shutdown`, and their
containers go; the tasks stay in the store as history)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from dockyard.cluster import tasks as T
from dockyard.cluster.agent.containerconfig import SWARM_LABEL
from dockyard.cluster.agent.containerconfig import task_networks
from dockyard.cluster.agent.controller import TaskController
from dockyard.cluster.agent.logpublisher import LogPublisher
from dockyard.cluster.agent.peers import NetworkPeers
from dockyard.cluster.agent.protocols import AssignmentSource, TaskEngine
from dockyard.cluster.rpcwire import DATA_KINDS, LOG_SUBSCRIPTION
from dockyard.errors import DockyardError, NotFound
from dockyard.util.aio import cancel_and_wait

log = logging.getLogger(__name__)

STATUS_BATCH = 0.1
RECONNECT_PAUSE = 0.5


class Agent:
    """Runs this node's tasks."""

    def __init__(self, node_id: str, source: AssignmentSource, engine: TaskEngine,
                 publish: Callable[[dict[str, Any] | None], Awaitable[None]], peers: NetworkPeers,
                 logs: LogPublisher | None = None) -> None:
        self.node_id, self.source, self.engine, self.publish = node_id, source, engine, publish
        self.peers = peers
        self.logs = logs  # a remote worker's: publishes its tasks' logs when a manager asks
        self.controllers: dict[str, TaskController] = {}
        self.data: dict[str, dict[str, bytes]] = {kind: {} for kind in DATA_KINDS}  # shared with the controllers
        self.service_names: dict[str, str] = {}
        self.pending: dict[str, dict[str, Any]] = {}
        self._flush = asyncio.Event()

    async def run(self) -> None:
        """Follow the session and send statuses until cancelled; task containers keep running after (a restarted
        agent adopts them)."""
        try:
            await asyncio.gather(self._follow(), self._send_statuses())
        finally:
            for controller in self.controllers.values():
                if controller.runner is not None:
                    await cancel_and_wait(controller.runner)
            self.controllers = {}
            if self.logs is not None:
                await self.logs.stop()

    def report(self, task_id: str, status: dict[str, Any]) -> None:
        """Queue a status for the next batch."""
        self.pending[task_id] = status
        self._flush.set()

    async def _send_statuses(self) -> None:
        """Send queued statuses, at most one batch per STATUS_BATCH."""
        while True:
            await self._flush.wait()
            await asyncio.sleep(STATUS_BATCH)
            self._flush.clear()
            batch, self.pending = self.pending, {}
            try:
                await self.source.update_status(self.node_id, [{"TaskID": task_id, "Status": status}
                                                               for task_id, status in batch.items()])
            except DockyardError as exc:
                log.warning("swarm agent: statuses not delivered (%s); retrying", exc.message)
                self.pending = {**batch, **self.pending}
                self._flush.set()
                await asyncio.sleep(RECONNECT_PAUSE)

    async def _follow(self) -> None:
        """Apply every assignment message of the session; reopen it when it ends."""
        while True:
            try:
                async for message in self.source.session(self.node_id):
                    if message.get("type") == "assignments":
                        await self.assign(message)
                    elif message.get("type") == LOG_SUBSCRIPTION and self.logs is not None:
                        self.logs.start(message)
            except DockyardError as exc:
                log.warning("swarm agent: session ended (%s)", exc.message)
            await asyncio.sleep(RECONNECT_PAUSE)

    async def assign(self, message: dict[str, Any]) -> None:
        """Apply a COMPLETE set (everything not in it goes) or an INCREMENTAL change."""
        complete = message["kind"] == "complete"
        if complete:
            self.service_names = {}
        self.service_names.update(message["services"])
        for kind in DATA_KINDS:
            values = message["data"].get(kind) or {}
            removed = [k for k in self.data[kind] if k not in values] if complete else \
                (message.get("removed_data") or {}).get(kind) or []
            for key in removed:  # in place: controllers preparing a task read the same map
                self.data[kind].pop(key, None)
            self.data[kind].update(values)
        networks = message.get("networks")
        if networks is not None:
            await self.peers.record(networks)
        tasks = message["tasks"]
        for task in tasks:
            self._run(task)
        gone = [t for t in self.controllers if t not in {task["ID"] for task in tasks}] if complete else \
            [t for t in message["removed"] if t in self.controllers]
        for task_id in gone:
            await self.controllers.pop(task_id).remove()
        if complete:
            for task in tasks:
                if T.desired(task) >= T.rank("shutdown") and T.observed(task) <= T.RUNNING:
                    self.controllers[task["ID"]].orphan()  # moved elsewhere while this node was away
            await self._remove_unknown({task["ID"] for task in tasks})
        if networks is not None:
            await self.publish(next((e for e in networks if e["Network"]["Spec"].get("Ingress")), None))
            await self.peers.apply(networks)

    def _run(self, task: T.Task) -> None:
        """A new task gets its controller (on the networks it has addresses on: the ingress network when its service
        publishes ports, its swarm networks), a known one its update."""
        controller = self.controllers.get(task["ID"])
        if controller is not None:
            controller.update(task)
            return
        controller = TaskController(task, self.service_names.get(task["ServiceID"], ""), self.engine, self.report,
                                    self.data, task_networks(task))
        self.controllers[task["ID"]] = controller
        controller.start()

    async def _remove_unknown(self, assigned: set[str]) -> None:
        """Remove task containers of this node that no assignment knows (their tasks were deleted meanwhile)."""
        filters = {"label": [f"{SWARM_LABEL}node.id={self.node_id}"]}
        for container in self.engine.containers.list(all_=True, filters=filters):
            if container["Labels"].get(SWARM_LABEL + "task.id") not in assigned:
                try:
                    await self.engine.containers.remove(container["Id"], force=True)
                except NotFound:
                    pass  # removed meanwhile
