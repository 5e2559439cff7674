"""Shared fixtures: a real daemon with the busybox image, the Docker SDK, the real docker CLI."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from daemon_harness import Daemon, busybox_daemon
from registry_fixtures import Server, dockyard_registry
from volume_helpers import remove_test_volumes


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    """One daemon for the whole session, with busybox:latest loaded."""
    with busybox_daemon() as d:
        yield d


@pytest.fixture
def clean(daemon: Daemon) -> Iterator[Daemon]:
    """The session daemon; containers a test leaves behind are removed afterwards."""
    yield daemon
    daemon.remove_all_containers()


@pytest.fixture
def own_daemon() -> Iterator[Daemon]:
    """A daemon with busybox of this test's own, so it can be killed without disturbing the others."""
    with busybox_daemon() as d:
        yield d


@pytest.fixture
def vd(clean: Daemon) -> Iterator[Daemon]:
    """The session daemon; the test's containers and volumes are removed afterwards."""
    yield clean
    remove_test_volumes(clean)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A scratch directory of the test's own (outside the daemon's roots), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="dy-work-"))
    yield path
    shutil.rmtree(path)


@pytest.fixture
def marker() -> Iterator[str]:
    """A name that must never appear on the host's root, /etc or /tmp (for escapes out of a container)."""
    name = f"dy-escape-{secrets.token_hex(6)}"
    yield name
    for path in (Path("/") / name, Path("/etc") / name, Path("/tmp") / name):
        assert not path.exists(), f"{path} was written on the host"


@pytest.fixture
def sdk(clean: Daemon):
    docker = pytest.importorskip("docker")
    client = docker.DockerClient(base_url=clean.host, version="1.45")
    yield client
    client.close()


@pytest.fixture
def reg() -> Iterator[Server]:
    """A `dockyard registry serve` of the test's own."""
    yield from dockyard_registry()


@pytest.fixture(scope="module")
def shared_reg() -> Iterator[Server]:
    """A `dockyard registry serve` shared by the tests of one module."""
    yield from dockyard_registry()


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
