"""`ssh://` daemons: DOCKER_HOST=ssh://root@<host> against an sshd the test starts in a namespace "host" (with a
key the test makes), used by `dockyard` (remote side: `dockyard system dial-stdio`) and by the real docker CLI
(remote side: `docker system dial-stdio`, which reaches the Dockyard daemon through DOCKER_HOST)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from daemon_harness import DOCKYARD, REPO
from helpers import wait_for
from netns_hosts import Lan, NetnsDaemon, SshServer, entered, leftovers, retire
from test_tty_exec import busybox_shell_session

PREFIX = "dyssh"
pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in ("nsenter", "ip", "ssh", "ssh-keygen"))
                                or not os.path.exists("/usr/sbin/sshd"), reason="needs nsenter, ip, ssh and sshd")


@dataclass
class SshHost:
    lan: Lan
    sshd: SshServer
    home: Path

    @property
    def url(self) -> str:
        return f"ssh://root@{self.lan.hosts[0].address}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=self.url, DOCKER_CONFIG=str(self.home), DOCKER_BUILDKIT="0",
                   PATH=f"{self.sshd.bin_dir}:{env.get('PATH', '/usr/bin:/bin')}")
        return env

    def run(self, cli: str, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
        """`dockyard` or `docker` in the switch namespace with DOCKER_HOST=ssh://root@<host>."""
        argv = DOCKYARD + list(args) if cli == "dockyard" else ["docker", *args]
        return self.lan.switch.run(argv, env=self.env(), input=input, cwd=REPO)


@pytest.fixture(scope="module")
def ssh_host() -> Iterator[SshHost]:
    base = Path(tempfile.mkdtemp(prefix="dyssh-"))
    with Lan(PREFIX, 1) as lan:
        host = lan.hosts[0]
        daemon = NetnsDaemon(host, base / "daemon")
        sshd = SshServer(host, base / "ssh", {
            "DOCKER_HOST": daemon.host, "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"})
        try:
            daemon.start()
            daemon.load_busybox()
            sshd.start()

            def listening() -> bool:
                with entered(lan.switch), socket.socket() as probe:
                    probe.settimeout(1)
                    return probe.connect_ex((host.address, 22)) == 0
            wait_for(listening, 20, "sshd to listen")
            yield SshHost(lan, sshd, base / "home")
        finally:
            sshd.stop()
            retire(daemon, base)
    assert not leftovers(f"{PREFIX}-{lan.run_id}")


@pytest.mark.parametrize("cli", ["dockyard", "docker"])
def test_ps_run_and_build_over_ssh(ssh_host: SshHost, cli: str, tmp_path: Path) -> None:
    listed = ssh_host.run(cli, "ps", "-a")
    assert listed.returncode == 0 and listed.stdout.startswith(b"CONTAINER ID"), listed
    ran = ssh_host.run(cli, "run", "--rm", "busybox", "echo", f"{cli} over ssh")
    assert ran.returncode == 0 and ran.stdout == f"{cli} over ssh\n".encode(), ran
    piped = ssh_host.run(cli, "run", "--rm", "-i", "busybox", "sh", "-c", "cat; sleep 0.3; echo after eof",
                         input=b"piped\n")
    assert piped.returncode == 0 and piped.stdout == b"piped\nafter eof\n", piped
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo built by {cli} > /b\nCMD cat /b\n")
    tag = f"ssh-{cli}-{int(time.time())}"
    built = ssh_host.run(cli, "build", "-q", "-t", tag, str(tmp_path))
    assert built.returncode == 0, built
    assert ssh_host.run(cli, "run", "--rm", tag).stdout == f"built by {cli}\n".encode()
    assert ssh_host.run(cli, "rmi", tag).returncode == 0


@pytest.mark.parametrize("cli", ["dockyard", "docker"])
def test_run_it_over_ssh(ssh_host: SshHost, cli: str) -> None:
    busybox_shell_session(ssh_host.lan.switch.prefix() + (DOCKYARD if cli == "dockyard" else ["docker"]),
                          ssh_host.env())


def test_unreachable_ssh_host_reads_like_docker(ssh_host: SshHost) -> None:
    env = ssh_host.env()
    env["DOCKER_HOST"] = f"ssh://root@{ssh_host.lan.switch.address}"  # no sshd there
    failed = ssh_host.lan.switch.run(DOCKYARD + ["ps"], env=env, cwd=REPO)
    assert failed.returncode == 1
    text = failed.stderr.decode()
    assert text.startswith('error during connect: Get "http://docker.example.com/_ping": command [ssh ')
    assert "has exited with exit status 255" in text and "Connection refused" in text


def test_dial_stdio_speaks_the_api_over_ssh(ssh_host: SshHost) -> None:
    """The remote end `dockyard` runs: `dockyard system dial-stdio` joins ssh's stdio to the daemon socket."""
    request = b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
    answer = ssh_host.lan.switch.run(["ssh", f"root@{ssh_host.lan.hosts[0].address}", "dockyard", "system",
                                      "dial-stdio"], env=ssh_host.env(), input=request)
    assert answer.returncode == 0, answer
    assert answer.stdout.startswith(b"HTTP/1.1 200 OK\r\n") and answer.stdout.endswith(b"\r\n\r\nOK"), answer.stdout


def test_one_ssh_connection_per_command(ssh_host: SshHost) -> None:
    """The version ping and the command's request share one ssh connection (each costs a handshake)."""
    log = ssh_host.sshd.base / "sshd.log"

    def accepted() -> int:
        return log.read_text().count("Accepted publickey")
    before = accepted()
    listed = ssh_host.run("dockyard", "ps")
    assert listed.returncode == 0, listed
    assert wait_for(lambda: accepted() > before, 10, "sshd to log the login") and accepted() == before + 1
