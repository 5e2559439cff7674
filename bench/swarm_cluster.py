"""Swarm mode across three hosts: Dockyard's manager and two workers against three of Debian's dockerd (20.10), side
by side in one run, and the time a service takes to get its replica count back after a worker dies (issue 16).

    .venv/bin/python bench/swarm_cluster.py [--rounds 3] [--replicas 6] [--scale 30] [--heartbeat 5]

Each engine gets three namespace hosts of its own (tests/netns_hosts.py: a switch namespace with a bridge, three
host namespaces with a veth on it; the hosts' default route is removed, so nothing they send can leave the LAN and
a registry lookup fails at once, as in bench/swarm.py's lo-only namespace). Dockyard runs `dockyard daemon` on
each; dockerd runs on each with its own data root, exec root, socket, pidfile, cgroup parent and containerd, on
the default bridge of its host. `swarm init --advertise-addr <host> --listen-addr <host>:2377
--dispatcher-heartbeat <heartbeat>` on the first host, the two others `swarm join` as workers, all with the real
docker CLI; busybox (Debian's busybox-static) is loaded into every daemon, never pulled.

Timed with the docker CLI, read back from the manager's API every 50 ms (tasks in state `running`), per round:
`service create -d --replicas 6 --stop-grace-period 0s busybox sleep 1d` until 6 run, `service scale` to 30 and back
to 6 until exactly that many run, `service rm` until no node has a container left. The grace period is 0 s because
`sleep` (pid 1) ignores SIGTERM, so the default 10 s wait, the same on both engines, would dominate every removal
(bench/swarm.py shows it). Then recovery: a fresh 6-replica service, SIGKILL of the last worker's daemon, then of
its runtime (dockerd's containerd and containerd-shims, Dockyard's shims: only processes found through that
instance's own paths) and its task processes — the host died; timed from the kill until the manager shows the node
`down`, and until 6 tasks run on the two other nodes. Both engines mark a node down three heartbeat periods after
its last heartbeat, so two to three periods after the kill, depending on when it last beat (the reason the rounds
differ); swarmkit then waits the service's restart delay (5 s by default) before it starts the replacements,
Dockyard starts them at once. The killed worker is started again (its node `ready` again, timed
as well) before the service is removed, so it cleans up after itself.

Afterwards every worker and the manager leave the swarm, the daemons stop, the namespaces are deleted (with every
link, bridge and VXLAN device in them; dockerd runs with --iptables=false, as in the other benchmarks); the run
says what the daemons left behind (mounts, processes naming their directories, dockerd's cgroup parents), compares
the host's links, named namespaces and rule sets before and after, and says whether they are unchanged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Union
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine import CGROUP_PARENT  # noqa: E402
from netns_hosts import Lan, Netns  # noqa: E402
from swarm import (Docker, Dockyard, check_host_network, children, host_network, medians, rss_mib,  # noqa: E402
                   side_by_side, wait_for)
from swarm_hosts import kill_host  # noqa: E402

SERVICE = "bench"
STEPS = ("create", "scale-up", "scale-down", "rm", "down", "replace", "recover", "rejoin")


def comm(pid: int) -> str:
    """A process's command name ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cmdline(pid: int) -> list[str]:
    """A process's arguments ([] once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def processes() -> list[int]:
    """Every pid on the machine."""
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def sigkill(pids: list[int]) -> None:
    """SIGKILL each pid that still exists."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class DockyardNode(Dockyard):
    """`dockyard daemon` on one host namespace."""

    @property
    def alive(self) -> bool:
        return self.daemon.process is not None

    @property
    def base(self) -> Path:
        return self.daemon.base

    @property
    def log(self) -> Path:
        return self.daemon.log

    def pid(self) -> int:
        assert self.daemon.process is not None
        return self.daemon.process.pid

    def kill(self) -> None:
        """SIGKILL the daemon, then its shims and its containers' processes (tests/swarm_hosts.py's kill_host)."""
        kill_host(self.daemon)


class DockerNode(Docker):
    """dockerd on one host namespace, with a cgroup parent of its own."""

    def __init__(self, netns: Netns, n: int) -> None:
        super().__init__(netns)
        self.dockerd.cgroup_parent = f"{CGROUP_PARENT}-h{n}"

    @property
    def alive(self) -> bool:
        return self.dockerd.proc is not None

    @property
    def base(self) -> Path:
        return self.dockerd.base

    @property
    def log(self) -> Path:
        return self.dockerd.base / "dockerd.log"

    def pid(self) -> int:
        assert self.dockerd.proc is not None
        return self.dockerd.proc.pid

    def kill(self) -> None:
        """SIGKILL dockerd, then its containerd, the containerd-shims that serve that containerd (their `-address` is
        its socket, under this instance's exec root) and its containers' processes."""
        daemon = self.pid()
        runtime = [pid for pid in children(daemon) if comm(pid) == "containerd"]
        address = str(self.dockerd.base / "exec" / "containerd" / "containerd.sock")
        shims = [pid for pid in processes() if comm(pid).startswith("containerd-shim") and address in cmdline(pid)]
        tasks = [self.get(f"/containers/{entry['Id']}/json")["State"]["Pid"] for entry in self.get("/containers/json")]
        if not runtime or len(shims) != len(tasks):
            raise RuntimeError(f"dockerd {daemon}: containerd {runtime}, shims {shims} for containers {tasks}")
        assert self.dockerd.proc is not None
        self.dockerd.proc.kill()
        self.dockerd.proc.wait(10)
        self.dockerd.proc = None
        sigkill(runtime + shims + tasks)


Node = Union[DockyardNode, DockerNode]


class Cluster:
    """One engine's swarm on three namespace hosts: the manager on the first, workers on the two others."""

    def __init__(self, name: str, lan: Lan, nodes: list[Node]) -> None:
        self.name = name
        self.lan = lan
        self.nodes = nodes
        self.ids: list[str] = []

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    def up(self, heartbeat: int) -> None:
        """Start the daemons, load busybox, init and join; return once the three nodes are ready."""
        for node in self.nodes:
            node.start()
            node.load_busybox()
        addresses = [host.address for host in self.lan.hosts]
        self.manager.docker("swarm", "init", "--advertise-addr", addresses[0], "--listen-addr",
                            f"{addresses[0]}:2377", "--dispatcher-heartbeat", f"{heartbeat}s")
        token = self.manager.docker("swarm", "join-token", "-q", "worker").strip()
        for node, address in zip(self.nodes[1:], addresses[1:]):
            node.docker("swarm", "join", "--token", token, "--advertise-addr", address, "--listen-addr",
                        f"{address}:2377", f"{addresses[0]}:2377")
        self.ids = [node.docker("info", "--format", "{{.Swarm.NodeID}}").strip() for node in self.nodes]
        wait_for(lambda: all(self.node_state(node_id) == "ready" for node_id in self.ids), 60)

    def node_state(self, node_id: str) -> str:
        """The manager's view of a node: ready, down, ..."""
        return str(self.manager.get(f"/nodes/{node_id}")["Status"]["State"])

    def running(self, service: str, exclude: str = "") -> list[str]:
        """Node ids of the service's tasks in state running (whatever their desired state), except on `exclude`."""
        filters = quote(json.dumps({"service": {service: True}}))
        return [task["NodeID"] for task in self.manager.get(f"/tasks?filters={filters}")
                if task["Status"]["State"] == "running" and task["NodeID"] != exclude]

    def containers(self) -> int:
        """Containers (any state) on the live nodes."""
        return sum(len(node.get("/containers/json?all=1")) for node in self.nodes if node.alive)

    def create(self, service: str, replicas: int) -> None:
        self.manager.docker("service", "create", "-d", "--name", service, "--replicas", str(replicas),
                            "--stop-grace-period", "0s", "busybox", "sleep", "1d")

    def spread(self, service: str) -> str:
        """Running tasks per node, as n/n/n in host order."""
        placed = self.running(service)
        return "/".join(str(placed.count(node_id)) for node_id in self.ids)

    def down(self, logs: Path | None) -> None:
        """Every node leaves the swarm (a killed one is started again first, so it cleans up) and stops; its log is
        copied into `logs` if given."""
        try:
            for node in reversed(self.nodes):
                if not node.alive:
                    node.start()
                node.docker("swarm", "leave", "--force")
        finally:
            for n, node in enumerate(self.nodes, 1):
                if logs is not None and node.log.exists():
                    shutil.copy(node.log, logs / f"{self.name}-h{n}.log")
                node.stop()


def timed(action: Callable[[], object], until: Callable[[], bool], timeout: float) -> float:
    """Seconds from the start of `action` until `until` holds."""
    start = time.perf_counter()
    action()
    wait_for(until, timeout)
    return time.perf_counter() - start


def measure(cluster: Cluster, replicas: int, scale: int) -> tuple[dict[str, float], dict[str, float], str]:
    """One round's times (s), the control planes' RSS (MiB) while `scale` tasks run, and the first spread."""
    times: dict[str, float] = {}
    times["create"] = timed(lambda: cluster.create(SERVICE, replicas),
                            lambda: len(cluster.running(SERVICE)) == replicas, 120)
    spread = cluster.spread(SERVICE)
    times["scale-up"] = timed(lambda: cluster.manager.docker("service", "scale", "-d", f"{SERVICE}={scale}"),
                              lambda: len(cluster.running(SERVICE)) == scale, 300)
    memory = rss(cluster)
    times["scale-down"] = timed(lambda: cluster.manager.docker("service", "scale", "-d", f"{SERVICE}={replicas}"),
                                lambda: len(cluster.running(SERVICE)) == replicas, 300)
    times["rm"] = timed(lambda: cluster.manager.docker("service", "rm", SERVICE),
                        lambda: cluster.containers() == 0, 300)
    times.update(recovery(cluster, replicas))
    return times, memory, spread


def recovery(cluster: Cluster, replicas: int) -> dict[str, float]:
    """Kill the last worker's host; seconds until the manager shows it down, until `replicas` tasks run on the others,
    and, started again, until it is ready; then the service is removed."""
    service = f"{SERVICE}-recover"
    victim, victim_id = cluster.nodes[-1], cluster.ids[-1]
    cluster.create(service, replicas)
    wait_for(lambda: len(cluster.running(service)) == replicas and victim_id in cluster.running(service), 120)
    times: dict[str, float] = {}
    start = time.perf_counter()
    victim.kill()

    def settled() -> bool:
        if "down" not in times and cluster.node_state(victim_id) == "down":
            times["down"] = time.perf_counter() - start
        return len(cluster.running(service, exclude=victim_id)) == replicas

    wait_for(settled, 300)
    times["recover"] = time.perf_counter() - start
    wait_for(lambda: cluster.node_state(victim_id) == "down", 60)
    times.setdefault("down", time.perf_counter() - start)
    times["replace"] = times["recover"] - times["down"]
    times["rejoin"] = timed(victim.start, lambda: cluster.node_state(victim_id) == "ready", 120)
    cluster.manager.docker("service", "rm", service)
    wait_for(lambda: cluster.containers() == 0, 300)
    return times


def rss(cluster: Cluster) -> dict[str, float]:
    """VmRSS (MiB) of the manager's control plane and of one worker's daemon."""
    manager = cluster.manager
    memory = {f"manager {name}": rss_mib(pid) for name, pid in manager.control_plane().items()}
    memory["worker daemon"] = rss_mib(cluster.nodes[1].pid())
    return memory


def hosts(stack: contextlib.ExitStack, prefix: str) -> Lan:
    """Three namespace hosts on a switch, without a default route: nothing they send leaves their LAN."""
    lan = stack.enter_context(Lan(prefix, hosts_wanted=3))
    for host in lan.hosts:
        host.ip("route", "del", "default")
    return lan


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=6)
    parser.add_argument("--scale", type=int, default=30)
    parser.add_argument("--heartbeat", type=int, default=5, help="Dispatcher heartbeat period (s), both engines")
    parser.add_argument("--logs", type=Path, help="a directory to keep the daemons' logs in")
    parser.add_argument("--without-dockerd", action="store_true", help="Dockyard alone")
    args = parser.parse_args()
    before = host_network()
    began = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="dy-bench-swarm3-"))
    times: dict[str, list[dict[str, float]]] = {}
    memory: dict[str, dict[str, float]] = {}
    spreads: dict[str, str] = {}
    clusters: list[Cluster] = []
    try:
        with contextlib.ExitStack() as stack:
            lan = hosts(stack, "dy-bench-sw3y")
            clusters.append(Cluster("dockyard", lan, [DockyardNode(host, base / f"h{n}")
                                                      for n, host in enumerate(lan.hosts, 1)]))
            if shutil.which("dockerd") and not args.without_dockerd:
                lan = hosts(stack, "dy-bench-sw3d")
                clusters.append(Cluster("dockerd", lan, [DockerNode(host, n) for n, host in enumerate(lan.hosts, 1)]))
            try:
                for cluster in clusters:
                    cluster.up(args.heartbeat)
                    times[cluster.name] = []
                order = list(clusters)
                for _ in range(args.rounds):  # alternate who goes first, so that noise hits both alike
                    for cluster in order:
                        round_times, memory[cluster.name], spread = measure(cluster, args.replicas, args.scale)
                        spreads.setdefault(cluster.name, spread)
                        times[cluster.name].append(round_times)
                    order.reverse()
            finally:
                for cluster in clusters:
                    cluster.down(args.logs)
        left = leftovers(clusters)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(times, memory, spreads, args)
    print(f"run took {time.monotonic() - began:.0f} s; left behind by the daemons: {', '.join(left) or 'nothing'}")
    return check_host_network(before) or (1 if left else 0)


def leftovers(clusters: list[Cluster]) -> list[str]:
    """Mounts, processes and cgroups of the run's daemons still present after they stopped."""
    roots = [str(node.base) for cluster in clusters for node in cluster.nodes]
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
              if any(line.split()[1].startswith(root) for root in roots)]
    alive = [f"pid {pid}" for pid in processes() if any(root in arg for arg in cmdline(pid) for root in roots)]
    parents = [node.dockerd.cgroup_parent for cluster in clusters for node in cluster.nodes
               if isinstance(node, DockerNode)]
    cgroups = [str(path) for parent in parents for path in Path("/sys/fs/cgroup").glob(f"*/{parent}")]
    return mounts + alive + cgroups


def report(times: dict[str, list[dict[str, float]]], memory: dict[str, dict[str, float]], spreads: dict[str, str],
           args: argparse.Namespace) -> None:
    median = medians(times, STEPS)
    labels = {"create": f"service create --replicas {args.replicas} until {args.replicas} running",
              "scale-up": f"service scale {args.scale} until {args.scale} running",
              "scale-down": f"service scale {args.replicas} until {args.replicas} running",
              "rm": "service rm until no container is left",
              "down": "worker killed until its node is down",
              "replace": f"node down until {args.replicas} run on the others",
              "recover": f"worker killed until {args.replicas} run on the others",
              "rejoin": "killed worker started until ready"}
    title = f"swarm, 3 hosts, heartbeat {args.heartbeat} s (median of {args.rounds})"
    print(f"{title:52} dockyard    dockerd   ratio")
    for step in STEPS:
        print(side_by_side(median, step, labels[step], 50))
    print("every round (s): " + "; ".join(f"{name} " + ", ".join(
        f"{step} " + "/".join(f"{r[step]:.2f}" for r in rounds) for step in STEPS) for name, rounds in times.items()))
    print("first spread over the hosts: " + ", ".join(f"{name} {spread}" for name, spread in spreads.items()))
    print(f"RSS with {args.scale} tasks running (MiB, VmRSS):")
    for name, processes in memory.items():
        print(f"  {name:9} " + ", ".join(f"{process} {value:.1f}" for process, value in processes.items()))


if __name__ == "__main__":
    sys.exit(main())
