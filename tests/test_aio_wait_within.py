"""wait_within keeps a cancellation that lands as the awaited thing finishes (asyncio.wait_for drops it on 3.11)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Awaitable, Callable

import pytest

from dockyard.util.aio import wait_within


def _cancelled_as_it_finishes(wait: Callable[[Awaitable[Any], float], Awaitable[Any]]) -> str:
    """Cancel a waiting task in the same loop round its future gets a result; what the task then did."""
    async def scenario() -> str:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(wait(future, 10))
        await asyncio.sleep(0)
        future.set_result(1)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "returned"
    return asyncio.run(scenario())


def test_the_cancellation_is_kept() -> None:
    assert _cancelled_as_it_finishes(wait_within) == "cancelled"


def test_the_race_it_avoids_exists_here() -> None:
    """The reason for wait_within: on this Python, wait_for returns the result and the cancel is lost."""
    if sys.version_info >= (3, 12):
        pytest.skip("asyncio.wait_for keeps the cancellation since Python 3.12")
    assert _cancelled_as_it_finishes(asyncio.wait_for) == "returned"


def test_timeout_and_result() -> None:
    async def scenario() -> None:
        assert await wait_within(asyncio.sleep(0, "x"), 1) == "x"
        with pytest.raises(TimeoutError):
            await wait_within(asyncio.sleep(5), 0.05)
        assert await wait_within(asyncio.sleep(0, "y"), None) == "y"
    asyncio.run(scenario())
