"""cp sees the container's mounts as docker's does: volumes and binds go to their sources, /etc/hosts & co come
from the container's directory, read-only mounts refuse writes, and links inside a volume stay contained."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from daemon_harness import Daemon
from dockyard.containers.fsview import FileView, MountedPath, view_sources
from helpers import tar_files, unique
from host_probe import mounts_under

TAR = {"Content-Type": "application/x-tar"}


def _untar_one(body: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


def _stdout(framed: bytes) -> bytes:
    """The stdout payloads of a stdcopy-framed body."""
    out, pos = b"", 0
    while pos < len(framed):
        size = int.from_bytes(framed[pos + 4:pos + 8], "big")
        if framed[pos] == 1:
            out += framed[pos + 8:pos + 8 + size]
        pos += 8 + size
    return out


@pytest.fixture
def mounted(clean: Daemon) -> Iterator[dict]:
    """A named volume at /data, a bind at /bind, a read-only bind at /ro; the host sides are removed after."""
    volume = unique("cpvol")
    clean.api("POST", "/volumes/create", {"Name": volume})
    host = Path(tempfile.mkdtemp(prefix="dy-cpbind-"))
    (host / "rw").mkdir()
    (host / "ro").mkdir()
    (host / "ro" / "kept.txt").write_bytes(b"read only\n")
    try:
        yield {"volume": volume, "data": Path(clean.api("GET", f"/volumes/{volume}")["Mountpoint"]),
               "bind": host / "rw", "ro": host / "ro"}
    finally:
        clean.remove_all_containers()
        clean.request("DELETE", f"/volumes/{volume}")
        shutil.rmtree(host)
        assert not mounts_under(clean.exec_root / "mounts")


def _container(clean: Daemon, mounted: dict, running: bool) -> str:
    name = unique("cpm")
    body = {"Image": "busybox", "Cmd": ["sh", "-c", "touch /ready; sleep 300"],
            "HostConfig": {"NetworkMode": "none",
                           "Binds": [f"{mounted['volume']}:/data", f"{mounted['bind']}:/bind",
                                     f"{mounted['ro']}:/ro:ro"]}}
    clean.api("POST", f"/containers/create?name={name}", body)
    clean.api("POST", f"/containers/{name}/start")
    for _ in range(200):
        if clean.request("HEAD", f"/containers/{name}/archive?path=/ready")[0] == 200:
            break
        time.sleep(0.05)
    if not running:
        clean.api("POST", f"/containers/{name}/stop?t=0")
    return name


def _upper(clean: Daemon, name: str) -> Path:
    return Path(clean.api("GET", f"/containers/{name}/json")["GraphDriver"]["Data"]["UpperDir"])


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_archive_api_goes_to_volumes_and_binds(clean: Daemon, mounted: dict, running: bool) -> None:
    name = _container(clean, mounted, running)
    (mounted["data"] / "from-volume.txt").write_bytes(b"volume side\n")
    (mounted["bind"] / "from-bind.txt").write_bytes(b"bind side\n")
    # into the volume and the bind: the sources get the files, the container's layer does not
    assert clean.request("PUT", f"/containers/{name}/archive?path=/data", tar_files({"in.txt": b"to volume\n"}),
                         TAR)[0] == 200
    assert clean.request("PUT", f"/containers/{name}/archive?path=/bind/", tar_files({"in.txt": b"to bind\n"}),
                         TAR)[0] == 200
    assert (mounted["data"] / "in.txt").read_bytes() == b"to volume\n"
    assert (mounted["bind"] / "in.txt").read_bytes() == b"to bind\n"
    upper = _upper(clean, name)
    assert not (upper / "data" / "in.txt").exists() and not (upper / "bind" / "in.txt").exists()
    # out of them: the sources' files
    status, body = clean.request("GET", f"/containers/{name}/archive?path=/data/from-volume.txt")
    assert status == 200 and _untar_one(body, "from-volume.txt") == b"volume side\n"
    status, body = clean.request("GET", f"/containers/{name}/archive?path=/bind")
    assert status == 200 and _untar_one(body, "bind/from-bind.txt") == b"bind side\n"
    status, body = clean.request("GET", f"/containers/{name}/archive?path=/ro/kept.txt")
    assert status == 200 and _untar_one(body, "kept.txt") == b"read only\n"
    # a read-only bind refuses, as docker does
    status, body = clean.request("PUT", f"/containers/{name}/archive?path=/ro", tar_files({"x": b"x"}), TAR)
    assert status == 403 and json.loads(body)["message"] == "mounted volume is marked read-only"
    assert sorted(os.listdir(mounted["ro"])) == ["kept.txt"]
    # the daemon's /etc files come from the container's directory
    doc = clean.api("GET", f"/containers/{name}/json")
    for key, path in (("HostsPath", "/etc/hosts"), ("HostnamePath", "/etc/hostname")):
        status, body = clean.request("GET", f"/containers/{name}/archive?path={path}")
        assert status == 200 and _untar_one(body, os.path.basename(path)) == Path(doc[key]).read_bytes()
    if running:  # the running container sees what cp wrote
        exec_id = clean.api("POST", f"/containers/{name}/exec",
                            {"Cmd": ["cat", "/data/in.txt", "/bind/in.txt"], "AttachStdout": True})["Id"]
        status, out = clean.request("POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False})
        assert status == 200 and _stdout(out) == b"to volume\nto bind\n"


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_hostile_links_inside_a_volume_stay_in_the_container(clean: Daemon, mounted: dict, marker: str,
                                                              running: bool) -> None:
    name = _container(clean, mounted, running)
    data = mounted["data"]
    os.symlink("/", data / "evil-root")
    os.symlink("../../../../../../../..", data / "evil-up")
    os.symlink("/etc", data / "evil-etc")
    for dest in ("/data/evil-root", "/data/evil-up/tmp", "/data/evil-etc"):
        status, body = clean.request("PUT", f"/containers/{name}/archive?path={dest}",
                                     tar_files({marker: b"inside\n"}), TAR)
        assert status == 200, (dest, body)
    upper = _upper(clean, name)
    for rel in (marker, f"tmp/{marker}", f"etc/{marker}"):
        assert (upper / rel).read_bytes() == b"inside\n", rel  # in the container's own layer
    # reads through the links show the container's files, never the host's
    status, _ = clean.request("GET", f"/containers/{name}/archive?path=/data/evil-etc/shadow")
    assert status == 404 and os.path.exists("/etc/shadow")
    status, body = clean.request("GET", f"/containers/{name}/archive?path=/data/evil-up/etc/passwd")
    assert status == 200 and _untar_one(body, "passwd").startswith(b"root:x:0:0:root:/root:/bin/sh\nnobody")
    # a link in the volume back into the volume's own mount point still lands in the volume
    os.symlink("/data", data / "self")
    assert clean.request("PUT", f"/containers/{name}/archive?path=/data/self", tar_files({"again": b"v\n"}),
                         TAR)[0] == 200
    assert (data / "again").read_bytes() == b"v\n"


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_docker_and_dockyard_cp_both_ways_through_mounts(clean: Daemon, mounted: dict, need_docker_cli: None,
                                                         running: bool, tmp_path: Path) -> None:
    name = _container(clean, mounted, running)
    local = tmp_path / "payload.bin"
    local.write_bytes(os.urandom(200_000))
    for tool, dest in ((clean.docker, "/data/"), (clean.cli, "/bind/")):
        result = tool("cp", str(local), f"{name}:{dest}")
        assert result.returncode == 0, result.stderr
    assert (mounted["data"] / "payload.bin").read_bytes() == local.read_bytes()
    assert (mounted["bind"] / "payload.bin").read_bytes() == local.read_bytes()
    (mounted["data"] / "tree").mkdir()
    (mounted["data"] / "tree" / "leaf").write_bytes(b"leaf\n")
    for tool, out in ((clean.docker, tmp_path / "by-docker"), (clean.cli, tmp_path / "by-dockyard")):
        result = tool("cp", f"{name}:/data/tree", str(out))
        assert result.returncode == 0, result.stderr
        assert (out / "leaf").read_bytes() == b"leaf\n"
    missing = clean.cli("cp", f"{name}:/data/nope", str(tmp_path / "nope"))
    assert missing.returncode == 1 and b"Could not find the file /data/nope" in missing.stderr


def test_view_sources_and_innermost_mount(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    doc = {"Mounts": [{"Type": "bind", "Source": str(tmp_path), "Destination": "/a/b", "RW": True},
                      {"Type": "volume", "Source": str(tmp_path), "Destination": "/a", "RW": False},
                      {"Type": "tmpfs", "Source": "", "Destination": "/t", "RW": True},
                      {"Type": "bind", "Source": str(tmp_path / "gone"), "Destination": "/g", "RW": True}],
           "HostsPath": str(hosts), "HostnamePath": str(tmp_path / "missing"), "ResolvConfPath": ""}
    assert view_sources(doc) == [("/a", str(tmp_path), False), ("/a/b", str(tmp_path), True),
                                 ("/etc/hosts", str(hosts), True)]
    doc["Mounts"].append({"Type": "bind", "Source": str(hosts), "Destination": "/etc/hosts", "RW": False})
    assert ("/etc/hosts", str(hosts), False) in view_sources(doc) and len(view_sources(doc)) == 3
    root = tmp_path / "root"
    view = FileView(root, [MountedPath("/a", root / "a", False), MountedPath("/a/b", root / "a" / "b", True)])
    assert view.mount_of(root / "a" / "b" / "c").destination == "/a/b"
    assert view.mount_of(root / "a" / "bc").destination == "/a"
    assert view.mount_of(root / "a").destination == "/a"
    assert view.mount_of(root / "etc") is None
