"""A worker's side of `service logs` (swarmkit's agent log publisher): for each `log-subscription` message its
session brings, the named task containers' logs (tail, since, until as asked; followed until they stop or the
manager ends the publication) are sent to the manager as one chunked NDJSON body."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Awaitable, Callable

from dockyard.cluster import logmerge, rpcwire
from dockyard.cluster.agent.protocols import TaskLogs
from dockyard.errors import DockyardError
from dockyard.util.aio import cancel_and_wait

log = logging.getLogger(__name__)

Send = Callable[[str, AsyncIterator[bytes]], Awaitable[None]]


class LogPublisher:
    """Publications in progress."""

    def __init__(self, reader: TaskLogs, send: Send) -> None:
        self.reader = reader
        self.send = send
        self.running: set[asyncio.Task[None]] = set()

    def start(self, message: dict[str, Any]) -> None:
        """Begin publishing for a subscription message."""
        task = asyncio.create_task(self._publish(message), name=f"swarm-logs-{message['id']}")
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def stop(self) -> None:
        """End every publication (the agent stops)."""
        for task in list(self.running):
            await cancel_and_wait(task)

    async def _publish(self, message: dict[str, Any]) -> None:
        """Read the tasks' logs and send them."""
        follow = bool(message.get("follow"))
        sources: list[logmerge.Pairs[str]] = []
        for task_id, name in (message.get("tasks") or {}).items():
            try:
                _, entries = await self.reader.logs(name, message.get("tail"), message.get("since"),
                                                    message.get("until"), follow)
            except DockyardError:
                continue  # not created yet, already removed, or its log is not readable
            sources.append(logmerge.tagged(task_id, entries))
        entries = logmerge.merged(sources) if follow else logmerge.in_order(sources)

        async def lines() -> AsyncIterator[bytes]:
            async for task_id, entry in entries:
                yield rpcwire.encode_log_line(task_id, entry.stream, entry.time, entry.data)
        try:
            await self.send(str(message["id"]), lines())
        except DockyardError as exc:
            log.warning("swarm logs: publication %s ended: %s", message["id"], exc.message)
