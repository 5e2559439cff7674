"""Debian's dockerd on a private data root, exec root and socket, for interoperability tests."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

CGROUP_PARENT = "dy-dockerd-test"


@contextlib.contextmanager
def private_dockerd(*extra: str) -> Iterator[dict[str, str]]:
    """Start dockerd with no networking of its own; yield a docker CLI environment; clean up everything."""
    if shutil.which("dockerd") is None:
        pytest.skip("Debian's docker.io (dockerd) is not installed")
    base = Path(tempfile.mkdtemp(prefix="dy-dockerd-"))
    log = open(base / "dockerd.log", "wb")
    proc = subprocess.Popen(
        ["dockerd", "-H", f"unix://{base}/docker.sock", "--data-root", str(base / "data"),
         "--exec-root", str(base / "exec"), "--pidfile", str(base / "docker.pid"), "--bridge", "none",
         "--iptables=false", "--ip6tables=false", "--cgroup-parent", CGROUP_PARENT,
         "--default-ulimit", "nofile=20000:20000", "--default-ulimit", "nproc=32768:32768", *extra],
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
        for hierarchy in Path("/sys/fs/cgroup").iterdir():  # dockerd leaves its empty parent behind
            if (hierarchy / CGROUP_PARENT).is_dir():
                (hierarchy / CGROUP_PARENT).rmdir()
