"""Docker's warnings for limits the host cannot apply, /etc/hostname with --uts host, the packaged seccomp profile."""

from __future__ import annotations

import json
import socket
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

from dockyard.containers.host_features import (
    BLKIO_WEIGHT_WARNING,
    OOM_KILL_DISABLE_WARNING,
    CgroupFeatures,
    detect,
    discard_unsupported,
)

REPO = Path(__file__).resolve().parents[1]
SPEC_PROFILE = Path("/work/shared/specs/seccomp-default.json")


def test_discard_unsupported_drops_values_with_dockers_warnings() -> None:
    host = {"BlkioWeight": 300, "OomKillDisable": True}
    assert discard_unsupported(host, CgroupFeatures(False, False)) == [BLKIO_WEIGHT_WARNING, OOM_KILL_DISABLE_WARNING]
    assert host == {"BlkioWeight": 0, "OomKillDisable": None}
    host = {"BlkioWeight": 300, "OomKillDisable": False}
    assert discard_unsupported(host, CgroupFeatures(True, False)) == []  # no warning for asking it to stay on
    assert host == {"BlkioWeight": 300, "OomKillDisable": None}
    host = {"BlkioWeight": 300, "OomKillDisable": True}
    assert discard_unsupported(host, CgroupFeatures(True, True)) == []
    assert host == {"BlkioWeight": 300, "OomKillDisable": True}


def test_detect_matches_the_mounted_hierarchy(tmp_path: Path) -> None:
    v1 = tmp_path / "v1"
    (v1 / "blkio").mkdir(parents=True)
    (v1 / "memory").mkdir()
    assert detect(v1) == CgroupFeatures(False, False)
    (v1 / "blkio" / "blkio.bfq.weight").touch()
    (v1 / "memory" / "memory.oom_control").touch()
    assert detect(v1) == CgroupFeatures(True, True)
    real = Path("/sys/fs/cgroup/blkio")
    if real.is_dir():
        assert detect().blkio_weight == any((real / f).exists() for f in ("blkio.weight", "blkio.bfq.weight"))


def test_create_warns_and_start_succeeds(clean) -> None:  # type: ignore[no-untyped-def]
    features = detect()
    body = {"Image": "busybox", "Cmd": ["sleep", "30"], "HostConfig": {"BlkioWeight": 500, "OomKillDisable": True}}
    status, raw = clean.request("POST", "/containers/create?name=dy-gaps-blkio", body)
    assert status == 201, raw
    created = json.loads(raw)
    expected = ([] if features.blkio_weight else [BLKIO_WEIGHT_WARNING]) + \
        ([] if features.oom_kill_disable else [OOM_KILL_DISABLE_WARNING])
    assert created["Warnings"] == expected
    status, raw = clean.request("POST", f"/containers/{created['Id']}/start")
    assert status == 204, raw
    doc = clean.api("GET", f"/containers/{created['Id']}/json")
    assert doc["HostConfig"]["BlkioWeight"] == (500 if features.blkio_weight else 0)
    if not features.blkio_weight:
        out = clean.cli("update", "--blkio-weight", "300", "dy-gaps-blkio")
        assert out.returncode == 0, out.stderr
        assert clean.api("GET", f"/containers/{created['Id']}/json")["HostConfig"]["BlkioWeight"] == 0


def test_uts_host_etc_hostname_is_the_hosts(clean) -> None:  # type: ignore[no-untyped-def]
    out = clean.cli("run", "--rm", "--uts", "host", "busybox", "sh", "-c", "cat /etc/hostname; hostname")
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().split() == [socket.gethostname()] * 2


def test_seccomp_profile_is_packaged_and_equals_the_spec() -> None:
    packaged = resources.files("dockyard.runtime").joinpath("seccomp-default.json")
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(fnmatch("seccomp-default.json", p) for p in patterns["dockyard.runtime"])
    if SPEC_PROFILE.exists():
        assert packaged.read_bytes() == SPEC_PROFILE.read_bytes()
