"""Where the CLI connects when no host is given: the default socket, or tcp://localhost:2376 with --tls."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

DOCKYARD = [sys.executable, "-m", "dockyard.entry"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    return {**env, "HOME": str(home), **extra}


def test_tls_without_a_host_goes_to_localhost_2376(tmp_path: Path) -> None:
    """As the docker CLI's DefaultTLSHost: `--tls` and neither -H nor DOCKER_HOST means tcp://localhost:2376."""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 2376)) != 0, "something listens on localhost:2376 here"
    made = subprocess.run([*DOCKYARD, "tls", "create", "--dir", str(tmp_path / "certs"), "localhost"],
                          capture_output=True, text=True, env=_env(tmp_path))
    assert made.returncode == 0, made.stderr
    env = _env(tmp_path, DOCKER_CERT_PATH=str(tmp_path / "certs" / "client"))
    out = subprocess.run([*DOCKYARD, "--tls", "ps"], capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert "tcp://localhost:2376" in out.stderr, out.stderr
    plain = subprocess.run([*DOCKYARD, "-H", "unix:///nonexistent/d.sock", "ps"], capture_output=True, text=True,
                           env=_env(tmp_path))
    assert "unix:///nonexistent/d.sock" in plain.stderr, plain.stderr
