"""What runs while this node is in a swarm: on a manager the leader's control loops, the dispatcher, the remote
sessions' heartbeat watch and the local agent; on a worker the agent fed by its remote session; on both the routing
mesh on the ingress network. Started and stopped by ClusterService; `erase` is `swarm leave --force`: every task
container and task tmpfs goes, then the swarm networks' records, the routing mesh and the ingress network."""

from __future__ import annotations

import asyncio
from typing import Callable

from dockyard.cluster.agent.containerconfig import SWARM_LABEL
from dockyard.cluster.agent.peers import NetworkPeers
from dockyard.cluster.agent.logpublisher import LogPublisher
from dockyard.cluster.agent.protocols import AssignmentSource, TaskEngine
from dockyard.cluster.agent.remote import RemoteSession
from dockyard.cluster.agent.worker import Agent
from dockyard.cluster.ingress import Ingress
from dockyard.cluster.manager.dispatcher import Dispatcher
from dockyard.cluster.manager.leader import Leadership
from dockyard.cluster.manager.logbroker import LogBroker
from dockyard.cluster.manager.loops import LeaderLoops
from dockyard.cluster.manager.sessions import Sessions
from dockyard.cluster.networks import prune_attachments, reconcile_local
from dockyard.cluster.service import new_id
from dockyard.cluster.store.backend import ClusterStore, Record
from dockyard.errors import NotFound
from dockyard.util.aio import cancel_and_wait, run_blocking


class SwarmWork:
    """The loops, dispatcher and agent of one node."""

    def __init__(self, engine: TaskEngine, reveal: Callable[[str, Record], bytes]) -> None:
        self.engine = engine
        self.reveal = reveal
        self._running: list[asyncio.Task[None]] = []
        self.node_id = ""
        self.ingress = Ingress(engine.networks)
        self.peers = NetworkPeers(engine)
        self.dispatcher: Dispatcher | None = None  # on a manager: the remote sessions are served from these
        self.sessions: Sessions | None = None
        self.logbroker = LogBroker()  # on a manager: `service logs` of other nodes' tasks

    def start(self, store: ClusterStore, leadership: Leadership, node_id: str) -> None:
        """On a manager: run the loops and the heartbeat watch (they wait for the leadership) and the local agent."""
        self.dispatcher = Dispatcher(store, lambda: leadership.fence, self.reveal)
        self.sessions = Sessions(store, leadership, node_id)
        self._start_agent(node_id, self.dispatcher, store)
        self._running += [asyncio.create_task(LeaderLoops(store, leadership, new_id).run(), name="swarm-loops"),
                          asyncio.create_task(self.sessions.watch(), name="swarm-heartbeats")]

    def start_remote(self, node_id: str, source: RemoteSession) -> None:
        """On a worker: run the agent on assignments from its session with a manager (which also asks it for its
        tasks' logs)."""
        self.peers.worker = True
        self._start_agent(node_id, source, None, LogPublisher(self.engine.logs, source.publish_logs))

    def _start_agent(self, node_id: str, source: AssignmentSource, store: ClusterStore | None,
                     logs: LogPublisher | None = None) -> None:
        """Run the agent on assignments from `source`."""
        self.node_id = node_id
        agent = Agent(node_id, source, self.engine, self.ingress.apply, self.peers, logs)
        self._running = [asyncio.create_task(self._run_agent(agent, store), name="swarm-agent")]

    async def _run_agent(self, agent: Agent, store: ClusterStore | None) -> None:
        """On a manager the swarm networks recorded here and the attachments of containers that ended while the
        daemon was down freed; then the agent (the routing mesh comes with its first assignment set)."""
        if store is not None:
            await reconcile_local(store, self.engine.networks)
            await prune_attachments(store, self.node_id, {c["Id"] for c in self.engine.containers.list()})
        await agent.run()

    async def stop(self) -> None:
        """Stop following the swarm; task containers keep running."""
        for task in self._running:
            await cancel_and_wait(task)
        self._running = []
        if self.sessions is not None:
            self.sessions.by_node.clear()  # their streams end within SESSION_CHECK
        self.dispatcher = self.sessions = None

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
