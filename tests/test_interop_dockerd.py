"""Archives move both ways between a real dockerd (Debian's docker.io) and dockyard, and run."""

from __future__ import annotations

import subprocess

import pytest

from dockerd_harness import private_dockerd

pytestmark = pytest.mark.usefixtures("need_docker_cli")


@pytest.fixture(scope="module")
def dockerd():
    """Debian's dockerd, private to this module."""
    with private_dockerd() as env:
        yield env


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
