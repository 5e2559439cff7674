"""asyncio helpers shared by services and routers."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")


async def run_blocking(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking work (files, mounts, SQLite, netlink) in the loop's default executor."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel a background task and wait until it has finished (its cancellation is the expected end)."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass  # the cancellation asked for just above


async def wait_within(awaitable: Awaitable[T], timeout: float | None) -> T:
    """`asyncio.wait_for` without its Python 3.11 race: when the awaited thing finishes just as the caller is
    cancelled, wait_for returns the result and drops the cancellation, and a loop cancelled that way runs on
    (a daemon hung in shutdown). `asyncio.timeout` keeps it. TimeoutError after `timeout` seconds (None: never)."""
    async with asyncio.timeout(timeout):
        return await awaitable
