"""The log broker (swarmkit's `manager/logbroker`): `service logs` on a manager asks another node for its tasks' lines
with a `log-subscription` message on that node's session, and the node publishes them with `POST
/swarmrpc/v1/logs/{subscription}` (chunked NDJSON, one `rpcwire.encode_log_line` per entry) until its tasks' logs end (not
following) or the subscription closes (the reader went away)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator

from dockyard.cluster.rpcwire import LOG_SUBSCRIPTION, LogLine, decode_log_line
from dockyard.errors import Gone
from dockyard.util.aio import wait_within

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0  # a node that does not start publishing by then is left out


@dataclass
class Subscription:
    """One reader's request to one node."""

    node_id: str
    queue: asyncio.Queue[tuple[str, LogLine] | None] = field(default_factory=asyncio.Queue)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class LogBroker:
    """Open subscriptions, and the requests waiting for each node's session."""

    def __init__(self) -> None:
        self.requests: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.subscriptions: dict[str, Subscription] = {}

    async def subscribe(self, node_id: str, tasks: dict[str, str], tail: int | None, since: float | None,
                        until: float | None, follow: bool) -> AsyncIterator[tuple[str, LogLine]]:
        """(task id, entry) pairs of the node's tasks (task id -> container name), until the node's publication
        ends; nothing when it does not start publishing within START_TIMEOUT."""
        subscription_id = secrets.token_hex(16)
        subscription = Subscription(node_id)
        self.subscriptions[subscription_id] = subscription
        self.requests.setdefault(node_id, asyncio.Queue()).put_nowait(
            {"type": LOG_SUBSCRIPTION, "id": subscription_id, "tasks": tasks, "tail": tail, "since": since,
             "until": until, "follow": follow})
        try:
            try:
                await wait_within(subscription.started.wait(), START_TIMEOUT)
            except asyncio.TimeoutError:
                log.warning("swarm logs: node %s did not publish its tasks' logs", node_id)
                return
            while (item := await subscription.queue.get()) is not None:
                yield item
        finally:
            subscription.closed.set()
            self.subscriptions.pop(subscription_id, None)

    async def publish(self, node_id: str, subscription_id: str, lines: AsyncIterator[bytes]) -> None:
        """A node's publication for a subscription: its lines go to the reader until they end or the reader left."""
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None or subscription.node_id != node_id:
            raise Gone(f"log subscription {subscription_id} not found")
        subscription.started.set()
        closed = asyncio.ensure_future(subscription.closed.wait())
        try:
            while True:
                following = asyncio.ensure_future(lines.__anext__())
                await asyncio.wait({following, closed}, return_when=asyncio.FIRST_COMPLETED)
                if not following.done():
                    await _drop(following)
                    return
                try:
                    subscription.queue.put_nowait(decode_log_line(following.result()))
                except StopAsyncIteration:
                    return
        finally:
            await _drop(closed)
            subscription.queue.put_nowait(None)

    async def with_requests(self, node_id: str, messages: AsyncIterator[dict[str, Any]]
                            ) -> AsyncGenerator[dict[str, Any], None]:
        """A node's session messages with the log subscriptions for it put in between (those whose reader already
        left are dropped)."""
        requests = self.requests.setdefault(node_id, asyncio.Queue())
        next_message = asyncio.ensure_future(messages.__anext__())
        next_request = asyncio.ensure_future(requests.get())
        try:
            while True:
                done, _ = await asyncio.wait({next_message, next_request}, return_when=asyncio.FIRST_COMPLETED)
                if next_request in done:
                    request = next_request.result()
                    next_request = asyncio.ensure_future(requests.get())
                    if request["id"] in self.subscriptions:
                        yield request
                if next_message in done:
                    try:
                        message = next_message.result()
                    except StopAsyncIteration:
                        return
                    next_message = asyncio.ensure_future(messages.__anext__())
                    yield message
        finally:
            for pending in (next_message, next_request):
                await _drop(pending)


async def _drop(pending: asyncio.Future[Any]) -> None:
    """Cancel a future that may already be done (its outcome, whatever it was, is not wanted)."""
    pending.cancel()
    await asyncio.gather(pending, return_exceptions=True)
