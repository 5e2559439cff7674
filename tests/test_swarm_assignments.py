"""The dispatcher's session messages (no daemon, a real etcd member behind the cluster store): a COMPLETE set first,
then INCREMENTAL changes carrying only what changed — a task's own status report is no change, a secret already sent
is not sent again, a config no task needs any more is withdrawn, a deleted task is removed — and a node never gets a
secret or config only another node's tasks reference."""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard.cluster.manager.dispatcher import Dispatcher
from dockyard.cluster.store.backend import Record
from dockyard.cluster.store.etcd import EtcdStore
from test_cluster_store import run_with_member

QUIET = 0.4  # longer than the dispatcher's batching: a message due would have come


def task(node: str, service: str, secrets: list[str], configs: list[str] = []) -> dict[str, Any]:  # noqa: B006
    """A task assigned to `node` referencing secrets and configs."""
    return {"ServiceID": service, "NodeID": node, "Slot": 1, "DesiredState": "running",
            "Status": {"State": "assigned", "Message": "scheduler assigned task to node"},
            "Spec": {"ContainerSpec": {"Image": "busybox",
                                       "Secrets": [{"SecretID": s, "SecretName": s, "File": {"Name": s}}
                                                   for s in secrets],
                                       "Configs": [{"ConfigID": c, "ConfigName": c, "File": {"Name": c}}
                                                   for c in configs]}}}


def reveal(kind: str, record: Record) -> bytes:
    """The plaintext the test gives each secret or config."""
    return f"{kind}:{record.id}".encode()


def test_complete_set_then_increments_with_only_referenced_data() -> None:
    async def scenario(store: EtcdStore, member: Any) -> None:
        for kind, ids in (("secrets", ("s1", "s2", "s3")), ("configs", ("c1",))):
            for object_id in ids:
                await store.create(kind, object_id, {"Spec": {"Name": object_id}}, name=object_id)
        for service in ("web", "db"):
            await store.create("services", service, {"Spec": {"Name": service}}, name=service)
        t1 = await store.create("tasks", "t1", task("n1", "web", ["s1"], ["c1"]))
        await store.create("tasks", "t2", task("n2", "db", ["s2"]))
        dispatcher = Dispatcher(store, lambda: None, reveal)
        session = dispatcher.session("n1")
        received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        every: list[dict[str, Any]] = []

        async def follow() -> None:
            async for message in session:
                every.append(message)
                await received.put(message)
        follower = asyncio.create_task(follow())

        async def next_message() -> dict[str, Any]:
            return await asyncio.wait_for(received.get(), 5)

        async def quiet() -> None:
            await asyncio.sleep(QUIET)
            assert received.empty(), received.get_nowait()
        try:
            assert (await next_message())["type"] == "session"
            complete = await next_message()
            assert complete["kind"] == "complete" and [t["ID"] for t in complete["tasks"]] == ["t1"]
            assert complete["data"] == {"secrets": {"s1": b"secrets:s1"}, "configs": {"c1": b"configs:c1"},
                                        "errors": {}}
            assert complete["services"] == {"web": "web"}

            # the agent's own report changes no assignment
            await dispatcher.update_status("n1", [{"TaskID": "t1", "Status": {"State": "running",
                                                                              "Message": "started"}}])
            await quiet()
            # a new task: only it, and only the secret not sent yet
            await store.create("tasks", "t3", task("n1", "web", ["s1", "s3"]))
            third = await next_message()
            assert third["kind"] == "incremental" and [t["ID"] for t in third["tasks"]] == ["t3"]
            assert third["removed"] == [] and "networks" not in third
            assert third["data"] == {"secrets": {"s3": b"secrets:s3"}, "configs": {}, "errors": {}}
            # the orchestrator wants t1 down: t1 again, nothing else
            t1 = store.get("tasks", "t1")
            await store.update("tasks", "t1", {**t1.value, "DesiredState": "shutdown"}, version=t1.version)
            down = await next_message()
            assert [(t["ID"], t["DesiredState"]) for t in down["tasks"]] == [("t1", "shutdown")]
            assert down["data"] == {"secrets": {}, "configs": {}, "errors": {}}
            # t1 ended: c1 (only t1 used it) is withdrawn, s1 stays (t3 uses it)
            await dispatcher.update_status("n1", [{"TaskID": "t1", "Status": {"State": "shutdown",
                                                                              "Message": "shutdown"}}])
            ended = await next_message()
            assert ended["tasks"] == [] and ended["removed"] == []
            assert ended["removed_data"] == {"secrets": [], "configs": ["c1"], "errors": []}
            # t1 deleted (the reaper): removed by id
            await store.delete("tasks", "t1")
            deleted = await next_message()
            assert deleted["removed"] == ["t1"] and deleted["tasks"] == []
            await quiet()
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            await session.aclose()
        # another node's secret never reached this session
        assert all("s2" not in m.get("data", {}).get("secrets", {}) for m in every)
    run_with_member(scenario)
