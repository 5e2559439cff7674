"""The manager's side of the swarm's cluster API (`/swarmrpc/v1/*` on the swarm listener, design §4): the root CA
for anyone, certificates for joiners with a valid token, and for nodes with a certificate of this swarm a session
(the dispatcher's messages and the log broker's subscriptions), heartbeats (which carry the node's TLSInfo one way
and the trust roots and wanted issuer the other), certificate renewals, status reports and log publications."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from dockyard.cluster import addresses, rpcwire
from dockyard.cluster.ca.authority import ClusterCA
from dockyard.cluster.ca.nodecert import MANAGER_ROLE, WORKER_ROLE, NodeIdentity, identity_of
from dockyard.cluster.ca.tokens import parse_token, token_matches
from dockyard.cluster.manager.sessions import heartbeat_period
from dockyard.cluster.service import DATA_PATH_ADDR, NODES, ClusterService, new_id
from dockyard.cluster.work import SwarmWork
from dockyard.errors import Forbidden, InvalidParameter, NotImplementedYet, Unavailable
from dockyard.util.httpwire import split_lines
from dockyard.util.timeutil import now_rfc3339

log = logging.getLogger(__name__)

ERR_TOKEN = "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"
ERR_MANAGER_JOIN = ("joining a swarm as a manager is not supported yet: Dockyard swarms have one manager "
                    "(use the worker join token)")
ERR_PEER = "Permission denied: unauthorized peer role: rpc access denied"
SESSION_CHECK = 1.0  # how often a session stream checks that its session is still the node's live one


class SwarmRPC:
    """The cluster API as a manager serves it."""

    def __init__(self, cluster: ClusterService, work: SwarmWork) -> None:
        self.cluster = cluster
        self.work = work

    def ca(self) -> str:
        """The root CA certificate (PEM)."""
        return str(self.cluster.cluster_record().value["CACert"])

    async def join(self, body: dict[str, Any]) -> dict[str, Any]:
        """A node joins with a token and a CSR: its node object, its signed certificate and the managers."""
        store = self.cluster.manager()
        record = self.cluster.cluster_record()
        token = str(body.get("Token") or "")
        parse_token(token)
        tokens = record.value["JoinTokens"]
        if token_matches(token, tokens["Manager"]):
            raise NotImplementedYet(ERR_MANAGER_JOIN)
        if not token_matches(token, tokens["Worker"]):
            raise InvalidParameter(ERR_TOKEN)
        availability = body.get("Availability") or "active"
        if availability not in ("active", "pause", "drain"):
            raise InvalidParameter(f'invalid Availability: "{availability}"')
        addr = str(body.get("Addr") or "")
        data_path = addresses.resolve_data_path(str(body.get(DATA_PATH_ADDR) or ""))
        node_id = new_id()
        cert = self._ca().sign(str(body.get("CSR") or ""), node_id, "worker", addr)
        now = now_rfc3339()
        description = {**(body.get("Description") or {}), "TLSInfo": self._ca().joined_tls_info()}
        node = {"CreatedAt": now, "UpdatedAt": now,
                "Spec": {"Labels": {}, "Role": "worker", "Availability": availability},
                "Description": description, "Status": {"State": "unknown", "Addr": addr}, DATA_PATH_ADDR: data_path}
        await store.create(NODES, node_id, node, fence=self._fence())
        log.info("swarm node %s (%s) joined as a worker", node_id, description.get("Hostname", addr))
        return {"NodeID": node_id, "Certificate": cert, "CACert": record.value["CACert"], "Managers": self.managers()}

    def _ca(self) -> ClusterCA:
        """The manager's certificate authority."""
        if self.cluster.ca is None:
            raise Unavailable("the swarm's certificate authority is not running")
        return self.cluster.ca

    def managers(self) -> list[dict[str, str]]:
        """The managers' node ids and swarm addresses."""
        return [{"NodeID": r.id, "Addr": r.value["ManagerStatus"]["Addr"]}
                for r in self.cluster.manager().list(NODES) if r.value.get("ManagerStatus")]

    def _fence(self) -> Any:
        """The leader's fence (this swarm has one manager: it leads once its campaign won)."""
        leadership = self.cluster.leadership
        if leadership is None or leadership.fence is None:
            raise Unavailable("The swarm does not have a leader. It's possible that too few managers are online. "
                              "Make sure more than half of the managers are online.")
        return leadership.fence

    def authorize(self, peer: bytes | None, roles: tuple[str, ...] = (WORKER_ROLE, MANAGER_ROLE)) -> NodeIdentity:
        """The node a verified client certificate names: of this swarm, of an allowed role, still a member."""
        identity = identity_of(peer)
        local = self.cluster.local
        if local is None or identity.cluster_id != local.cluster_id or identity.role not in roles:
            raise Forbidden(ERR_PEER)
        if self.cluster.manager().get(NODES, identity.node_id) is None:
            raise Forbidden(f"node {identity.node_id} is not a member of this swarm")
        return identity

    async def session(self, peer: bytes | None, body: dict[str, Any]) -> AsyncIterator[bytes]:
        """Open the node's session (it is `ready` from now on) and give its stream of NDJSON lines."""
        identity = self.authorize(peer)
        sessions, dispatcher = self.work.sessions, self.work.dispatcher
        if sessions is None or dispatcher is None:
            raise Unavailable("the dispatcher is not running")
        self._fence()
        session = sessions.open(identity.node_id)
        await sessions.set_state(identity.node_id, "ready", addr=str(body.get("Addr") or "") or None)
        details = {"session_id": session.id, "managers": self.managers(),
                   "period": heartbeat_period(self.cluster.manager())}
        messages = self.work.logbroker.with_requests(identity.node_id, dispatcher.session(identity.node_id, details))

        async def lines() -> AsyncIterator[bytes]:
            following: asyncio.Future[dict[str, Any]] | None = None
            try:
                while sessions.by_node.get(identity.node_id) is session:
                    if following is None:
                        following = asyncio.ensure_future(messages.__anext__())
                    await asyncio.wait({following}, timeout=SESSION_CHECK)
                    if following.done():
                        message, following = following.result(), None
                        yield rpcwire.encode_message(message)
            finally:
                if following is not None:
                    following.cancel()
                    await asyncio.gather(following, return_exceptions=True)
                await messages.aclose()
        return lines()

    async def heartbeat(self, peer: bytes | None, body: dict[str, Any]) -> dict[str, Any]:
        """A heartbeat of a live session: the period to beat at, and what the node should trust and be issued by;
        the node's TLSInfo is kept. 410 for an unknown or expired session."""
        identity = self.authorize(peer)
        if self.work.sessions is None:
            raise Unavailable("the dispatcher is not running")
        period = self.work.sessions.beat(identity.node_id, str(body.get("SessionID") or ""))
        if isinstance(body.get("TLSInfo"), dict):
            await self._ca().record_tls(identity.node_id, {k: str(v) for k, v in body["TLSInfo"].items()})
        return {"Period": period, **self._ca().advice()}

    async def renew(self, peer: bytes | None, body: dict[str, Any]) -> dict[str, Any]:
        """A node's certificate renewed (it proves who it is with the current one): `{Certificate, CACert}`."""
        identity = self.authorize(peer)
        self._fence()
        answer = self._ca().renew(str(body.get("CSR") or ""), identity.node_id)
        log.info("swarm node %s renewed its certificate", identity.node_id)
        return answer

    async def status(self, peer: bytes | None, body: dict[str, Any]) -> None:
        """A batch of task statuses from a live session's node (never moving a task backwards)."""
        identity = self.authorize(peer)
        sessions, dispatcher = self.work.sessions, self.work.dispatcher
        if sessions is None or dispatcher is None:
            raise Unavailable("the dispatcher is not running")
        sessions.check(identity.node_id, str(body.get("SessionID") or ""))
        await dispatcher.update_status(identity.node_id, list(body.get("Updates") or []))

    async def publish_logs(self, peer: bytes | None, subscription: str, body: AsyncIterator[bytes]) -> None:
        """A node's lines for a log subscription made to it, until they end or the reader left."""
        identity = self.authorize(peer)
        await self.work.logbroker.publish(identity.node_id, subscription, split_lines(body))
