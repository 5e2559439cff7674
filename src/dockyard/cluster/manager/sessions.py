"""Remote workers' sessions and liveness (swarmkit's dispatcher heartbeats): each node holds at most one session;
every heartbeat moves its deadline to now + GRACE_MULTIPLIER × `Dispatcher.HeartbeatPeriod`; while this node leads,
a node whose deadline passed is marked `down` ("heartbeat failure"), which makes the restart supervisor move its
replicated tasks. On taking the leadership every node gets a full grace from then on, so nodes can reconnect first."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from dockyard.cluster.manager.leader import Leadership
from dockyard.cluster.store.backend import ClusterStore, NotLeader, OutOfSequence
from dockyard.errors import DockyardError, Gone
from dockyard.util.timeutil import now_rfc3339

log = logging.getLogger(__name__)

NODES, CLUSTER = "nodes", "cluster"
GRACE_MULTIPLIER = 3  # swarmkit's DefaultHeartBeatPeriod × GracePeriodMultiplier
DEFAULT_PERIOD_NS = 5_000_000_000
ERR_SESSION = "session invalid"


def heartbeat_period(store: ClusterStore) -> float:
    """The cluster's `Dispatcher.HeartbeatPeriod`, in seconds."""
    clusters = store.list(CLUSTER)
    spec = clusters[0].value["Spec"] if clusters else {}
    return int((spec.get("Dispatcher") or {}).get("HeartbeatPeriod") or DEFAULT_PERIOD_NS) / 1e9


@dataclass
class Session:
    """One node's live session."""

    id: str
    node_id: str
    deadline: float


class Sessions:
    """Sessions by node, their deadlines, and the loop that marks silent nodes down."""

    def __init__(self, store: ClusterStore, leadership: Leadership, own_node_id: str) -> None:
        self.store = store
        self.leadership = leadership
        self.own_node_id = own_node_id
        self.by_node: dict[str, Session] = {}

    def grace(self) -> float:
        """How long a node may stay silent."""
        return GRACE_MULTIPLIER * heartbeat_period(self.store)

    def open(self, node_id: str) -> Session:
        """A new session for the node (one it held before is replaced)."""
        session = Session(secrets.token_hex(16), node_id, time.monotonic() + self.grace())
        self.by_node[node_id] = session
        return session

    def check(self, node_id: str, session_id: str) -> Session:
        """The node's live session of that id; 410 when it is unknown or expired (the node opens a new one)."""
        session = self.by_node.get(node_id)
        if session is None or session.id != session_id or session.deadline < time.monotonic():
            raise Gone(ERR_SESSION)
        return session

    def beat(self, node_id: str, session_id: str) -> float:
        """A heartbeat: the deadline moves on; the period the node should beat at."""
        session = self.check(node_id, session_id)
        session.deadline = time.monotonic() + self.grace()
        return heartbeat_period(self.store)

    async def set_state(self, node_id: str, state: str, message: str = "", addr: str | None = None) -> None:
        """Write the node's Status.State (fenced; a lost race is retried on fresh data)."""
        for _ in range(5):
            record = self.store.get(NODES, node_id)
            if record is None:
                return
            status = dict(record.value.get("Status") or {})
            wanted = {**{k: v for k, v in status.items() if k != "Message"}, "State": state}
            if message:
                wanted["Message"] = message
            if addr is not None:
                wanted["Addr"] = addr
            if wanted == status:
                return
            value = {**record.value, "Status": wanted, "UpdatedAt": now_rfc3339()}
            try:
                await self.store.update(NODES, node_id, value, version=record.version, fence=self.leadership.fence)
                return
            except OutOfSequence:
                continue

    async def watch(self) -> None:
        """While this node leads: mark nodes that stayed silent past their deadline down; runs until cancelled."""
        while True:
            try:
                await self.leadership.wait_leading(timeout=30.0)
            except asyncio.TimeoutError:
                continue
            unseen: dict[str, float] = {}  # nodes without a session: since when this leader knows them
            try:
                while self.leadership.fence is not None:
                    await self._expire(unseen)
                    await asyncio.sleep(max(heartbeat_period(self.store) / 4, 0.05))
            except NotLeader:
                log.info("swarm heartbeats: leadership lost")
            except DockyardError as exc:
                log.warning("swarm heartbeats: %s", exc.message)
                await asyncio.sleep(1)

    async def _expire(self, unseen: dict[str, float]) -> None:
        """One pass over the nodes: a node without a session gets a full grace from when this leader first saw it
        (a node that just joined, or any node when the leadership was taken)."""
        now = time.monotonic()
        grace = self.grace()
        for record in self.store.list(NODES):
            node_id = record.id
            if node_id == self.own_node_id or (record.value.get("Status") or {}).get("State") == "down":
                continue
            session = self.by_node.get(node_id)
            deadline = session.deadline if session is not None else unseen.setdefault(node_id, now) + grace
            if deadline < now:
                log.info("swarm node %s missed its heartbeats: down", node_id)
                self.by_node.pop(node_id, None)
                await self.set_state(node_id, "down", "heartbeat failure")

