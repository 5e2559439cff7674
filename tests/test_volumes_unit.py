"""Volumes without a daemon: mount parsing, destination checks, copy-up, the store's crash recovery and races."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from dockyard.containers.mountspec import parse_bind, parse_mount, plan
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.events.bus import EventBus
from dockyard.metadata.db import MetadataDB
from dockyard.runtime.init import ContainerError, check_mount_destination, secure_join
from dockyard.util.fsutil import disk_usage
from dockyard.volumes.copyup import copy_tree
from dockyard.volumes.service import ANONYMOUS_LABEL, VolumeService


@pytest.fixture
def service(tmp_path: Path):
    db = MetadataDB(tmp_path / "metadata.db")
    yield VolumeService(tmp_path / "volumes", db, EventBus())
    db.close()


def test_parse_bind_forms():
    anon = parse_bind("/data")
    assert (anon.type, anon.source, anon.target) == ("volume", "", "/data")
    named = parse_bind("vol:/data/:ro,nocopy")
    assert (named.source, named.target, named.read_only, named.nocopy, named.mode) == ("vol", "/data", True, True,
                                                                                      "ro,nocopy")
    host = parse_bind("/srv/x:/x:rshared")
    assert (host.type, host.propagation, host.create_source, host.mode) == ("bind", "rshared", True, "rshared")
    assert parse_bind("vol:/v").mode == "z" and parse_bind("/h:/v").propagation == "rprivate"


@pytest.mark.parametrize("raw, message", [
    ("/x:ro", "invalid volume specification: '/x:ro'"),
    ("a:b:c:d", "invalid volume specification"),
    ("vol:rel", "mount path must be absolute"),
    ("vol:/", "destination can't be '/'"),
    ("vol:/proc", "reserved"),
    ("vol:/a/../etc", "must not contain '..'"),
    ("/h/../etc:/x", "must not contain '..'"),
    ("vol:/x:ro,rw", "invalid mode: ro,rw"),
    ("vol:/x:rshared", "invalid mode: rshared"),
    ("/h:/x:nocopy", "invalid mode: nocopy"),
    ("../v:/x", "includes invalid characters"),
])
def test_parse_bind_errors(raw, message):
    with pytest.raises(InvalidParameter, match=message.replace("(", r"\(")):
        parse_bind(raw)


def test_parse_mount(tmp_path):
    tmpfs = parse_mount({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o1777}})
    assert tmpfs.tmpfs_options == ["nosuid", "nodev", "noexec", "size=1048576", "mode=1777"]
    bind = parse_mount({"Type": "bind", "Source": str(tmp_path), "Target": "/b",
                        "BindOptions": {"NonRecursive": True, "Propagation": "rslave"}})
    assert bind.nonrecursive and bind.propagation == "rslave" and not bind.create_source
    for mount, message in [({"Type": "bind", "Source": str(tmp_path / "no"), "Target": "/b"}, "does not exist"),
                           ({"Type": "volume", "Target": "/v", "BindOptions": {}}, None),
                           ({"Type": "volume", "Target": "/v", "BindOptions": {"Propagation": "shared"}},
                            "field BindOptions must not be specified"),
                           ({"Type": "nfs", "Target": "/v"}, "mount type unknown"),
                           ({"Type": "volume", "Target": ""}, "field Target must not be empty")]:
        if message is None:
            parse_mount(mount)
            continue
        with pytest.raises(InvalidParameter, match=message):
            parse_mount(mount)


def test_plan_orders_parents_first_and_rejects_duplicates():
    specs = plan({"Binds": ["v1:/a/b", "/h:/a"], "Tmpfs": {"/a/b/c": ""}}, {"/img": {}, "/a": {}},
                 lambda ref: [])
    assert [s.target for s in specs] == ["/a", "/img", "/a/b", "/a/b/c"]
    assert [s.type for s in specs] == ["bind", "volume", "volume", "tmpfs"]
    with pytest.raises(InvalidParameter, match="Duplicate mount point: /a"):
        plan({"Binds": ["v1:/a", "v2:/a/"]}, None, lambda ref: [])


def test_runtime_refuses_redirected_destinations(tmp_path):
    root = tmp_path / "rootfs"
    (root / "v").mkdir(parents=True)
    (root / "proc").mkdir()
    os.symlink("/", root / "v" / "root")
    os.symlink("../../../../proc", root / "v" / "p")
    os.symlink("/../../etc", root / "v" / "up")
    up = secure_join(str(root), "/v/up/x")
    assert up == str(root / "etc" / "x")
    check_mount_destination("/v/up/x", up, str(root))
    with pytest.raises(ContainerError, match="resolves to the container's root"):
        check_mount_destination("/v/root", secure_join(str(root), "/v/root"), str(root))
    with pytest.raises(ContainerError, match="redirected into /proc"):
        check_mount_destination("/v/p/sys", secure_join(str(root), "/v/p/sys"), str(root))
    check_mount_destination("/proc", secure_join(str(root), "/proc"), str(root))


def test_copy_tree_keeps_ownership_modes_links(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("data")
    os.chown(src / "sub" / "f", 1234, 5678)
    os.chmod(src / "sub" / "f", 0o4750)
    os.chmod(src / "sub", 0o1777)
    os.link(src / "sub" / "f", src / "hard")
    os.symlink("/etc/passwd", src / "link")
    os.mkfifo(src / "fifo")
    os.chmod(src, 0o710)
    dst.mkdir()
    copy_tree(src, dst)
    info = os.stat(dst / "sub" / "f")
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (1234, 5678, 0o4750)
    assert stat.S_IMODE(os.stat(dst / "sub").st_mode) == 0o1777 and stat.S_IMODE(os.stat(dst).st_mode) == 0o710
    assert os.readlink(dst / "link") == "/etc/passwd"
    assert os.stat(dst / "hard").st_ino == info.st_ino
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)
    assert os.stat(dst / "sub").st_mtime_ns == os.stat(src / "sub").st_mtime_ns
    assert disk_usage(dst) == 4


def test_references_block_removal(service):
    service.create("vol1")
    service.acquire("vol1", "c1")
    with pytest.raises(Conflict, match=r"remove vol1: volume is in use - \[c1\]"):
        service.remove("vol1")
    service.release("vol1", "c1")
    service.remove("vol1")
    with pytest.raises(NotFound, match="get vol1: no such volume"):
        service.remove("vol1")
    service.remove("vol1", force=True)
    with pytest.raises(NotFound):
        service.acquire("vol1", "c1")


def test_recovery_after_a_crash(tmp_path, service):
    service.create("kept")
    (service.root / "kept" / "_data" / "f").write_text("precious")
    anon = service.create(anonymous=True)
    assert ANONYMOUS_LABEL in anon["Labels"]
    service.acquire("kept", "gone-container")
    service.acquire("kept", "live-container")
    # a removal that died after the rename, and a volume whose directory vanished
    trash = service.root / ".trash-deadbeef"
    (trash / "_data").mkdir(parents=True)
    os.rename(service.root / anon["Name"], tmp_path / "elsewhere")
    db = MetadataDB(tmp_path / "metadata.db")
    try:
        again = VolumeService(service.root, db, EventBus())
        assert not trash.exists()
        assert (service.root / anon["Name"] / "_data").is_dir()
        assert (service.root / "kept" / "_data" / "f").read_text() == "precious"
        again.keep_users({"live-container"})
        assert again.users("kept") == ["live-container"]
    finally:
        db.close()


def test_concurrent_create_and_remove(service):
    errors: list[BaseException] = []

    def worker() -> None:
        for _ in range(30):
            try:
                service.create("race")
                service.remove("race")
            except NotFound:
                continue
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    exists = bool(service.list({"name": ["race"]}))
    assert (service.root / "race" / "_data").is_dir() == exists
    assert not [p for p in service.root.iterdir() if p.name.startswith(".trash")]


def test_prune_and_filters(service):
    service.create("named1", labels={"tier": "db"})
    anon = service.create(anonymous=True)["Name"]
    busy = service.create(anonymous=True)["Name"]
    service.acquire(busy, "c")
    assert {v["Name"] for v in service.list({"dangling": ["false"]})} == {busy}
    assert [v["Name"] for v in service.list({"label": ["tier=db"]})] == ["named1"]
    with pytest.raises(InvalidParameter):
        service.list({"dangling": ["perhaps"]})
    assert service.prune({})["VolumesDeleted"] == [anon]
    assert service.prune({"all": ["true"], "label!": ["tier"]})["VolumesDeleted"] is None
    assert service.prune({"all": ["1"]})["VolumesDeleted"] == ["named1"]
    assert {v["Name"] for v in service.list({})} == {busy}
