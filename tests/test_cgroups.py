"""cgroups on the real kernel: v1 on this host's hierarchies, v2 on a cgroup2 tree mounted in a temp dir."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from dockyard.runtime.cgroups import CgroupV1, CgroupV2, is_cgroup2, open_cgroup

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen]:
    """A sleeping process to move between cgroups; killed afterwards."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _exercise(cgroup, parent, sleeper: subprocess.Popen) -> None:  # type: ignore[no-untyped-def]
    """create/add/pids/freeze/thaw/remove on one implementation, leaving nothing behind."""
    cgroup.create()
    try:
        assert cgroup.exists()
        cgroup.add(sleeper.pid)
        assert cgroup.pids() == [sleeper.pid]
        cgroup.freeze()
        assert cgroup.frozen()
        cgroup.thaw()
        assert not cgroup.frozen()
        assert not cgroup.oom_killed()
    finally:
        sleeper.kill()
        sleeper.wait()
        cgroup.remove()
        parent.remove()
    assert not cgroup.exists()


@pytest.mark.skipif(is_cgroup2(), reason="host is pure cgroup2")
def test_v1_lifecycle_and_cpuset_inheritance(sleeper: subprocess.Popen) -> None:
    parent_path = f"/dockyard-cgtest-{os.getpid()}"
    cgroup = open_cgroup(f"{parent_path}/c1")
    assert isinstance(cgroup, CgroupV1)
    cgroup.create()
    cpus = Path("/sys/fs/cgroup/cpuset/cpuset.cpus").read_text().strip()
    assert (Path("/sys/fs/cgroup/cpuset") / parent_path.strip("/") / "c1" / "cpuset.cpus").read_text().strip() == cpus
    _exercise(cgroup, CgroupV1(parent_path), sleeper)
    assert not Path(f"/sys/fs/cgroup/memory{parent_path}").exists()


def test_v2_lifecycle_on_temp_mount(cgroup2_root: Path, sleeper: subprocess.Popen) -> None:
    assert is_cgroup2(cgroup2_root)
    parent_path = f"/dockyard-cgtest-{os.getpid()}"
    cgroup = open_cgroup(f"{parent_path}/c3", root=cgroup2_root)
    assert isinstance(cgroup, CgroupV2)
    _exercise(cgroup, CgroupV2(parent_path, root=cgroup2_root), sleeper)
    assert not (cgroup2_root / parent_path.strip("/")).exists()


def test_empty_path_is_rejected() -> None:
    with pytest.raises(ValueError):
        CgroupV1("/")
