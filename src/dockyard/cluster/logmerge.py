"""Several log streams as one: finished logs ordered by time, followed ones interleaved as they come. Each stream
gives (details, entry) pairs; entries have a `time` (RFC 3339)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, TypeVar

D = TypeVar("D")
Pairs = AsyncIterator[tuple[D, Any]]


async def tagged(details: D, entries: AsyncIterator[Any]) -> Pairs[D]:
    """One container's entries, each with the same details."""
    async for entry in entries:
        yield details, entry


async def in_order(streams: list[Pairs[D]]) -> Pairs[D]:
    """Every entry of finished logs, ordered by time."""
    collected = [(entry.time, index, details, entry) for index, stream in enumerate(streams)
                 async for details, entry in stream]
    for _, _, details, entry in sorted(collected, key=lambda item: (item[0], item[1])):
        yield details, entry


async def merged(streams: list[Pairs[D]]) -> Pairs[D]:
    """Followed logs, interleaved as they come."""
    queue: asyncio.Queue[tuple[D, Any] | None] = asyncio.Queue()

    async def pump(stream: Pairs[D]) -> None:
        try:
            async for item in stream:
                await queue.put(item)
        finally:
            await queue.put(None)
    pumps = [asyncio.create_task(pump(stream)) for stream in streams]
    try:
        remaining = len(pumps)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            else:
                yield item
    finally:
        for task in pumps:
            task.cancel()
