"""--userns: per-container user namespaces (auto ranges and explicit maps), the idmapped rootfs, host files."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.containers.userns_ids import (
    BLOCK,
    RANGE_START,
    UsernsAllocator,
    parse_mode,
)
from dockyard.errors import InvalidParameter


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A host directory anyone may write into (so a mapped root can), under a searchable parent."""
    path = Path(tempfile.mkdtemp(prefix="dy-userns-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


def _run(clean, *args: str):  # type: ignore[no-untyped-def]
    return clean.cli("run", "--rm", *args)


def test_parse_mode_and_allocator(tmp_path: Path) -> None:
    assert parse_mode("") == ("host", 0, 0) and parse_mode("host") == ("host", 0, 0)
    assert parse_mode("auto") == ("auto", 0, BLOCK)
    assert parse_mode("map:200000") == ("map", 200000, BLOCK)
    assert parse_mode("map:300000:1000") == ("map", 300000, 1000)
    for bad in ("map:0", "map:x", "map:1:0", "keep-id", "map:4294967290:65536"):
        with pytest.raises(InvalidParameter):
            parse_mode(bad)
    live = {"a", "b"}
    alloc = UsernsAllocator(tmp_path / "userns.json", lambda: set(live))
    first = alloc.mappings("a", "auto")
    assert first == [{"containerID": 0, "hostID": RANGE_START, "size": BLOCK}]
    assert alloc.mappings("b", "auto")[0]["hostID"] == RANGE_START + BLOCK
    assert alloc.mappings("a", "auto") == first  # stable
    live.discard("a")
    live.add("c")
    assert alloc.mappings("c", "auto")[0]["hostID"] == RANGE_START  # a's block is free again
    assert json.loads((tmp_path / "userns.json").read_text()) == {"b": RANGE_START + BLOCK, "c": RANGE_START}
    assert alloc.mappings("x", "host") is None


def test_userns_rejected_with_host_namespaces(clean) -> None:  # type: ignore[no-untyped-def]
    for flags in (("--pid", "host"), ("--network", "host"), ("--privileged",)):
        out = clean.cli("create", "--userns", "auto", *flags, "busybox", "true")
        assert out.returncode == 125 and b"private user namespace" in out.stderr, out.stderr
    out = clean.cli("create", "--userns", "bogus", "busybox", "true")
    assert out.returncode == 125 and b"invalid user namespace mode" in out.stderr


def test_auto_userns_root_is_mapped(clean, shared_dir: Path) -> None:  # type: ignore[no-untyped-def]
    secret = shared_dir / "secret"
    secret.write_text("host only\n")
    secret.chmod(0o600)
    script = ("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /shared/made; echo hi > /tmp/t; "
              "cat /tmp/t; ls -ln /bin/busybox; cat /shared/secret || echo DENIED")
    out = _run(clean, "--userns", "auto", "-v", f"{shared_dir}:/shared", "busybox", "sh", "-c", script)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert lines[0] == "0" and lines[1] == "0"
    uid_map, gid_map = lines[2].split(), lines[3].split()
    assert uid_map[0] == "0" and int(uid_map[1]) >= RANGE_START and uid_map[2] == str(BLOCK)
    assert gid_map == uid_map
    assert lines[4] == "hi"
    assert lines[5].split()[2:4] == ["0", "0"]  # image files are root's inside, through the idmapped rootfs
    assert lines[-1] == "DENIED" and "host only" not in out.stdout.decode()
    made = (shared_dir / "made").stat()
    assert (made.st_uid, made.st_gid) == (int(uid_map[1]), int(uid_map[1]))


def test_explicit_map_exec_and_layer_ownership(clean, shared_dir: Path) -> None:  # type: ignore[no-untyped-def]
    name = "dy-userns-map"
    out = clean.cli("run", "-d", "--name", name, "--userns", "map:300000:65536", "-v", f"{shared_dir}:/shared",
                    "busybox", "sh", "-c", "touch /created; sleep 60")
    assert out.returncode == 0, out.stderr
    try:
        ex = clean.cli("exec", name, "sh", "-c", "id -u; cat /proc/self/uid_map; touch /shared/by-exec")
        assert ex.returncode == 0, ex.stderr
        assert ex.stdout.decode().split()[:4] == ["0", "0", "300000", "65536"]
        assert (shared_dir / "by-exec").stat().st_uid == 300000
        diff = clean.cli("diff", name)
        assert b"A /created" in diff.stdout, diff.stdout
        pid = int(clean.cli("inspect", "-f", "{{.State.Pid}}", name).stdout)
        assert Path(f"/proc/{pid}/uid_map").read_text().split() == ["0", "300000", "65536"]
        assert os.stat(f"/proc/{pid}").st_uid == 300000
    finally:
        clean.cli("rm", "-f", name)


def test_userns_container_cannot_unshare_or_mount_host_things(clean) -> None:  # type: ignore[no-untyped-def]
    out = _run(clean, "--userns", "auto", "busybox", "sh", "-c",
               "mount -t tmpfs t /mnt && echo MOUNTED; cat /proc/1/status | grep CapEff")
    assert b"MOUNTED" not in out.stdout
    assert b"CapEff:\t00000000a80425fb" in out.stdout, out.stdout
