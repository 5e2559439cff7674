"""A corpus of hostile archives fed through every way a tar reaches a file system (layer unpack on load and pull,
import, cp into a container, ADD in a build, the extractor itself): a marker tree outside the root must come out
byte-, mode-, owner-, time- and xattr-identical, and whatever lands stays inside the root."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import stat
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from daemon_harness import Daemon
from helpers import TarMember, tar_of
from registry_fixtures import dockyard_registry
from registry_images import LAYER_TAR, Layer, file_digest, push


# ----- the marker tree outside every root ---------------------------------------------------------------------

@pytest.fixture
def outside() -> Iterator[Path]:
    """A host directory that no archive may change: a file, a directory with a file, a symlink, a fifo."""
    base = Path(tempfile.mkdtemp(prefix="dy-marker-"))
    (base / "victim").write_bytes(b"original victim\n")
    os.chmod(base / "victim", 0o640)
    (base / "victimdir").mkdir(mode=0o750)
    (base / "victimdir" / "keep").write_bytes(b"keep me\n")
    os.symlink("victim", base / "victimlink")
    os.chown(base / "victim", 0, 0)
    yield base
    shutil.rmtree(base)


def snapshot(base: Path) -> dict[str, tuple]:
    """Everything about every entry below and including `base`: type, mode, owner, times, size, content
    digest or link target, xattrs."""
    out: dict[str, tuple] = {}
    paths = [base]
    for directory, dirs, files in os.walk(base):
        paths += [Path(directory) / name for name in dirs + files]
    for path in paths:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            detail = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            detail = os.readlink(path)
        else:
            detail = st.st_rdev
        xattrs = tuple(sorted((k, os.getxattr(path, k, follow_symlinks=False))
                              for k in os.listxattr(path, follow_symlinks=False)))
        out[str(path.relative_to(base))] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
                                            st.st_nlink, detail, xattrs)
    return out


# ----- building hostile archives ----------------------------------------------------------------------------

def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes | None = None, linkname: str = "",
          mode: int = 0o644, **extra: object) -> TarMember:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = linkname
    info.mtime = 1_000_000_000
    for key, value in extra.items():
        setattr(info, key, value)
    if kind == tarfile.REGTYPE:
        data = data or b""
        info.size = len(data)
    return info, data


def with_xattr(member: TarMember, key: str) -> TarMember:
    member[0].pax_headers["SCHILY.xattr." + key] = "x"
    return member


def declared_size_tar(name: str, size: int) -> bytes:
    """A header declaring `size` bytes followed by one block of data and the end: tarfile cannot write a lie."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    return info.tobuf(tarfile.PAX_FORMAT) + b"x" * 512 + b"\0" * 1024


def sparse_tar(workdir: Path, name: str, size: int) -> bytes:
    """A GNU tar (PAX 1.0 sparse) of a file of `size` bytes holding two words, the rest holes."""
    folder = workdir / f"sparse-{secrets.token_hex(3)}"
    folder.mkdir()
    with open(folder / name, "wb") as handle:
        handle.truncate(size)
        handle.seek(size // 2)
        handle.write(b"middle")
        handle.seek(size - 4)
        handle.write(b"tail")
    out = folder / "out.tar"
    subprocess.run(["tar", "--sparse", "--format=posix", "-C", str(folder), "-cf", str(out), name], check=True)
    data = out.read_bytes()
    shutil.rmtree(folder)
    return data


def corpus(marker: Path, workdir: Path) -> dict[str, bytes]:
    """name -> archive. `marker` is the host tree every entry tries to reach."""
    m = str(marker)
    up = "../" * 12 + m.lstrip("/")
    sym, lnk, dirt = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE
    cases: dict[str, list[TarMember]] = {
        "dotdot-file": [entry(f"{up}/victim", data=b"pwned")],
        "absolute-file": [entry(f"{m}/victim", data=b"pwned")],
        "symlink-dir-write": [entry("d", sym, linkname=m), entry("d/victim", data=b"pwned"),
                              entry("d/new", data=b"pwned")],
        "relative-symlink-write": [entry("d", sym, linkname=up), entry("d/victim", data=b"pwned")],
        "symlink-chain-write": [entry("a", sym, linkname="b"), entry("b", sym, linkname=m),
                                entry("a/victim", data=b"pwned")],
        "dir-replaced-by-symlink": [entry("x", dirt, mode=0o755), entry("x", sym, linkname=m),
                                    entry("x/victim", data=b"pwned")],
        "hardlink-to-symlink-chmod": [entry("s", sym, linkname=f"{m}/victim"),
                                      entry("h", lnk, linkname="s", mode=0o4777)],
        "hardlink-to-symlink-chown": [entry("s", sym, linkname=f"{m}/victim"),
                                      entry("h", lnk, linkname="s", mode=0o777, uid=65534, gid=65534)],
        "hardlink-outside": [entry("h", lnk, linkname=f"{up}/victim", mode=0o4777)],
        "hardlink-absolute": [entry("h", lnk, linkname=f"{m}/victim", mode=0o4777)],
        "hardlink-through-symlink-dir": [entry("d", sym, linkname=m), entry("h", lnk, linkname="d/victim",
                                                                             mode=0o4777)],
        "whiteout-under-symlink": [entry("d", sym, linkname=m), entry("d/.wh.victim")],
        "whiteout-dir-under-symlink": [entry("d", sym, linkname=m), entry("d/.wh.victimdir")],
        "opaque-under-symlink": [entry("d", sym, linkname=f"{m}/victimdir"), entry("d/.wh..wh..opq")],
        "symlink-mode-owner-time": [entry("s", sym, linkname=f"{m}/victim", mode=0o4777, uid=65534, gid=65534,
                                          mtime=1)],
        "symlink-xattr": [with_xattr(entry("s", sym, linkname=f"{m}/victim"), "trusted.evil"),
                          with_xattr(entry("u", sym, linkname=f"{m}/victim"), "user.evil")],
        "hardlink-to-symlink-xattr": [entry("s", sym, linkname=f"{m}/victim"),
                                      with_xattr(entry("h", lnk, linkname="s"), "trusted.evil")],
        "dir-entry-over-symlink": [entry("d", sym, linkname=m), entry("d", dirt, mode=0o777)],
        "devices-and-fifo": [entry("dev/evil-null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
                             entry("dev/evil-disk", tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o666),
                             entry("p", tarfile.FIFOTYPE, mode=0o666)],
        "setuid-file": [entry("bin/suid", data=b"#!/bin/sh\nid\n", mode=0o4755)],
        "long-component": [entry("a" * 300, data=b"x")],
        "long-path": [entry("d/" * 2100 + "f", data=b"x")],
        "long-symlink-target": [entry("s", sym, linkname="a/" * 2100)],
    }
    archives = {name: tar_of(*members) for name, members in cases.items()}
    archives["oversize-header"] = declared_size_tar("huge", 1 << 60)
    archives["oversize-free-space"] = declared_size_tar("big", (1 << 40) - 1)
    archives["sparse-huge"] = sparse_tar(workdir, "huge", 1 << 41)
    archives["sparse-ok"] = sparse_tar(workdir, "sparse", 1 << 30)
    return archives


# ----- channels -----------------------------------------------------------------------------------------------

def save_archive(layer: bytes, tag: str) -> bytes:
    """A `docker save` archive of a one-layer image made of `layer`."""
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]).encode()
    return tar_of(entry("manifest.json", data=manifest), entry(config_name, data=config),
                  entry("layer", tarfile.DIRTYPE, mode=0o755), entry("layer/layer.tar", data=layer))


def run_corpus(marker: Path, archives: dict[str, bytes], feed: Callable[[str, bytes], str]) -> list[str]:
    """Feed each archive; returns what changed outside (one line per case that touched the marker)."""
    before = snapshot(marker)
    changed = []
    for name, archive in archives.items():
        outcome = feed(name, archive)
        after = snapshot(marker)
        if after != before:
            diff = {k: (before.get(k), after.get(k)) for k in set(before) | set(after) if before.get(k) != after.get(k)}
            changed.append(f"{name}: {outcome}: {diff}")
            before = after
    return changed


def outcome(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode} {result.stdout.decode(errors='replace')[-200:]!r} " \
           f"{result.stderr.decode(errors='replace')[-300:]!r}"


def cleanup_images(daemon: Daemon, prefix: str) -> None:
    for image in daemon.api("GET", "/images/json"):
        for tag in image.get("RepoTags") or []:
            if tag.startswith(prefix):
                daemon.request("DELETE", f"/images/{tag}?force=1")


def test_extractor_keeps_the_corpus_inside_its_root(outside, workdir):
    from dockyard.errors import DockyardError
    from dockyard.util.tartree import extract_tar

    refused: dict[str, str] = {}

    def feed(name: str, archive: bytes) -> str:
        root = workdir / f"root-{name}"
        root.mkdir()
        try:
            extract_tar(io.BytesIO(archive), root)
        except DockyardError as exc:
            refused[name] = exc.message
            assert exc.status < 500 or exc.status == 507, (name, exc.status)
            return f"refused: {exc.message}"
        return "extracted"

    assert run_corpus(outside, corpus(outside, workdir), feed) == []
    # harmless results inside the root, and clear refusals
    hard = workdir / "root-hardlink-to-symlink-chmod" / "h"
    assert stat.S_ISLNK(os.lstat(hard).st_mode) and os.readlink(hard) == f"{outside}/victim"
    planted = workdir / "root-symlink-dir-write" / str(outside).lstrip("/") / "victim"
    assert planted.read_bytes() == b"pwned"
    assert (workdir / "root-absolute-file" / str(outside).lstrip("/") / "victim").read_bytes() == b"pwned"
    sparse = workdir / "root-sparse-ok" / "sparse"
    assert sparse.stat().st_size == 1 << 30 and sparse.stat().st_blocks * 512 < 1 << 20
    with open(sparse, "rb") as handle:
        handle.seek((1 << 29))
        assert handle.read(6) == b"middle"
    for name in ("dotdot-file", "relative-symlink-write", "hardlink-outside", "long-component", "long-path",
                 "long-symlink-target", "oversize-header", "sparse-huge"):
        assert name in refused, name
    assert all(len(message) < 400 for message in refused.values()), refused
    assert "a" * 100 not in refused["long-component"]


def test_docker_load_of_the_corpus(clean, outside, workdir, need_docker_cli):
    def feed(name: str, archive: bytes) -> str:
        path = workdir / f"{name}.tar"
        path.write_bytes(save_archive(archive, f"hostile-load/{name}:latest"))
        return outcome(clean.docker("load", "-i", str(path), timeout=120))

    try:
        assert run_corpus(outside, corpus(outside, workdir), feed) == []
    finally:
        cleanup_images(clean, "hostile-load/")


def test_docker_import_of_the_corpus(clean, outside, workdir, need_docker_cli):
    def feed(name: str, archive: bytes) -> str:
        path = workdir / f"{name}.tar"
        path.write_bytes(archive)
        return outcome(clean.docker("import", str(path), f"hostile-import/{name}:latest", timeout=120))

    try:
        assert run_corpus(outside, corpus(outside, workdir), feed) == []
    finally:
        cleanup_images(clean, "hostile-import/")


def test_docker_pull_of_the_corpus(clean, outside, workdir, need_docker_cli):
    registry = dockyard_registry()
    server = next(registry)
    try:
        def feed(name: str, archive: bytes) -> str:
            path = workdir / f"{name}.layer"
            path.write_bytes(archive)
            layer = Layer(path, LAYER_TAR, file_digest(path))
            config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                                 "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}}).encode()
            push(server.url, f"hostile/{name}", "latest", config, [layer])
            return outcome(clean.docker("pull", f"{server.host}/hostile/{name}:latest", timeout=120))

        assert run_corpus(outside, corpus(outside, workdir), feed) == []
    finally:
        cleanup_images(clean, server.host)
        next(registry, None)


def test_docker_cp_of_the_corpus(clean, outside, workdir, need_docker_cli):
    box = f"hostile-cp-{secrets.token_hex(3)}"
    assert clean.docker("run", "-d", "--network", "none", "--name", box, "busybox", "sleep", "300").returncode == 0

    def feed(name: str, archive: bytes) -> str:
        assert clean.docker("exec", box, "mkdir", "-p", f"/tmp/{name}").returncode == 0
        return outcome(clean.docker("cp", "-", f"{box}:/tmp/{name}", input=archive, timeout=120))

    assert run_corpus(outside, corpus(outside, workdir), feed) == []
    # what landed stays in the container: the hard link to the symlink is a symlink there
    listed = clean.docker("exec", box, "ls", "-l", "/tmp/hardlink-to-symlink-chmod/h")
    assert listed.stdout.startswith(b"l"), listed.stdout


def test_build_add_of_the_corpus(clean, outside, workdir, need_docker_cli):
    env = clean.env()
    env["DOCKER_BUILDKIT"] = "0"

    def feed(name: str, archive: bytes) -> str:
        context = workdir / f"ctx-{name}"
        context.mkdir()
        (context / "hostile.tar").write_bytes(archive)
        (context / "Dockerfile").write_text("FROM busybox\nADD hostile.tar /added/\n")
        result = subprocess.run(["docker", "build", "-q", "-t", f"hostile-add/{name}", str(context)], env=env,
                                capture_output=True, timeout=180)
        return outcome(result)

    try:
        assert run_corpus(outside, corpus(outside, workdir), feed) == []
    finally:
        cleanup_images(clean, "hostile-add/")


def test_device_nodes_from_a_layer_cannot_be_used(clean, workdir, need_docker_cli):
    from registry_images import busybox_base

    base, busybox = busybox_base(workdir)
    devices = tar_of(entry("evil-mem", tarfile.CHRTYPE, devmajor=1, devminor=1, mode=0o666),
                     entry("evil-kmsg", tarfile.CHRTYPE, devmajor=1, devminor=11, mode=0o666),
                     entry("evil-disk", tarfile.BLKTYPE, devmajor=7, devminor=0, mode=0o666))
    layers = [busybox.path.read_bytes(), devices]
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({**base, "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": ["hostile-dev:latest"],
                            "Layers": ["0/layer.tar", "1/layer.tar"]}]).encode()
    archive = workdir / "dev.tar"
    archive.write_bytes(tar_of(entry("manifest.json", data=manifest), entry(config_name, data=config),
                               entry("0/layer.tar", data=layers[0]), entry("1/layer.tar", data=layers[1])))
    try:
        assert clean.docker("load", "-i", str(archive)).returncode == 0
        for device in ("/evil-mem", "/evil-kmsg", "/evil-disk"):
            result = clean.docker("run", "--rm", "hostile-dev", "sh", "-c", f"ls -l {device} && head -c 1 {device}")
            assert result.returncode != 0, (device, result)
            assert b"Operation not permitted" in result.stderr, (device, result.stderr)
    finally:
        cleanup_images(clean, "hostile-dev")


@pytest.mark.parametrize("hidden", ["..", "d/..", "d/../..", "."])
def test_whiteout_of_a_dot_entry_is_refused_and_touches_nothing(workdir, hidden):
    from dockyard.errors import InvalidParameter
    from dockyard.util.tarsafe import SafeExtractor

    # a layer's `.wh...` (whiteout of "..") once removed the contents of the directory holding the layer's root
    (workdir / "sibling").write_bytes(b"beside the root\n")
    (workdir / "root" / "d").mkdir(parents=True)
    (workdir / "root" / "d" / "keep").write_bytes(b"inside the root\n")
    before = snapshot(workdir)
    with SafeExtractor(workdir / "root") as extractor, pytest.raises(InvalidParameter, match="not a name"):
        extractor.hide(hidden, 0, 0)
    assert snapshot(workdir) == before
