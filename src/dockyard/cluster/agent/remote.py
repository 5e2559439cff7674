"""A worker's session with a remote manager (swarmkit's `agent/session.go`): the same messages the agent gets from
the in-process dispatcher, read from `POST /swarmrpc/v1/session` over mutual TLS with the node's certificate, plus
heartbeats at the period the manager gives and batched status reports. A failed heartbeat (a 410 for an expired
session, or a broken connection) ends the stream so the agent opens a new session, on the next manager of its list."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any, AsyncIterator, Callable, Protocol

from dockyard.cluster import rpcwire
from dockyard.errors import DockyardError, Unavailable

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.5  # after failed sessions in a row, wait 0.5 s, 1 s, 2 s... up to BACKOFF_MAX before the next
BACKOFF_MAX = 4.0


class Credentials(Protocol):
    """The node's certificate and trust roots (`ca/renewal.py`'s NodeTLS)."""

    def client_context(self) -> ssl.SSLContext:
        """The TLS context for a new connection to a manager."""

    def tls_info(self) -> dict[str, str]:
        """TLSInfo as the node reports it."""

    def heard(self, advice: dict[str, Any]) -> None:
        """A heartbeat's answer: the roots to trust and the issuer the certificate should have."""


class RemoteSession:
    """The agent's AssignmentSource on a worker."""

    def __init__(self, credentials: Credentials, managers: list[str], describe: Callable[[], dict[str, Any]],
                 addr: str) -> None:
        self.credentials = credentials
        self.managers = list(managers)
        self.describe = describe
        self.addr = addr
        self.session_id = ""
        self.connected = asyncio.Event()  # set while a session is live
        self._turn = 0
        self._failures = 0  # sessions in a row that failed before they were established

    def _peer(self) -> rpcwire.Peer:
        """The manager to talk to now."""
        return rpcwire.Peer(self.managers[self._turn % len(self.managers)], self.credentials.client_context())

    async def session(self, node_id: str) -> AsyncIterator[dict[str, Any]]:
        """The session's messages; heartbeats run beside them. Any failure moves to the next manager, and failures
        in a row space the attempts out (a manager down, or this node removed from the swarm)."""
        if self._failures:
            await asyncio.sleep(min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1)))
        peer = self._peer()
        stream = peer.stream(rpcwire.SESSION, {"SessionID": self.session_id, "Description": self.describe(),
                                               "Addr": self.addr})
        beating: asyncio.Task[None] | None = None
        following: asyncio.Future[dict[str, Any]] | None = None
        try:
            while True:
                following = asyncio.ensure_future(stream.__anext__())
                waiting = {following} if beating is None else {following, beating}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():  # the heartbeats stopped: this session is over
                    raise Unavailable("swarm session lost its heartbeat")
                try:
                    message = following.result()
                except StopAsyncIteration:
                    return
                if message.get("type") == "session":
                    self.session_id = message["session_id"]
                    self.managers = [m["Addr"] for m in message.get("managers") or []] or self.managers
                    if beating is None:
                        beating = asyncio.create_task(self._heartbeats(peer, message["period"]))
                    self.connected.set()
                    self._failures = 0
                yield message
        except DockyardError:
            self._turn += 1
            self._failures += 1
            raise
        finally:
            self.connected.clear()
            for pending in (beating, following):
                if pending is not None and not pending.done():
                    pending.cancel()
                    await asyncio.gather(pending, return_exceptions=True)
            await stream.aclose()

    async def _heartbeats(self, peer: rpcwire.Peer, period: float) -> None:
        """Beat every period; return when a beat fails, which ends the session (the agent opens a new one)."""
        while True:
            await asyncio.sleep(period)
            try:
                answer = await rpcwire.Peer(peer.address, self.credentials.client_context()).call(
                    "POST", rpcwire.HEARTBEAT, {"SessionID": self.session_id, "TLSInfo": self.credentials.tls_info()})
                period = float(answer.get("Period") or period)
                self.credentials.heard(answer)
            except DockyardError as exc:
                log.warning("swarm heartbeat failed (%s): opening a new session", exc.message)
                if exc.status == 410:
                    self.session_id = ""
                return

    async def update_status(self, node_id: str, updates: list[dict[str, Any]]) -> None:
        """Report task statuses in one batch."""
        if not self.session_id:
            raise Unavailable("no session with a swarm manager")
        await self._peer().call("POST", rpcwire.STATUS, {"SessionID": self.session_id, "Updates": updates})

    async def renew(self, csr: str) -> tuple[str, str]:
        """A renewed certificate chain for the CSR, and the root to trust, from the current manager."""
        answer = await self._peer().call("POST", rpcwire.RENEW, {"CSR": csr})
        return str(answer["Certificate"]), str(answer["CACert"])

    async def publish_logs(self, subscription: str, lines: AsyncIterator[bytes]) -> None:
        """Send a log subscription's lines to the manager (`POST /swarmrpc/v1/logs/{subscription}`)."""
        await self._peer().send_lines(f"{rpcwire.LOGS}/{subscription}", lines)
