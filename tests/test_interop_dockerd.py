"""Archives move both ways between a real dockerd (Debian's docker.io) and dockyard, and run."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("need_docker_cli")


CGROUP_PARENT = "dy-dockerd-test"


def remove_cgroup_parent() -> None:
    """dockerd leaves its (empty) parent cgroup behind in every hierarchy: remove it."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        parent = hierarchy / CGROUP_PARENT
        if parent.is_dir():
            parent.rmdir()


@pytest.fixture(scope="module")
def dockerd():
    """Debian's dockerd on a private data root and socket, with no networking of its own."""
    if shutil.which("dockerd") is None:
        pytest.skip("Debian's docker.io (dockerd) is not installed")
    base = Path(tempfile.mkdtemp(prefix="dy-dockerd-"))
    log = open(base / "dockerd.log", "wb")
    proc = subprocess.Popen(
        ["dockerd", "-H", f"unix://{base}/docker.sock", "--data-root", str(base / "data"),
         "--exec-root", str(base / "exec"), "--pidfile", str(base / "docker.pid"), "--bridge", "none",
         "--iptables=false", "--ip6tables=false", "--cgroup-parent", CGROUP_PARENT, "--default-ulimit", "nofile=20000:20000",
         "--default-ulimit", "nproc=32768:32768"],
        stdout=log, stderr=subprocess.STDOUT)
    env = {"DOCKER_HOST": f"unix://{base}/docker.sock", "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
           "DOCKER_CONFIG": str(base / "config")}
    try:
        for _ in range(300):
            if subprocess.run(["docker", "version"], env=env, capture_output=True).returncode == 0:
                break
            if proc.poll() is not None:
                pytest.skip(f"dockerd does not run here: {(base / 'dockerd.log').read_text()[-500:]}")
            time.sleep(0.1)
        yield env
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
        subprocess.run(["umount", "-R", str(base / "exec")], capture_output=True)
        subprocess.run(["umount", "-R", str(base / "data")], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        remove_cgroup_parent()


def run(cmd: list[str], env: dict[str, str], data: bytes | None = None) -> bytes:
    result = subprocess.run(cmd, env=env, input=data, capture_output=True, timeout=120)
    assert result.returncode == 0, (cmd, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def test_archive_from_dockyard_runs_on_dockerd_and_back(clean, dockerd):
    ours = clean.env()
    archive = run(["docker", "save", "busybox"], ours)
    run(["docker", "load"], dockerd, archive)
    run(["docker", "tag", "busybox", "roundtrip:dockerd"], dockerd)
    assert run(["docker", "run", "--rm", "--network", "none", "roundtrip:dockerd", "echo", "on dockerd"],
               dockerd) == b"on dockerd\n"
    theirs = run(["docker", "save", "roundtrip:dockerd"], dockerd)
    loaded = run(["docker", "load"], ours, theirs)
    assert b"Loaded image: roundtrip:dockerd" in loaded
    assert run(["docker", "run", "--rm", "roundtrip:dockerd", "echo", "back on dockyard"], ours) == \
        b"back on dockyard\n"
    ids = {run(["docker", "image", "inspect", "-f", "{{.Id}}", "roundtrip:dockerd"], env).strip()
           for env in (ours, dockerd)}
    assert len(ids) == 1, ids
    run(["docker", "rmi", "roundtrip:dockerd"], ours)
