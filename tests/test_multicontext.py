"""Beyond docker: `dockyard ps/images/info/events --context a --context b` asks two daemons (each in its own
namespace "host") concurrently and merges their answers with a CONTEXT column; a daemon that is down prints its
error and the other's rows still come."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from daemon_harness import DOCKYARD, REPO
from netns_hosts import Lan, NetnsDaemon, leftovers, retire

PREFIX = "dymc"
pytestmark = pytest.mark.skipif(shutil.which("nsenter") is None or shutil.which("ip") is None,
                                reason="nsenter(1) and ip(8) are needed for namespace hosts")


@dataclass
class TwoDaemons:
    first: NetnsDaemon
    second: NetnsDaemon
    config: Path  # DOCKER_CONFIG with contexts alpha, beta and down

    def dockyard(self, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_CONFIG"] = str(self.config)
        return subprocess.run(DOCKYARD + list(args), env=env, capture_output=True, timeout=60, cwd=REPO)


@pytest.fixture(scope="module")
def two() -> Iterator[TwoDaemons]:
    base = Path(tempfile.mkdtemp(prefix="dymc-"))
    with Lan(PREFIX, 2) as lan:
        daemons = [NetnsDaemon(host, base / host.name) for host in lan.hosts]
        try:
            for daemon in daemons:
                daemon.start()
                daemon.load_busybox()
            pair = TwoDaemons(daemons[0], daemons[1], base / "config")
            for name, host in (("alpha", daemons[0].host), ("beta", daemons[1].host), ("down", f"unix://{base}/none.sock")):
                made = pair.dockyard("context", "create", name, "--docker", f"host={host}")
                assert made.returncode == 0, made
            yield pair
        finally:
            for daemon in daemons:
                retire(daemon, daemon.base)
            shutil.rmtree(base, ignore_errors=True)
    assert not leftovers(f"{PREFIX}-{lan.run_id}")


def test_ps_of_two_daemons_in_one_table(two: TwoDaemons) -> None:
    two.first.docker_ok("run", "-d", "--name", "on-a", "busybox", "sleep", "60")
    two.second.docker_ok("run", "-d", "--name", "on-b", "busybox", "sleep", "60")
    listed = two.dockyard("ps", "--context", "alpha", "--context", "beta")
    assert listed.returncode == 0, listed
    lines = listed.stdout.decode().splitlines()
    assert lines[0].split()[:3] == ["CONTEXT", "CONTAINER", "ID"]
    rows = {line.split()[0]: line.split()[-1] for line in lines[1:]}
    assert rows == {"alpha": "on-a", "beta": "on-b"}
    names = two.dockyard("--context", "alpha", "--context", "beta", "ps", "--format", "{{.Context}}:{{.Names}}")
    assert sorted(names.stdout.decode().split()) == ["alpha:on-a", "beta:on-b"]


def test_a_daemon_down_prints_its_error_and_the_others_rows(two: TwoDaemons) -> None:
    listed = two.dockyard("ps", "-a", "--context", "down", "--context", "alpha", "--format", "{{.Context}} {{.Names}}")
    assert listed.returncode == 1
    assert f"context down: Cannot connect to the Docker daemon at unix://{two.config.parent}/none.sock." \
        in listed.stderr.decode()
    assert "alpha on-a" in listed.stdout.decode().splitlines()


def test_images_and_info_of_two_daemons(two: TwoDaemons) -> None:
    images = two.dockyard("images", "--context", "alpha", "--context", "beta")
    assert images.returncode == 0, images
    lines = images.stdout.decode().splitlines()
    assert lines[0].split()[:3] == ["CONTEXT", "REPOSITORY", "TAG"]
    assert sorted(line.split()[0] for line in lines[1:] if " busybox " in line) == ["alpha", "beta"]
    info = two.dockyard("info", "--context", "alpha", "--context", "beta")
    assert info.returncode == 0, info
    head, *rows = info.stdout.decode().splitlines()
    assert head.split()[:4] == ["CONTEXT", "NAME", "SERVER", "VERSION"]
    assert sorted(row.split()[0] for row in rows) == ["alpha", "beta"]


def test_events_of_two_daemons_interleaved_by_time(two: TwoDaemons) -> None:
    since = str(time.time())
    two.first.docker_ok("create", "--name", "ev-a1", "busybox")
    two.second.docker_ok("create", "--name", "ev-b1", "busybox")
    two.first.docker_ok("create", "--name", "ev-a2", "busybox")
    until = str(time.time() + 0.5)
    events = two.dockyard("events", "--context", "alpha", "--context", "beta", "--since", since, "--until", until,
                          "--filter", "event=create", "--format", "{{.Context}} {{.Actor.Attributes.name}}")
    assert events.returncode == 0, events
    assert events.stdout.decode().splitlines() == ["alpha ev-a1", "beta ev-b1", "alpha ev-a2"]
