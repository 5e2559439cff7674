"""Shared fixtures: a real daemon with the busybox image, the Docker SDK, the real docker CLI."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from daemon_harness import Daemon, destroy, new_daemon


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    """One daemon for the whole session, with busybox:latest loaded."""
    d = new_daemon()
    d.start()
    try:
        d.load_busybox()
        yield d
        d.remove_all_containers()
    finally:
        destroy(d)


@pytest.fixture
def clean(daemon: Daemon) -> Iterator[Daemon]:
    """The session daemon; containers a test leaves behind are removed afterwards."""
    yield daemon
    daemon.remove_all_containers()


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A scratch directory of the test's own (outside the daemon's roots), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="dy-work-"))
    yield path
    shutil.rmtree(path)


@pytest.fixture
def sdk(clean: Daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=clean.host, version="1.45")
    yield client
    client.close()


@pytest.fixture
def need_docker_cli() -> None:
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")


@pytest.fixture
def cgroup2_root() -> Iterator[Path]:
    """A cgroup2 hierarchy mounted at a temp dir, unmounted afterwards."""
    with tempfile.TemporaryDirectory(prefix="dockyard-cg2-") as tmp:
        subprocess.run(["mount", "-t", "cgroup2", "none", tmp], check=True)
        try:
            yield Path(tmp)
        finally:
            subprocess.run(["umount", tmp], check=True)
