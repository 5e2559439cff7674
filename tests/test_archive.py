"""docker cp and the archive API: round trips, docker's path rules, and hostile symlinks that must not escape."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from helpers import file_member, link_member, tar_of, unique
from host_probe import mounts_under


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _tree_digest(root: Path) -> dict[str, tuple]:
    """Every entry below root: type, mode and content digest or link target."""
    out = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            st = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", oct(st.st_mode & 0o7777))
            else:
                out[rel] = ("file", oct(st.st_mode & 0o7777), _sha256(path))
    return out


@pytest.fixture
def box(clean):
    """A running busybox container (no network) named uniquely; removed by the `clean` fixture."""
    name = unique("cp")
    result = clean.docker("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "300")
    assert result.returncode == 0, result.stderr
    return name


def _stop(daemon, name: str) -> None:
    result = daemon.docker("stop", "-t", "0", name)
    assert result.returncode == 0, result.stderr


def _sample_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (root / "sub" / "deeper" / "c.sh").write_text("#!/bin/sh\necho c\n")
    os.chmod(root / "sub" / "deeper" / "c.sh", 0o755)
    os.symlink("../a.txt", root / "sub" / "rel-link")
    os.symlink("/etc/passwd", root / "abs-link")
    (root / "empty").mkdir()


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_docker_cp_100mb_file_and_tree_round_trip(clean, box, workdir, need_docker_cli, running):
    big = workdir / "big.bin"
    with open(big, "wb") as handle:
        for _ in range(100):
            handle.write(os.urandom(1 << 20))
    tree = workdir / "tree"
    tree.mkdir()
    _sample_tree(tree)
    if not running:
        _stop(clean, box)
    for source in (big, tree):
        result = clean.docker("cp", str(source), f"{box}:/tmp/", timeout=120)
        assert result.returncode == 0, result.stderr
    back = workdir / "back"
    back.mkdir()
    for name in ("big.bin", "tree"):
        result = clean.docker("cp", f"{box}:/tmp/{name}", str(back / name), timeout=120)
        assert result.returncode == 0, result.stderr
    assert _sha256(back / "big.bin") == _sha256(big)
    assert _tree_digest(back / "tree") == _tree_digest(tree)
    assert not mounts_under(clean.exec_root / "mounts")


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_dockyard_cp_round_trip_and_path_rules(clean, box, workdir, running):
    tree = workdir / "tree"
    tree.mkdir()
    _sample_tree(tree)
    if not running:
        _stop(clean, box)

    def cp(*args: str) -> str:
        result = clean.cli("cp", *args, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout.decode()

    cp(str(tree), f"{box}:/tmp/copy")                 # new name: the directory becomes /tmp/copy
    cp(str(tree), f"{box}:/tmp/copy")                 # existing directory: lands inside as /tmp/copy/tree
    cp(f"{tree}/.", f"{box}:/tmp/flat")               # dir/. copies the contents
    cp(str(tree / "a.txt"), f"{box}:/tmp/renamed.txt")
    cp(f"{box}:/tmp/copy", str(workdir / "back"))
    cp(f"{box}:/tmp/flat/.", str(workdir / "flat-back"))
    cp(f"{box}:/tmp/renamed.txt", str(workdir / "file-back"))
    expected = _tree_digest(tree)
    back = _tree_digest(workdir / "back")
    assert {k: v for k, v in back.items() if not k.startswith("tree")} == expected
    assert _tree_digest(workdir / "back" / "tree") == expected
    assert _tree_digest(workdir / "flat-back") == expected
    assert (workdir / "file-back").read_bytes() == b"alpha\n"
    tar_out = clean.cli("cp", f"{box}:/tmp/renamed.txt", "-")
    with tarfile.open(fileobj=io.BytesIO(tar_out.stdout)) as tar:
        assert tar.getnames() == ["renamed.txt"]
    tar_in = tar_of(file_member("from-stdin.txt", b"stdin!\n"))
    assert clean.cli("cp", "-", f"{box}:/tmp", input=tar_in).returncode == 0
    assert clean.cli("cp", f"{box}:/tmp/from-stdin.txt", str(workdir / "s.txt")).returncode == 0
    assert (workdir / "s.txt").read_bytes() == b"stdin!\n"
    # docker's refusals
    missing_dir = clean.cli("cp", str(tree / "a.txt"), f"{box}:/tmp/nodir/")
    assert missing_dir.returncode == 1 and b"no such directory" in missing_dir.stderr
    dir_on_file = clean.cli("cp", str(tree), f"{box}:/tmp/renamed.txt")
    assert dir_on_file.returncode == 1 and b"cannot copy directory" in dir_on_file.stderr
    nothing = clean.cli("cp", f"{box}:/nope", str(workdir / "x"))
    assert nothing.returncode == 1 and b"Could not find the file /nope in container" in nothing.stderr
    assert not mounts_under(clean.exec_root / "mounts")


def test_follow_link_option(clean, box, workdir):
    put = clean.request("PUT", f"/containers/{box}/archive?path=/tmp",
                        tar_of(file_member("real.txt", b"real\n"), link_member("alias", "real.txt")),
                        {"Content-Type": "application/x-tar"})
    assert put[0] == 200, put
    plain = clean.cli("cp", f"{box}:/tmp/alias", str(workdir / "plain"))
    assert plain.returncode == 0, plain.stderr
    assert os.readlink(workdir / "plain") == "real.txt"
    followed = clean.cli("cp", "-L", f"{box}:/tmp/alias", str(workdir / "followed"))
    assert followed.returncode == 0, followed.stderr
    assert (workdir / "followed").read_bytes() == b"real\n" and not (workdir / "followed").is_symlink()


def test_stat_header_and_sdk_archive(sdk, clean, box):
    container = sdk.containers.get(box)
    assert container.put_archive("/tmp", tar_of(file_member("x/y.txt", b"hello", 0o640),
                                                link_member("x/ln", "/etc/passwd")))
    stream, stat = container.get_archive("/tmp/x/y.txt")
    assert stat["name"] == "y.txt" and stat["size"] == 5 and stat["mode"] == 0o640
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        assert tar.extractfile("y.txt").read() == b"hello"
    _, dir_stat = container.get_archive("/tmp/x")
    assert dir_stat["mode"] & (1 << 31)
    _, link_stat = container.get_archive("/tmp/x/ln")
    assert link_stat["mode"] & (1 << 27) and link_stat["linkTarget"] == "/etc/passwd"
    status, _ = clean.request("HEAD", f"/containers/{box}/archive?path=/tmp/x")
    assert status == 200
    assert clean.request("HEAD", f"/containers/{box}/archive?path=/nope")[0] == 404
    assert clean.request("GET", f"/containers/{box}/archive")[0] == 400


def test_no_overwrite_dir_non_dir_and_copy_uid_gid(clean, sdk):
    name = unique("cp-user")
    assert clean.docker("create", "--network", "none", "--user", "nobody", "--name", name, "busybox",
                        "true").returncode == 0
    container = sdk.containers.get(name)
    assert container.put_archive("/tmp", tar_of((tarfile.TarInfo("dir"), None)))
    dir_info = tarfile.TarInfo("dir")
    dir_info.type = tarfile.DIRTYPE
    assert container.put_archive("/tmp", tar_of((dir_info, None)))
    status, body = clean.request("PUT", f"/containers/{name}/archive?path=/tmp&noOverwriteDirNonDir=1",
                                 tar_of(file_member("dir", b"not a dir")), {"Content-Type": "application/x-tar"})
    assert status == 400 and b"cannot overwrite directory" in body
    owned = file_member("owned.txt", b"x")
    owned[0].uid = owned[0].gid = 1234
    status, _ = clean.request("PUT", f"/containers/{name}/archive?path=/tmp&copyUIDGID=1", tar_of(owned),
                              {"Content-Type": "application/x-tar"})
    assert status == 200
    stream, _ = container.get_archive("/tmp/owned.txt")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmember("owned.txt")
        assert (member.uid, member.gid) == (65534, 65534)
    status, _ = clean.request("PUT", f"/containers/{name}/archive?path=/tmp/owned.txt", tar_of(file_member("z", b"z")),
                              {"Content-Type": "application/x-tar"})
    assert status == 400


# ----- hostile symlinks and entries ---------------------------------------------------------------------

@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_hostile_symlinks_stay_inside_the_rootfs(clean, marker, running):
    # the container made links that point at the root, climb with ../ and name /etc absolutely
    box = unique("cp-evil")
    script = ("ln -s / /evil-root && ln -s ../../../../../../.. /evil-up && ln -s /etc /evil-etc && "
              "touch /ready && sleep 300")
    assert clean.docker("run", "-d", "--network", "none", "--name", box, "busybox", "sh", "-c",
                        script).returncode == 0
    headers = {"Content-Type": "application/x-tar"}
    for _ in range(100):
        if clean.request("HEAD", f"/containers/{box}/archive?path=/ready")[0] == 200:
            break
        time.sleep(0.05)
    if not running:
        _stop(clean, box)
    payload = tar_of(file_member(marker, b"inside\n"))
    for dest in ("/evil-root", "/evil-up", "/evil-up/etc", "/evil-etc", "/evil-root/evil-up/tmp"):
        status, body = clean.request("PUT", f"/containers/{box}/archive?path={dest}", payload, headers)
        assert status == 200, (dest, body)
    # everything landed in the container's /, /etc and /tmp
    for path in (f"/{marker}", f"/etc/{marker}", f"/tmp/{marker}"):
        assert clean.request("HEAD", f"/containers/{box}/archive?path={path}")[0] == 200, path
    # reading through the links shows the container's files, never the host's
    status, body = clean.request("GET", f"/containers/{box}/archive?path=/evil-etc/shadow")
    assert status == 404 and os.path.exists("/etc/shadow")
    status, body = clean.request("GET", f"/containers/{box}/archive?path=/evil-up/etc/passwd")
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.extractfile("passwd").read().startswith(b"root:x:0:0:root:/root:/bin/sh\nnobody")
    status, headers_raw = _head_stat(clean, box, "/evil-up")
    assert json.loads(base64.b64decode(headers_raw))["linkTarget"] == "/"
    assert not mounts_under(clean.exec_root / "mounts")


def _head_stat(daemon, box: str, path: str) -> tuple[int, str]:
    from daemon_harness import UnixHTTPConnection
    conn = UnixHTTPConnection(str(daemon.socket))
    try:
        conn.request("HEAD", f"/containers/{box}/archive?path={path}")
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("X-Docker-Container-Path-Stat") or ""
    finally:
        conn.close()


def test_hostile_tar_entries_are_refused_or_contained(clean, box, marker):
    headers = {"Content-Type": "application/x-tar"}
    refused = [
        tar_of(file_member(f"../../../../{marker}", b"x")),                           # climbing entry name
        tar_of(link_member("up", f"../../../../{marker}"), file_member("ok", b"x")),  # relative link out
        tar_of(link_member("hard", f"../../../../etc/{marker}", tarfile.LNKTYPE)),    # hard link out
    ]
    for body in refused:
        status, answer = clean.request("PUT", f"/containers/{box}/archive?path=/tmp", body, headers)
        assert status == 400, answer
    # a link to / followed by an entry below it, and an absolute name: both stay in the container
    contained = tar_of(link_member("root-link", "/"), file_member(f"root-link/{marker}", b"x"),
                       file_member(f"/abs-{marker}", b"y"))
    status, answer = clean.request("PUT", f"/containers/{box}/archive?path=/tmp", contained, headers)
    assert status in (200, 400), answer
    assert not Path(f"/abs-{marker}").exists()
    assert not mounts_under(clean.exec_root / "mounts")


def test_docker_cp_out_of_a_container_with_hostile_links(clean, box, workdir, marker, need_docker_cli):
    # a directory whose links point at the host's / and /etc: copying it out must copy links, not targets
    body = tar_of(link_member("hostile/root", "/"), link_member("hostile/etc", "/etc"),
                  file_member("hostile/plain", b"p"))
    assert clean.request("PUT", f"/containers/{box}/archive?path=/tmp", body,
                         {"Content-Type": "application/x-tar"})[0] == 200
    for tool in (clean.docker, clean.cli):
        dest = workdir / f"out-{tool.__name__}"
        result = tool("cp", f"{box}:/tmp/hostile", str(dest))
        assert result.returncode == 0, result.stderr
        assert os.readlink(dest / "root") == "/" and os.readlink(dest / "etc") == "/etc"
        assert sorted(os.listdir(dest)) == ["etc", "plain", "root"]
