"""The agent (swarmkit's `agent/worker.go`): follows this node's session with the dispatcher, keeps one controller
per assigned task, removes the containers of tasks that left the assignments (and, on the first complete set of
each session, task containers of this node no assignment knows), and sends statuses back in batches."""

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
from dockyard.cluster.rpcwire import LOG_SUBSCRIPTION
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
        """Apply every assignment set of the session; reopen it when it ends. The first set of each session prunes
        task containers no assignment knows (tasks deleted while the node was away)."""
        while True:
            first = True
            try:
                async for message in self.source.session(self.node_id):
                    if message.get("type") == "assignments":
                        await self.apply(message["tasks"], message["services"], message["data"], prune=first,
                                         peers=message["networks"])
                        first = False
                    elif message.get("type") == LOG_SUBSCRIPTION and self.logs is not None:
                        self.logs.start(message)
            except DockyardError as exc:
                log.warning("swarm agent: session ended (%s)", exc.message)
            await asyncio.sleep(RECONNECT_PAUSE)

    async def apply(self, tasks: list[T.Task], service_names: dict[str, str], data: dict[str, dict[str, bytes]],
                    prune: bool, peers: list[dict[str, Any]]) -> None:
        """Reconcile with a complete set: new tasks get controllers (on the networks they have addresses on: the
        ingress network when their service publishes ports, their swarm networks), known ones their update, the rest
        go; then the routing mesh, the VIPs, the DNS records and the VXLAN peers follow the running tasks."""
        await self.peers.record(peers)
        assigned = {task["ID"]: task for task in tasks}
        for task_id, task in assigned.items():
            controller = self.controllers.get(task_id)
            if controller is None:
                networks = task_networks(task)
                controller = TaskController(task, service_names.get(task["ServiceID"], ""), self.engine,
                                            self.report, data, networks)
                self.controllers[task_id] = controller
                controller.start()
            else:
                controller.update(task)
        for task_id in [t for t in self.controllers if t not in assigned]:
            await self.controllers.pop(task_id).remove()
        if prune:
            await self._remove_unknown(assigned)
        await self.publish(next((e for e in peers if e["Network"]["Spec"].get("Ingress")), None))
        await self.peers.apply(peers)

    async def _remove_unknown(self, assigned: dict[str, T.Task]) -> None:
        """Remove task containers of this node that no assignment knows (their tasks were deleted meanwhile)."""
        filters = {"label": [f"{SWARM_LABEL}node.id={self.node_id}"]}
        for container in self.engine.containers.list(all_=True, filters=filters):
            if container["Labels"].get(SWARM_LABEL + "task.id") not in assigned:
                try:
                    await self.engine.containers.remove(container["Id"], force=True)
                except NotFound:
                    pass  # removed meanwhile
