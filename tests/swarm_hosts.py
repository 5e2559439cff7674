"""A swarm on namespace hosts (tests/netns_hosts.py) for multi-host tests: daemons started with busybox, a manager
initialised with fast heartbeats, workers joined with the docker CLI, and the helpers the tests read them with."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path
from typing import Iterator

from netns_hosts import Lan, NetnsDaemon, retire
from test_swarm_services import eventually

HEARTBEAT = 1.0


def nodes(manager: NetnsDaemon) -> dict[str, tuple[str, str]]:
    """Node id -> (status, availability) from `docker node ls`."""
    out = manager.docker_ok("node", "ls", "--format", "{{.ID}} {{.Status}} {{.Availability}}")
    return {line.split()[0]: (line.split()[1], line.split()[2]) for line in out.splitlines()}


def running_tasks(d: NetnsDaemon, service: str) -> list[str]:
    """Names of the service's running task containers on one daemon (`docker ps`)."""
    out = d.docker_ok("ps", "--filter", f"label=com.docker.swarm.service.name={service}", "--format", "{{.Names}}")
    return sorted(out.split())


def node_id(d: NetnsDaemon) -> str:
    """The daemon's swarm node id (`docker info`)."""
    return d.docker_ok("info", "--format", "{{.Swarm.NodeID}}")


def kill_host(d: NetnsDaemon) -> None:
    """SIGKILL the daemon, its shims and its containers' processes: the host died."""
    victims = []
    for cid in d.docker_ok("ps", "-q", "--no-trunc").split():
        victims.append(int(d.inspect(cid)["State"]["Pid"]))
        victims.append(int((d.exec_root / "containers" / cid / "shim.pid").read_text()))
    assert d.process is not None
    d.process.kill()
    d.process.wait(10)
    d.process = None
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def host_daemons(lan: Lan, tmp_path: Path) -> list[NetnsDaemon]:
    """A daemon for each host (not started; end them with `retire_all`, even on failure)."""
    return [NetnsDaemon(host, tmp_path / f"h{n}") for n, host in enumerate(lan.hosts, 1)]


def start_daemons(daemons: list[NetnsDaemon]) -> None:
    """Start every daemon and load busybox into it."""
    for d in daemons:
        d.start()
        d.load_busybox()


def init_and_join(lan: Lan, daemons: list[NetnsDaemon]) -> None:
    """The first daemon inits a swarm (heartbeat HEARTBEAT), the others join it as workers with the docker CLI."""
    manager = daemons[0]
    h1 = lan.hosts[0].address
    manager.docker_ok("swarm", "init", "--listen-addr", f"{h1}:2377", "--advertise-addr", h1,
                      "--dispatcher-heartbeat", f"{int(HEARTBEAT)}s")
    token = manager.docker_ok("swarm", "join-token", "-q", "worker")
    for d, host in zip(daemons[1:], lan.hosts[1:]):
        d.docker_ok("swarm", "join", "--token", token, "--listen-addr", f"{host.address}:2377",
                    "--advertise-addr", host.address, f"{h1}:2377")
    eventually("every node Ready/Active", lambda: set(nodes(manager).values()) == {("Ready", "Active")}
               and len(nodes(manager)) == len(daemons))


def retire_all(daemons: list[NetnsDaemon], tmp_path: Path) -> None:
    """Every daemon out of the swarm and ended (a killed one started again first: it cleans up its containers'
    remains once it runs), its log kept in `tmp_path`."""
    for n, d in enumerate(daemons, 1):
        if d.process is None and d.base.exists():
            d.start()
        d.docker("swarm", "leave", "--force")
        if d.log.exists():
            shutil.copy(d.log, tmp_path / f"h{n}.log")
        retire(d, tmp_path / f"h{n}")


@contextlib.contextmanager
def swarm(lan: Lan, tmp_path: Path) -> Iterator[list[NetnsDaemon]]:
    """A manager and workers on every host of `lan`, all Ready; retired at the end."""
    daemons = host_daemons(lan, tmp_path)
    try:
        start_daemons(daemons)
        init_and_join(lan, daemons)
        yield daemons
    finally:
        retire_all(daemons, tmp_path)
