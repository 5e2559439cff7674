"""Overlay snapshotter against the real kernel: layers, whiteouts, mounts, tar safety, cleanup."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from dockyard.errors import Conflict, InvalidParameter
from dockyard.metadata.db import MetadataDB
from dockyard.snapshots.overlay import Snapshotter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


def make_tar(*entries: tuple) -> bytes:
    """Entries: ("file", name, data[, mode]), ("dir", name), ("sym", name, target), ("link", name, target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, *rest in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = rest[0]
                info.size, info.mode = len(data), (rest[1] if len(rest) > 1 else 0o644)
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, rest[0]
            tar.addfile(info)
    return buffer.getvalue()


def diff_id(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def snap(tmp_path: Path) -> Iterator[Snapshotter]:
    db = MetadataDB(tmp_path / "meta.db")
    snapshotter = Snapshotter(tmp_path / "snapshots", db)
    yield snapshotter
    db.close()


def mounted(target: Path) -> bool:
    return any(line.split()[1] == str(target) for line in Path("/proc/self/mounts").read_text().splitlines())


def apply(snap: Snapshotter, parent: str | None, data: bytes) -> str:
    return snap.apply_layer(parent, io.BytesIO(data), diff_id(data))


def test_layers_whiteouts_and_container_mount(snap: Snapshotter, tmp_path: Path) -> None:
    base = make_tar(("dir", "etc"), ("file", "etc/keep", b"keep"), ("file", "etc/gone", b"gone"),
                    ("dir", "data"), ("file", "data/old", b"old"), ("file", "bin/tool", b"#!", 0o755))
    top = make_tar(("file", "etc/.wh.gone", b""), ("dir", "data"), ("file", "data/.wh..wh..opq", b""),
                   ("file", "data/new", b"new"))
    chain1 = apply(snap, None, base)
    chain2 = apply(snap, chain1, top)
    assert chain1 == diff_id(base)
    assert snap.has_layer(chain2) and len(snap.lower_dirs(chain2)) == 2
    upper_layer = snap.lower_dirs(chain2)[0]
    assert stat.S_ISCHR(os.lstat(upper_layer / "etc" / "gone").st_mode)
    assert os.getxattr(upper_layer / "data", "trusted.overlay.opaque") == b"y"
    assert snap.layer_size(chain1) == 13  # keep + gone + old + tool

    target = tmp_path / "rootfs"
    snap.prepare_container("c1", chain2)
    snap.mount_container("c1", target)
    try:
        assert mounted(target)
        assert (target / "etc" / "keep").read_bytes() == b"keep"
        assert not (target / "etc" / "gone").exists()
        assert sorted(os.listdir(target / "data")) == ["new"]
        assert os.stat(target / "bin" / "tool").st_mode & 0o777 == 0o755
        (target / "written").write_bytes(b"12345")
    finally:
        snap.unmount(target)
    assert not mounted(target)
    snap.unmount(target)  # a second unmount is not an error
    assert (snap.container_upper("c1") / "written").read_bytes() == b"12345"
    assert snap.container_size("c1") == 5
    with pytest.raises(Conflict):
        snap.remove_layer(chain2)
    snap.remove_container("c1")
    snap.remove_layer(chain2)
    snap.remove_layer(chain1)
    assert sorted(p.name for p in snap.root.iterdir()) == ["empty"]


def test_container_without_layers_mounts_empty_lower(snap: Snapshotter, tmp_path: Path) -> None:
    target = tmp_path / "rootfs"
    snap.prepare_container("c2", None)
    snap.mount_container("c2", target)
    try:
        assert os.listdir(target) == []
        (target / "x").write_text("y")
    finally:
        snap.unmount(target)
    snap.remove_container("c2")
    assert not mounted(target)


def test_gzip_layer_and_idempotent_apply(snap: Snapshotter) -> None:
    plain = make_tar(("file", "a", b"a"))
    chain = snap.apply_layer(None, io.BytesIO(gzip.compress(plain)), diff_id(plain))
    assert (snap.lower_dirs(chain)[0] / "a").read_bytes() == b"a"
    assert snap.apply_layer(None, io.BytesIO(b"not even a tar"), diff_id(plain)) == chain


def test_diff_id_mismatch_records_nothing(snap: Snapshotter) -> None:
    data = make_tar(("file", "a", b"a"))
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        snap.apply_layer(None, io.BytesIO(data), diff_id(b"something else"))
    assert not snap.has_layer(diff_id(b"something else"))
    assert sorted(p.name for p in snap.root.iterdir()) == ["empty"]


@pytest.mark.parametrize("entries", [
    (("file", "../evil", b"x"),),
    (("file", "a/../../evil", b"x"),),
    (("sym", "link", "../../../etc"),),
    (("link", "hard", "../../etc/passwd"),),
])
def test_tar_escapes_refused(snap: Snapshotter, entries: tuple) -> None:
    data = make_tar(*entries)
    with pytest.raises(InvalidParameter):
        apply(snap, None, data)
    assert sorted(p.name for p in snap.root.iterdir()) == ["empty"]
    assert not (snap.root.parent / "evil").exists()


def test_writes_through_symlinks_stay_inside(snap: Snapshotter, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    data = make_tar(("sym", "link", str(outside)), ("file", "link/planted", b"x"),
                    ("sym", "rel", "sub/.."), ("file", "rel/also", b"y"))
    chain = apply(snap, None, data)
    layer = snap.lower_dirs(chain)[0]
    assert os.listdir(outside) == []
    assert (layer / str(outside).lstrip("/") / "planted").read_bytes() == b"x"
    assert os.readlink(layer / "link") == str(outside)


def test_orphans_removed_on_restart(snap: Snapshotter, tmp_path: Path) -> None:
    (snap.root / "tmp-crashed" / "fs").mkdir(parents=True)
    (snap.root / "99").mkdir()
    Snapshotter(snap.root, snap._db)
    assert sorted(p.name for p in snap.root.iterdir()) == ["empty"]
