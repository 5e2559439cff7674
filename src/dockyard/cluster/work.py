"""What runs while this node is an active swarm manager: the leader's control loops, the dispatcher and the local
agent on it. Started and stopped by ClusterService; `erase` is `swarm leave --force`: every task container goes."""

from __future__ import annotations

import asyncio

from dockyard.cluster.agent.containerconfig import SWARM_LABEL
from dockyard.cluster.agent.protocols import TaskContainers, TaskImages
from dockyard.cluster.agent.worker import Agent
from dockyard.cluster.manager.dispatcher import Dispatcher
from dockyard.cluster.manager.leader import Leadership
from dockyard.cluster.manager.loops import LeaderLoops
from dockyard.cluster.service import new_id
from dockyard.cluster.store.backend import ClusterStore
from dockyard.errors import NotFound
from dockyard.util.aio import cancel_and_wait


class SwarmWork:
    """The loops, dispatcher and agent of one manager node."""

    def __init__(self, containers: TaskContainers, images: TaskImages) -> None:
        self.containers = containers
        self.images = images
        self._running: list[asyncio.Task[None]] = []
        self.node_id = ""

    def start(self, store: ClusterStore, leadership: Leadership, node_id: str) -> None:
        """Run the loops (they wait for the leadership) and the local agent."""
        self.node_id = node_id
        agent = Agent(node_id, Dispatcher(store, lambda: leadership.fence), self.containers, self.images)
        self._running = [asyncio.create_task(LeaderLoops(store, leadership, new_id).run(), name="swarm-loops"),
                         asyncio.create_task(agent.run(), name="swarm-agent")]

    async def stop(self) -> None:
        """Stop following the swarm; task containers keep running."""
        for task in self._running:
            await cancel_and_wait(task)
        self._running = []

    async def erase(self) -> None:
        """Leaving the swarm: stop, then remove every task container of this node."""
        await self.stop()
        for container in self.containers.list(all_=True, filters={"label": [f"{SWARM_LABEL}node.id={self.node_id}"]}):
            try:
                await self.containers.remove(container["Id"], force=True)
            except NotFound:
                pass  # removed meanwhile
