"""`--mount type=volume,...,volume-subpath=` (VolumeOptions.Subpath) as dockerd v28: only that part of the volume is
mounted, and a volume whose content a container controls can never lead the mount out of the volume."""

from __future__ import annotations

import json
import secrets

from daemon_harness import Daemon
from host_probe import mounts_under
from volume_helpers import PREFIX


def _volume(d: Daemon, script: str) -> str:
    """A new named volume filled by a container running `script` in it (at /v)."""
    name = f"{PREFIX}-sub-{secrets.token_hex(4)}"
    d.docker_ok("run", "--rm", "--network", "none", "-v", f"{name}:/v", "busybox", "sh", "-c", script)
    return name


def _mount(volume: str, subpath: str, target: str = "/d") -> str:
    return f"type=volume,src={volume},dst={target},volume-subpath={subpath}"


def test_subpath_mounts_only_that_directory(vd: Daemon) -> None:
    """The container sees the subdirectory's files at the target and writes land in it, not the volume's root."""
    volume = _volume(vd, "mkdir -p /v/sub/dir && echo inside > /v/sub/dir/file && echo top > /v/top")
    out = vd.docker_ok("run", "--rm", "--network", "none", "--mount", _mount(volume, "sub/dir"), "busybox",
                       "sh", "-c", "ls /d; echo new > /d/written")
    assert out.split() == ["file"]
    check = vd.docker_ok("run", "--rm", "--network", "none", "-v", f"{volume}:/v", "busybox",
                         "sh", "-c", "cat /v/sub/dir/written; ls /v")
    assert check.split() == ["new", "sub", "top"]
    single = vd.docker_ok("run", "--rm", "--network", "none", "--mount", _mount(volume, "sub/dir/file", "/f"),
                          "busybox", "cat", "/f")
    assert single == "inside"
    assert not [p for p in mounts_under(vd.exec_root) if "/subpaths" in p]


def test_lexically_bad_subpaths_are_refused_at_create(vd: Daemon) -> None:
    """Absolute and `..` subpaths, and a subpath of an anonymous volume, are refused by create with dockerd's words."""
    volume = _volume(vd, "true")
    for subpath in ("/etc", "../../..", "a/../../b"):
        body = {"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "volume", "Source": volume, "Target": "/d",
                                                               "VolumeOptions": {"Subpath": subpath}}]}}
        status, raw = vd.request("POST", "/containers/create", body)
        assert status == 400 and b'invalid mount config for type \\"volume\\": subpath must be a relative path ' \
            b"within the volume" in raw, (subpath, raw)
    body = {"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "volume", "Target": "/d",
                                                           "VolumeOptions": {"Subpath": "x"}}]}}
    status, raw = vd.request("POST", "/containers/create", body)
    assert status == 400 and b"must not set Subpath when using anonymous volumes" in raw, raw
    result = vd.docker("create", "--mount", _mount(volume, "/etc"), "busybox")
    assert result.returncode != 0 and b"subpath must be a relative path within the volume" in result.stderr


def test_missing_subpath_fails_at_start(vd: Daemon) -> None:
    """dockerd creates the container and refuses to start it: `cannot access path <volume>/<subpath>: ...`."""
    volume = _volume(vd, "true")
    mountpoint = vd.api("GET", f"/volumes/{volume}")["Mountpoint"]
    result = vd.docker("run", "--rm", "--network", "none", "--mount", _mount(volume, "nothing/here"), "busybox",
                       "true")
    assert result.returncode != 0, result
    assert f"cannot access path {mountpoint}/nothing/here: no such file or directory".encode() in result.stderr


def test_symlinks_in_the_volume_never_lead_out(vd: Daemon, marker: str) -> None:
    """A container plants symlinks to the host's /etc (absolute, and relative climbing out); a subpath through
    them is refused, never the host's /etc mounted; a symlink that stays in the volume is followed."""
    volume = _volume(vd, "mkdir /v/real && echo mine > /v/real/passwd && ln -s /etc /v/abs && "
                         "ln -s ../../../../../../../../etc /v/up && ln -s real /v/rel && mkdir /v/dir && "
                         "ln -s /etc /v/dir/abs")
    for subpath in ("abs", "up", "dir/abs", "abs/passwd", "up/passwd"):
        result = vd.docker("run", "--rm", "--network", "none", "--mount", _mount(volume, subpath), "busybox",
                           "sh", "-c", f"touch /d/{marker} 2>/dev/null; ls /d; cat /d 2>/dev/null")
        assert result.returncode != 0, (subpath, result)
        assert b"path concatenation escapes the base directory" in result.stderr, (subpath, result.stderr)
        assert b"root:" not in result.stdout
    followed = vd.docker_ok("run", "--rm", "--network", "none", "--mount", _mount(volume, "rel"), "busybox",
                            "cat", "/d/passwd")
    assert followed == "mine"


def test_a_subpath_swapped_for_a_symlink_after_create_is_refused(vd: Daemon, marker: str) -> None:
    """The subpath is a directory at create; a container then swaps it for a symlink to /etc; start refuses."""
    volume = _volume(vd, "mkdir /v/sub && echo safe > /v/sub/file")
    cid = vd.docker_ok("create", "--network", "none", "--mount", _mount(volume, "sub"), "busybox",
                       "sh", "-c", f"cat /d/file; touch /d/{marker}")
    vd.docker_ok("run", "--rm", "--network", "none", "-v", f"{volume}:/v", "busybox",
                 "sh", "-c", "mv /v/sub /v/sub.old && ln -s /etc /v/sub")
    result = vd.docker("start", "-a", cid)
    assert result.returncode != 0 and b"path concatenation escapes the base directory" in result.stderr, result


def test_racing_swaps_never_expose_the_host(vd: Daemon, marker: str) -> None:
    """While a container keeps swapping the subpath between a directory and a symlink to /etc, every start either
    is refused or mounts the volume's own directory; the host's /etc never shows."""
    volume = _volume(vd, "mkdir /v/sub && echo safe > /v/sub/file")
    swapper = vd.docker_ok("run", "-d", "--network", "none", "-v", f"{volume}:/v", "busybox", "sh", "-c",
                           "while true; do mv /v/sub /v/held; ln -s /etc /v/sub; rm /v/sub; mv /v/held /v/sub; done")
    try:
        for _ in range(30):
            result = vd.docker("run", "--rm", "--network", "none", "--mount", _mount(volume, "sub"), "busybox",
                               "sh", "-c", f"cat /d/file /d/passwd 2>/dev/null; touch /d/{marker}")
            assert b"root:" not in result.stdout, result
            if result.returncode == 0:
                assert result.stdout.strip() == b"safe", result
            else:
                assert (b"path concatenation escapes the base directory" in result.stderr or
                        b"cannot access path" in result.stderr), result
    finally:
        vd.docker_ok("rm", "-f", swapper)
    assert not [p for p in mounts_under(vd.exec_root) if "/subpaths" in p]


def test_subpath_needs_api_1_45(vd: Daemon) -> None:
    """dockerd's router refuses a subpath from a client speaking an older API."""
    volume = _volume(vd, "mkdir /v/sub")
    body = {"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "volume", "Source": volume, "Target": "/d",
                                                           "VolumeOptions": {"Subpath": "sub"}}]}}
    status, raw = vd.request("POST", "/v1.44/containers/create", body)
    assert status == 400 and b"VolumeOptions.Subpath needs API v1.45 or newer" in raw, raw
    status, raw = vd.request("POST", "/v1.45/containers/create", body)
    assert status == 201, raw
    vd.api("DELETE", f"/containers/{json.loads(raw)['Id']}")


def test_cp_sees_the_subpath_not_the_whole_volume(vd: Daemon, workdir) -> None:  # type: ignore[no-untyped-def]
    """`docker cp` works on the container's view: the subpath at the target, as the running container has it."""
    volume = _volume(vd, "mkdir /v/sub && echo inside > /v/sub/file && echo top > /v/top")
    cid = vd.docker_ok("create", "--network", "none", "--mount", _mount(volume, "sub"), "busybox", "true")
    vd.docker_ok("cp", f"{cid}:/d/file", str(workdir / "file"))
    assert (workdir / "file").read_text() == "inside\n"
    assert vd.docker("cp", f"{cid}:/d/top", str(workdir / "top")).returncode != 0
    (workdir / "in").write_text("copied\n")
    vd.docker_ok("cp", str(workdir / "in"), f"{cid}:/d/in")
    listing = vd.docker_ok("run", "--rm", "--network", "none", "-v", f"{volume}:/v", "busybox", "ls", "/v", "/v/sub")
    assert listing.split() == ["/v:", "sub", "top", "/v/sub:", "file", "in"]
    vd.docker_ok("rm", cid)
