"""Swarm service latency: Dockyard's swarm mode against Debian's dockerd's (20.10), side by side in one run.

    .venv/bin/python bench/swarm.py [--rounds 3] [--replicas 10] [--scale 30]

Target (issue 14): at most half of dockerd's time for each step, timed with the real docker CLI and read back
from the API every 50 ms (never from the CLI's progress): `docker service create -d --replicas 10 busybox sleep
1d` until 10 tasks run, `docker service scale -d x=30` until 30 run, `docker service rm` until the daemon has no
container left (`/containers/json?all=1`: a stopped task container not yet removed still counts). `sleep` is pid 1
and ignores SIGTERM, so both engines wait the default 10 s stop grace period before SIGKILL; a fourth step removes
30 tasks created with `--stop-grace-period 0s` to show what removal costs beyond that wait. Memory (VmRSS) is read
after the scale, while 30 tasks run: Dockyard's daemon and its etcd member; dockerd, whose raft and store run inside
it (its containerd is shown but not counted: the runtime, like Dockyard's shims, which are not counted either).

Each daemon runs in a network namespace of its own made here, with only `lo` in it, and on its default bridge
(task containers get a veth each on both). Swarm mode makes bridges (`docker_gwbridge`), the ingress sandbox,
VXLAN devices and sockets: dockerd listens on 127.0.0.1:2377 (`--listen-addr`) and 127.0.0.1:7946 (gossip), and
its kernel VXLAN socket on 0.0.0.0:4789 cannot be bound to an address, so the namespace is what keeps it off the
host's network. Deleting the namespaces removes whatever either daemon left in them; the run compares the host's
links, named namespaces and rule sets before and after and says whether they are unchanged.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_harness import REPO, UnixHTTPConnection  # noqa: E402
from engine import Dockerd  # noqa: E402
from netns_hosts import Netns, NetnsDaemon, retire  # noqa: E402

SERVICE = "bench"
SWARM_PORT = 2377
STEPS = ("create", "scale", "rm", "rm-nograce")


class Engine:
    """One private daemon in its own network namespace, in swarm mode, that the docker CLI drives."""

    name = ""

    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the daemon by its pid and remove what it made."""
        raise NotImplementedError

    def control_plane(self) -> dict[str, int]:
        """The control plane's processes, by what they are: pid."""
        raise NotImplementedError

    def docker(self, *args: str) -> str:
        """The real docker CLI against this daemon; stdout."""
        result = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def get(self, path: str) -> Any:
        """GET an API answer (decoded JSON)."""
        conn = UnixHTTPConnection(str(self.socket), timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body!r}")
        return json.loads(body)

    def running_tasks(self, service: str = SERVICE) -> int:
        """Tasks of a service that are running and meant to."""
        filters = quote(json.dumps({"service": {service: True}}))
        return sum(1 for task in self.get(f"/tasks?filters={filters}")
                   if task["Status"]["State"] == "running" and task["DesiredState"] == "running")

    def containers(self) -> int:
        return len(self.get("/containers/json?all=1"))

    def load_busybox(self) -> None:
        subprocess.run([sys.executable, "-m", "dockyard.tools.busybox_image", "--host", f"unix://{self.socket}"],
                       check=True, capture_output=True, timeout=120, cwd=REPO)

    def swarm_init(self) -> None:
        self.docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", f"127.0.0.1:{SWARM_PORT}")


class Dockyard(Engine):
    name = "dockyard"

    def __init__(self, netns: Netns, base: Path) -> None:
        self.daemon = NetnsDaemon(netns, base)
        super().__init__(self.daemon.socket, self.daemon.env())

    def start(self) -> None:
        self.daemon.start()

    def control_plane(self) -> dict[str, int]:
        assert self.daemon.process is not None
        etcd = int((self.daemon.exec_root / "swarm" / "etcd.pid").read_text())
        return {"daemon": self.daemon.process.pid, "etcd member": etcd}

    def stop(self) -> None:
        retire(self.daemon, self.daemon.base)


class SwarmDockerd(Dockerd):
    """engine.Dockerd inside a network namespace."""

    def __init__(self, netns: Netns) -> None:
        super().__init__()
        self.netns = netns

    def command_prefix(self) -> list[str]:
        return self.netns.prefix()

    def network_flags(self) -> list[str]:
        """Its default bridge (docker0 in the namespace), as Dockyard's: task containers get a veth each on both."""
        return []


class Docker(Engine):
    name = "dockerd"

    def __init__(self, netns: Netns) -> None:
        self.dockerd = SwarmDockerd(netns)
        super().__init__(self.dockerd.sock, self.dockerd.env())

    def start(self) -> None:
        self.dockerd.start()

    def control_plane(self) -> dict[str, int]:
        assert self.dockerd.proc is not None
        return {"dockerd (swarmkit inside)": self.dockerd.proc.pid}

    def runtime(self) -> dict[str, int]:
        """dockerd's own containerd (not the control plane: shown apart)."""
        assert self.dockerd.proc is not None
        return {"containerd (runtime, not counted)": pid for pid in children(self.dockerd.proc.pid)
                if Path(f"/proc/{pid}/comm").read_text().strip() == "containerd"}

    def stop(self) -> None:
        self.dockerd.stop()


def children(pid: int) -> list[int]:
    """Direct children of a process."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def rss_mib(pid: int) -> float:
    """Resident set size of a process (VmRSS), in MiB."""
    match = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    assert match, pid
    return int(match.group(1)) / 1024


def wait_for(what: Callable[[], bool], timeout: float) -> None:
    """Poll the API until `what` holds (every 50 ms: polling faster measurably slows both daemons)."""
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.05)


def measure(engine: Engine, replicas: int, scale: int) -> tuple[dict[str, float], dict[str, float]]:
    """The three times (s) and, after the scale, the control plane's RSS (MiB) by process."""
    times: dict[str, float] = {}
    start = time.perf_counter()
    engine.docker("service", "create", "-d", "--name", SERVICE, "--replicas", str(replicas), "busybox",
                  "sleep", "1d")
    wait_for(lambda: engine.running_tasks() == replicas, 120)
    times["create"] = time.perf_counter() - start
    start = time.perf_counter()
    engine.docker("service", "scale", "-d", f"{SERVICE}={scale}")
    wait_for(lambda: engine.running_tasks() == scale, 300)
    times["scale"] = time.perf_counter() - start
    memory = {name: rss_mib(pid) for name, pid in engine.control_plane().items()}
    if isinstance(engine, Docker):
        memory.update({name: rss_mib(pid) for name, pid in engine.runtime().items()})
    start = time.perf_counter()
    engine.docker("service", "rm", SERVICE)
    wait_for(lambda: engine.containers() == 0, 300)
    times["rm"] = time.perf_counter() - start
    times["rm-nograce"] = remove_without_grace(engine, scale)
    return times, memory


def remove_without_grace(engine: Engine, replicas: int) -> float:
    """`service rm` of `replicas` tasks whose stop grace period is 0 s, until no container is left: what removal
    costs beyond the 10 s that `sleep` (pid 1, so SIGTERM does nothing) makes both engines wait by default."""
    name = f"{SERVICE}-nograce"
    engine.docker("service", "create", "-d", "--name", name, "--replicas", str(replicas), "--stop-grace-period", "0s",
                  "busybox", "sleep", "1d")
    wait_for(lambda: engine.running_tasks(name) == replicas, 300)
    start = time.perf_counter()
    engine.docker("service", "rm", name)
    wait_for(lambda: engine.containers() == 0, 300)
    return time.perf_counter() - start


def host_network() -> dict[str, str]:
    """What the host's network looks like: links, named namespaces, nftables and iptables rule sets."""
    def out(*argv: str) -> str:
        result = subprocess.run(list(argv), capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else f"({argv[0]} failed: {result.stderr.strip()})"
    iptables = [line for line in out("iptables-save").splitlines() if not line.startswith("#")]
    return {"ip -o link": out("ip", "-o", "link"), "ip netns": out("ip", "netns"),
            "nft list ruleset": out("nft", "list", "ruleset"),
            "iptables-save": re.sub(r"\[\d+:\d+\]", "", "\n".join(iptables))}


class Namespaces:
    """Bare network namespaces (only `lo`, up) made for the run and deleted after it."""

    def __init__(self) -> None:
        self.made: list[Netns] = []

    def new(self, name: str) -> Netns:
        netns = Netns(f"dy-bench-swarm-{secrets.token_hex(2)}-{name}")
        subprocess.run(["ip", "netns", "add", netns.name], check=True, capture_output=True)
        self.made.append(netns)
        netns.ip("link", "set", "lo", "up")
        return netns

    def __iter__(self) -> Iterator[Netns]:
        return iter(self.made)

    def delete(self) -> None:
        for netns in self.made:
            subprocess.run(["ip", "netns", "delete", netns.name], check=True, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--scale", type=int, default=30)
    args = parser.parse_args()
    before = host_network()
    namespaces = Namespaces()
    engines: list[Engine] = []
    base = Path(tempfile.mkdtemp(prefix="dy-bench-swarm-"))
    times: dict[str, list[dict[str, float]]] = {}
    memory: dict[str, dict[str, float]] = {}
    try:
        engines.append(Dockyard(namespaces.new("dy"), base / "dockyard"))
        if shutil.which("dockerd"):
            engines.append(Docker(namespaces.new("dd")))
        for engine in engines:
            engine.start()
            engine.load_busybox()
            engine.swarm_init()
            times[engine.name] = []
        order = list(engines)
        for _ in range(args.rounds):  # alternate who goes first, so that noise hits both alike
            for engine in order:
                step_times, memory[engine.name] = measure(engine, args.replicas, args.scale)
                times[engine.name].append(step_times)
            order.reverse()
    finally:
        for engine in engines:
            try:
                engine.docker("swarm", "leave", "--force")
            finally:
                engine.stop()
        namespaces.delete()
        shutil.rmtree(base, ignore_errors=True)
    report(times, memory, args)
    return check_host_network(before)


def check_host_network(before: dict[str, str]) -> int:
    """Say whether the host's network is as `before` (host_network()) says it was; 1 if not."""
    after = host_network()
    changed = [name for name in before if before[name] != after[name]]
    print(f"host network after the run ({', '.join(before)} compared): {'changed' if changed else 'unchanged'}")
    for name in changed:  # another process may have changed it meanwhile: show what, so one can tell
        old, new = set(before[name].splitlines()), set(after[name].splitlines())
        lines = [f"- {line}" for line in sorted(old - new)] + [f"+ {line}" for line in sorted(new - old)]
        print(f"  {name}: " + "; ".join(lines))
    return 1 if changed else 0


def medians(times: dict[str, list[dict[str, float]]], steps: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Each engine's median time of each step over its rounds."""
    return {name: {step: statistics.median(r[step] for r in rounds) for step in steps} for name, rounds in times.items()}


def side_by_side(median: dict[str, dict[str, float]], step: str, label: str, width: int) -> str:
    """One step's row: Dockyard's time, dockerd's (or "absent") and their ratio."""
    ours = median["dockyard"][step]
    theirs = median.get("dockerd", {}).get(step)
    ratio = f"{ours / theirs:.2f}" if theirs else "n/a"
    theirs_text = f"{theirs:8.2f} s" if theirs else "  absent"
    return f"  {label:{width}} {ours:8.2f} s {theirs_text} {ratio:>7}"


def report(times: dict[str, list[dict[str, float]]], memory: dict[str, dict[str, float]],
           args: argparse.Namespace) -> None:
    median = medians(times, STEPS)
    labels = {"create": f"service create --replicas {args.replicas} until {args.replicas} running",
              "scale": f"service scale {args.scale} until {args.scale} running",
              "rm": "service rm until no container is left",
              "rm-nograce": f"the same, {args.scale} tasks, --stop-grace-period 0s"}
    print(f"{f'swarm, one node (median of {args.rounds} round(s))':48} dockyard    dockerd   ratio  target")
    for step in STEPS:
        target = "<= 0.50" if step in ("create", "scale", "rm") else ""
        print(f"{side_by_side(median, step, labels[step], 46)}  {target}")
    print(f"RSS with {args.scale} tasks running (MiB, VmRSS):")
    for name, processes in memory.items():
        counted = sum(value for process, value in processes.items() if "not counted" not in process)
        parts = ", ".join(f"{process} {value:.1f}" for process, value in processes.items())
        print(f"  {name:9} control plane {counted:6.1f}  ({parts})")


if __name__ == "__main__":
    sys.exit(main())
