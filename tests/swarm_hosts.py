"""Three namespace hosts with a daemon each (tests/netns_hosts.py), for the multi-host swarm tests: helpers to read
the swarm through the docker CLI, kill a host, and (`swarm_of_three`) a swarm of one manager and two workers joined
with the docker CLI and fast heartbeats.

    with three_hosts("dyx", tmp_path) as (lan, daemons): ...     # daemons started, busybox loaded, no swarm
    with swarm_of_three("dyx", tmp_path) as swarm: swarm.manager.docker_ok("service", "create", ...)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from netns_hosts import Lan, NetnsDaemon, leftovers, retire
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


@contextlib.contextmanager
def three_hosts(prefix: str, tmp_path: Path) -> Iterator[tuple[Lan, list[NetnsDaemon]]]:
    """Three hosts, a daemon on each with busybox loaded; at the end every daemon leaves its swarm and is retired
    (a killed one is started again first, so it cleans its containers' remains), its log kept in tmp_path, and no
    namespace of the run is left."""
    with Lan(prefix, hosts_wanted=3) as lan:
        daemons = [NetnsDaemon(host, tmp_path / f"h{n}") for n, host in enumerate(lan.hosts, 1)]
        try:
            for d in daemons:
                d.start()
                d.load_busybox()
            yield lan, daemons
        finally:
            for n, d in enumerate(daemons, 1):
                if d.process is None and d.base.exists():
                    d.start()
                d.docker("swarm", "leave", "--force")
                if d.log.exists():
                    shutil.copy(d.log, tmp_path / f"h{n}.log")
                retire(d, tmp_path / f"h{n}")
    assert not leftovers(prefix)


@dataclass
class Swarm:
    """A manager and two workers, with their node ids."""

    lan: Lan
    daemons: list[NetnsDaemon]
    ids: list[str]

    @property
    def manager(self) -> NetnsDaemon:
        return self.daemons[0]

    def where(self, service: str) -> list[int]:
        """How many running tasks of the service each host has (`docker ps` on each)."""
        return [len(running_tasks(d, service)) for d in self.daemons]


@contextlib.contextmanager
def swarm_of_three(prefix: str, tmp_path: Path, init_args: tuple[str, ...] = ()) -> Iterator[Swarm]:
    """`swarm init` on the first host (heartbeat HEARTBEAT, and `init_args`), the two others joined as workers with
    the docker CLI; yields once the three nodes are Ready/Active."""
    with three_hosts(prefix, tmp_path) as (lan, daemons):
        manager = daemons[0]
        addresses = [h.address for h in lan.hosts]
        manager.docker_ok("swarm", "init", "--listen-addr", f"{addresses[0]}:2377", "--advertise-addr", addresses[0],
                          "--dispatcher-heartbeat", f"{int(HEARTBEAT)}s", *init_args)
        token = manager.docker_ok("swarm", "join-token", "-q", "worker")
        for d, ip in zip(daemons[1:], addresses[1:]):
            d.docker_ok("swarm", "join", "--token", token, "--listen-addr", f"{ip}:2377", "--advertise-addr", ip,
                        f"{addresses[0]}:2377")
        eventually("three Ready/Active nodes", lambda: list(nodes(manager).values()) == [("Ready", "Active")] * 3)
        yield Swarm(lan, daemons, [node_id(d) for d in daemons])
