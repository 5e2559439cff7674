"""The cluster store on a real etcd member (no daemon): names reserved in the object's txn, Version.Index CAS,
fenced writes, the change feed and read-your-writes; the member supervisor's refusal without etcd; Go's rendering
of swarm specs."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest

from dockyard.cluster import spec as shapes
from dockyard.cluster.etcd import member as member_module
from dockyard.cluster.etcd.member import EtcdMember, EtcdMissing, MemberConfig
from dockyard.cluster.manager.leader import Leadership
from dockyard.cluster.service import ClusterService
from dockyard.cluster.store.backend import NameTaken, NotLeader, OutOfSequence
from dockyard.cluster.store.etcd import EtcdStore
from dockyard.errors import NotFound, status_of


def run_with_member(scenario) -> None:
    """Run `scenario(store, member)` against a fresh member in a scratch directory, then destroy the member."""
    async def main() -> None:
        base = Path(tempfile.mkdtemp(prefix="dy-store-"))
        member = EtcdMember(base / "swarm", base / "run")
        await member.start(MemberConfig("test"))
        store = EtcdStore(member.client())
        try:
            await store.start()
            await scenario(store, member)
        finally:
            await store.stop()
            await member.destroy()
            shutil.rmtree(base)
    asyncio.run(main())


def test_names_versions_and_the_change_feed() -> None:
    async def scenario(store: EtcdStore, member: EtcdMember) -> None:
        feed = store.subscribe()
        first = await store.create("secrets", "id1", {"v": 1}, name="one")
        assert store.get("secrets", "id1") == first and store.find("secrets", "one") == first  # read-your-writes
        with pytest.raises(NameTaken):
            await store.create("secrets", "id2", {"v": 2}, name="one")
        assert store.get("secrets", "id2") is None  # nothing of the refused txn was written
        second = await store.update("secrets", "id1", {"v": 3}, version=first.version, name="uno")
        assert second.version > first.version and store.find("secrets", "one") is None
        with pytest.raises(OutOfSequence) as stale:
            await store.update("secrets", "id1", {"v": 4}, version=first.version, name="uno")
        assert str(stale.value).endswith("update out of sequence") and status_of(stale.value) == 500
        await store.create("secrets", "id3", {"v": 5}, name="one")  # the released name can be taken again
        await store.delete("secrets", "id1")
        with pytest.raises(NotFound):
            await store.delete("secrets", "id1")
        seen = [(c.id, c.record.value if c.record else None) for c in [await feed.__anext__() for _ in range(4)]]
        assert seen == [("id1", {"v": 1}), ("id1", {"v": 3}), ("id3", {"v": 5}), ("id1", None)]
        assert [r.id for r in store.list("secrets")] == ["id3"]
    run_with_member(scenario)


def test_fenced_writes_fail_once_the_leadership_is_gone() -> None:
    async def scenario(store: EtcdStore, member: EtcdMember) -> None:
        leadership = Leadership(store, {"NodeID": "n1"})
        leadership.start()
        fence = await leadership.wait_leading(10)
        assert store.leader() == {"NodeID": "n1"}
        assert await store.campaign({"NodeID": "n2"}, 3) is None  # someone leads already
        await store.create("tasks", "t1", {}, fence=fence)
        await leadership.stop()  # resigns: the leader key goes with its lease
        with pytest.raises(NotLeader):
            await store.create("tasks", "t2", {}, fence=fence)
        assert store.get("tasks", "t2") is None
        newer = await store.campaign({"NodeID": "n2"}, 3)
        assert newer is not None and newer.epoch > fence.epoch
        with pytest.raises(NotLeader):  # a deposed leader cannot write under the new one either
            await store.update("tasks", "t1", {"x": 1}, fence=fence)
        await store.resign(newer)
    run_with_member(scenario)


def test_swarm_init_without_etcd_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dockyard.cluster.service.etcd_binary", lambda: None)
    monkeypatch.setattr(member_module, "etcd_binary", lambda: None)
    base = Path(tempfile.mkdtemp(prefix="dy-noetcd-"))
    service = ClusterService(base / "data", base / "exec", dict)
    with pytest.raises(EtcdMissing) as missing:
        asyncio.run(service.init({"ListenAddr": "0.0.0.0:2377", "AdvertiseAddr": "127.0.0.1"}))
    assert "etcd-server" in missing.value.message and status_of(missing.value) == 500
    assert service.local_state() == "inactive" and not (base / "data" / "swarm").exists()
    with pytest.raises(EtcdMissing):
        asyncio.run(EtcdMember(base / "swarm", base / "run").start(MemberConfig("x")))
    base.rmdir()


def test_specs_render_as_gos_encoder() -> None:
    sent = {"Name": "", "Labels": None, "Unknown": 1, "Raft": {"ElectionTick": None, "KeepOldSnapshots": 0},
            "CAConfig": {"ForceRotate": 0, "ExternalCAs": []}, "TaskDefaults": {"LogDriver": {"Name": "json-file"}}}
    assert shapes.render(shapes.SWARM_SPEC, sent) == {
        "Labels": None, "Orchestration": {}, "Raft": {"KeepOldSnapshots": 0, "ElectionTick": 0, "HeartbeatTick": 0},
        "Dispatcher": {}, "CAConfig": {}, "TaskDefaults": {"LogDriver": {"Name": "json-file"}},
        "EncryptionConfig": {"AutoLockManagers": False}}
    with pytest.raises(Exception) as bad:
        shapes.render(shapes.NODE_SPEC, {"Role": 5}, "swarm.NodeSpec")
    assert str(bad.value) == "json: cannot unmarshal number into Go struct field swarm.NodeSpec.Role of type string"
