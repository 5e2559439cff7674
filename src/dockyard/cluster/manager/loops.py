"""The leader's control loops, run: while this node leads, every pass reads services, tasks and nodes from the
store, asks the pure loops (orchestrators, restart supervisor, updater, allocator, scheduler, reaper) what to write,
and writes it fenced, each task change compared on its version. Level-triggered: a full pass on taking the
leadership, after every batch of changes on the feed, every 30 s, and every half second while something waits on
time (a restart delay, an update's Delay or Monitor)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from dockyard.cluster import netalloc, tasks as T
from dockyard.cluster.ingress import INGRESS, SANDBOX
from dockyard.cluster.manager import global_, reaper, replicated, restart, scheduler, updater
from dockyard.cluster.manager.leader import Leadership
from dockyard.cluster.manager.plan import Plan
from dockyard.cluster.manager import enforcer, jobs
from dockyard.cluster.store.backend import ClusterStore, Fence, NotLeader, OutOfSequence
from dockyard.errors import DockyardError, NotFound
from dockyard.util.aio import cancel_and_wait, wait_within
from dockyard.util.timeutil import now_rfc3339

log = logging.getLogger(__name__)

RESYNC_PERIOD = 30.0
BUSY_PERIOD = 0.5
SETTLE = 0.02
SERVICES, TASKS, NODES, CLUSTER = "services", "tasks", "nodes", "cluster"
NETWORKS, ATTACHMENTS = "networks", "attachments"


class LeaderLoops:
    """The control loops, run whenever this node holds the leadership."""

    def __init__(self, store: ClusterStore, leadership: Leadership, new_id: Callable[[], str]) -> None:
        self.store = store
        self.leadership = leadership
        self.new_id = new_id

    async def run(self) -> None:
        """Wait for the leadership, then reconcile on every change and on a timer; runs until cancelled."""
        while True:
            try:
                fence = await self.leadership.wait_leading(timeout=RESYNC_PERIOD)
            except asyncio.TimeoutError:
                continue  # another node leads: keep waiting
            try:
                await self._lead(fence, self.store.subscribe())
            except NotLeader:
                log.info("swarm control loops: leadership lost")

    async def _lead(self, fence: Fence, feed: Any) -> None:
        """Reconcile until the leadership is gone."""
        changed = asyncio.Event()

        async def follow() -> None:
            async for _ in feed:
                changed.set()
        follower = asyncio.create_task(follow())
        try:
            while self.leadership.fence == fence:
                changed.clear()  # before the pass: a change landing during it makes the next one (not the 30 s resync)
                busy = await self.reconcile(fence)
                try:
                    await wait_within(changed.wait(), BUSY_PERIOD if busy else RESYNC_PERIOD)
                    await asyncio.sleep(SETTLE)  # let a burst of changes land in one pass
                except asyncio.TimeoutError:
                    pass  # the timer's own pass
        finally:
            await cancel_and_wait(follower)

    def _objects(self, kind: str) -> list[dict[str, Any]]:
        """Every stored object of a kind with its ID and Version."""
        return [{"ID": r.id, "Version": {"Index": r.version}, **r.value} for r in self.store.list(kind)]

    def _retention(self) -> int:
        """The cluster's TaskHistoryRetentionLimit."""
        clusters = self.store.list(CLUSTER)
        if not clusters:
            return reaper.DEFAULT_RETENTION
        orchestration = clusters[0].value["Spec"].get("Orchestration") or {}
        return int(orchestration.get("TaskHistoryRetentionLimit", reaper.DEFAULT_RETENTION))

    async def reconcile(self, fence: Fence) -> bool:
        """One full pass; True while something waits on time."""
        now = time.time()
        services = {s["ID"]: s for s in self._objects(SERVICES)}
        nodes = self._objects(NODES)
        tasks = self._objects(TASKS)
        down = restart.down_nodes(nodes)
        drained = {n["ID"] for n in nodes if n.get("Spec", {}).get("Availability") == "drain"}
        plan = Plan(update=reaper.orphans(tasks, services, now))
        for service in services.values():
            own = [t for t in tasks if t["ServiceID"] == service["ID"]]
            if jobs.is_job(service):
                plan.extend(jobs.reconcile(service, own, nodes, now, self.new_id))
                continue
            step = updater.update(service, own, now, self.new_id)
            if step.services:
                plan.extend(step)
                continue  # the service changes: the next pass orchestrates against what was written
            plan.extend(step)
            plan.extend(restart.supervise(service, own, down, now, self.new_id, drained))
            plan.extend(replicated.reconcile(service, own, now, self.new_id))
            plan.extend(global_.reconcile(service, own, nodes, now, self.new_id))
        await self.apply(plan, fence)
        await self._allocate_networks(fence, now)
        tasks = self._objects(TASKS)
        await self.apply(enforcer.enforce(tasks, services, nodes, now), fence)
        tasks = self._objects(TASKS)
        await self.apply(scheduler.allocate(tasks, now), fence)
        tasks = self._objects(TASKS)
        await self.apply(scheduler.schedule(tasks, services, nodes, now), fence)
        await self.apply(Plan(delete=reaper.reap(self._objects(TASKS), services, self._retention())), fence)
        return any(t["DesiredState"] == "ready" for t in tasks) or any(
            (s.get("UpdateStatus") or {}).get("State") in ("updating", "rollback_started") for s in services.values())

    async def _allocate_networks(self, fence: Fence, now: float) -> None:
        """VIPs of services, addresses of new tasks and of plain containers' attachments (`netalloc`)."""
        services = {s["ID"]: s for s in self._objects(SERVICES)}
        await self._ingress(fence)
        plan, attachments = netalloc.allocate(services, self._objects(TASKS), self._objects(NETWORKS),
                                              self._objects(ATTACHMENTS), now)
        await self.apply(plan, fence)
        for attachment in attachments:
            await self._write(self.store.update(ATTACHMENTS, attachment["ID"], _stored(attachment),
                                                attachment["Version"]["Index"], fence=fence))

    async def _ingress(self, fence: Fence) -> None:
        """The swarm's ingress network, made once, and a sandbox attachment on it for each node (the allocator
        gives it its address; a removed node's goes)."""
        ingress = netalloc.ingress_of(self._objects(NETWORKS))
        if ingress is None:
            await self._write(self.store.create(NETWORKS, self.new_id(), netalloc.ingress_value(now_rfc3339()),
                                                name=INGRESS, fence=fence))
            ingress = netalloc.ingress_of(self._objects(NETWORKS))
            if ingress is None:
                return
        missing, gone = netalloc.sandboxes(self._objects(NODES), self._objects(ATTACHMENTS), ingress["ID"])
        for node_id in missing:
            await self._write(self.store.create(ATTACHMENTS, self.new_id(), {
                "NetworkID": ingress["ID"], "ContainerID": SANDBOX, "NodeID": node_id, "Requested": "",
                "CreatedAt": now_rfc3339()}, fence=fence))
        for attachment_id in gone:
            await self._write(self.store.delete(ATTACHMENTS, attachment_id, fence=fence))

    async def apply(self, plan: Plan, fence: Fence) -> None:
        """Write a plan, each object once (the last change wins); a write that lost a race waits for the next
        pass."""
        for service in plan.services:
            await self._write(self.store.update(SERVICES, service["ID"], _stored(service), service["Version"]["Index"],
                                                name=service["Spec"]["Name"], fence=fence))
        for task in {t["ID"]: t for t in plan.update}.values():
            await self._write(self.store.update(TASKS, task["ID"], _stored(task), task["Version"]["Index"],
                                                fence=fence))
        for task in plan.create:
            await self._write(self.store.create(TASKS, task["ID"], _stored(task), fence=fence))
        for task_id in plan.delete:
            await self._write(self.store.delete(TASKS, task_id, fence=fence))

    async def _write(self, write: Any) -> None:
        """One write; a lost race or a vanished object is left to the next pass, a lost leadership ends it."""
        try:
            await write
        except (OutOfSequence, NotFound) as exc:
            log.debug("swarm control loops: %s", exc.message)
        except NotLeader:
            raise
        except DockyardError as exc:
            log.warning("swarm control loops: %s", exc.message)


def _stored(obj: dict[str, Any]) -> dict[str, Any]:
    """An object's stored value (its ID and Version live in the key and its revision)."""
    return {k: v for k, v in obj.items() if k not in ("ID", "Version")}
