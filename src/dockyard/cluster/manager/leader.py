"""Leader election by lease with fencing (design 3.4): campaign for the leader key, renew it every second, and
hand the control loops a Fence that makes their writes fail once the leadership is lost."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dockyard.cluster.store.backend import ClusterStore, Fence
from dockyard.errors import DockyardError
from dockyard.util.aio import cancel_and_wait, wait_within

log = logging.getLogger(__name__)

LEASE_TTL = 3
RENEW_PERIOD = 1.0


class Leadership:
    """Campaigns in the background while started; `fence` is set while this node leads."""

    def __init__(self, store: ClusterStore, holder: dict[str, Any]) -> None:
        self.store = store
        self.holder = holder
        self.fence: Fence | None = None
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin campaigning."""
        self._task = asyncio.create_task(self._run(), name="cluster-leadership")

    async def stop(self) -> None:
        """Stop campaigning and give a held leadership up."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self.fence is not None:
            fence, self.fence = self.fence, None
            await self.store.resign(fence)

    async def wait_leading(self, timeout: float) -> Fence:
        """The fence once this node leads (TimeoutError after `timeout`)."""
        async def leading() -> Fence:
            while self.fence is None:
                self.changed.clear()
                await self.changed.wait()
            return self.fence
        return await wait_within(leading(), timeout)

    async def _run(self) -> None:
        """Campaign while nobody leads, renew while leading."""
        while True:
            try:
                if self.fence is None:
                    self._set(await self.store.campaign(self.holder, LEASE_TTL))
                elif not await self.store.renew(self.fence):
                    log.warning("swarm leadership lost (epoch %d)", self.fence.epoch)
                    self._set(None)
            except DockyardError as exc:
                log.warning("swarm leadership: %s", exc.message)
            await asyncio.sleep(RENEW_PERIOD)

    def _set(self, fence: Fence | None) -> None:
        """Record the leadership state and wake whoever waits for it."""
        if fence is not None and self.fence is None:
            log.info("this node leads the swarm (epoch %d)", fence.epoch)
        self.fence = fence
        self.changed.set()
