"""What runs while this node is an active swarm manager: the leader's control loops, the dispatcher and the local
agent on it, with the ingress network. Started and stopped by ClusterService; `erase` is `swarm leave --force`: every
task container and task tmpfs goes, then the swarm networks' records, the routing mesh and the ingress network."""

from __future__ import annotations

import asyncio
from typing import Callable

from dockyard.cluster.agent.containerconfig import SWARM_LABEL
from dockyard.cluster.agent.peers import NetworkPeers
from dockyard.cluster.agent.protocols import TaskEngine
from dockyard.cluster.agent.worker import Agent
from dockyard.cluster.ingress import Ingress
from dockyard.cluster.manager.dispatcher import Dispatcher
from dockyard.cluster.manager.leader import Leadership
from dockyard.cluster.manager.loops import LeaderLoops
from dockyard.cluster.networks import prune_attachments, reconcile_local
from dockyard.cluster.service import new_id
from dockyard.cluster.store.backend import ClusterStore, Record
from dockyard.errors import NotFound
from dockyard.util.aio import cancel_and_wait, run_blocking


class SwarmWork:
    """The loops, dispatcher and agent of one manager node."""

    def __init__(self, engine: TaskEngine, reveal: Callable[[str, Record], bytes]) -> None:
        self.engine = engine
        self.reveal = reveal
        self._running: list[asyncio.Task[None]] = []
        self.node_id = ""
        self.ingress = Ingress(engine.networks)
        self.peers = NetworkPeers(engine)

    def start(self, store: ClusterStore, leadership: Leadership, node_id: str) -> None:
        """Run the loops (they wait for the leadership) and the local agent."""
        self.node_id = node_id
        dispatcher = Dispatcher(store, lambda: leadership.fence, self.reveal)
        agent = Agent(node_id, dispatcher, self.engine, self.ingress.publish, self.peers)
        self._running = [asyncio.create_task(LeaderLoops(store, leadership, new_id).run(), name="swarm-loops"),
                         asyncio.create_task(self._run_agent(agent, store), name="swarm-agent")]

    async def _run_agent(self, agent: Agent, store: ClusterStore) -> None:
        """The ingress network and its mesh first (tasks with published ports join it), the swarm networks
        recorded here, the attachments of containers that ended while the daemon was down freed, then the agent."""
        await self.ingress.ensure(store)
        await reconcile_local(store, self.engine.networks)
        await prune_attachments(store, self.node_id, {c["Id"] for c in self.engine.containers.list()})
        await agent.run()

    async def stop(self) -> None:
        """Stop following the swarm; task containers keep running."""
        for task in self._running:
            await cancel_and_wait(task)
        self._running = []

    async def erase(self) -> None:
        """Leaving the swarm: stop, then remove every task container of this node."""
        await self.stop()
        mine = {"label": [f"{SWARM_LABEL}node.id={self.node_id}"]}
        for container in self.engine.containers.list(all_=True, filters=mine):
            try:
                await self.engine.containers.remove(container["Id"], force=True)
            except NotFound:
                pass  # removed meanwhile
        await run_blocking(self.engine.files.remove_all)
        await self.peers.remove_all()
        await self.ingress.remove()
