"""Chaos (issue 11, item 8): clients create, start, stop, restart, kill and remove containers while restart-policy
containers exit quickly, and the daemon is SIGKILLed at random moments.

After every restart (the clients paused) and at the end: no container lost (every create answered 201
exists unless a removal of it was answered 2xx), none doubled (ids and names unique, nothing unasked-for
appears), none running twice (one init per container, counted in /proc under its shim; one overlay mount
on its rootfs), nothing running or mounted that the daemon records as stopped, and every answer was one
the API allows. At the end, after removing everything and stopping the daemon: no mount, cgroup, veth,
pinned namespace, shim or init left, and no volume.

CI runs CHAOS_KILLS=12; the acceptance run is CHAOS_KILLS=50."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from daemon_harness import Daemon, destroy, new_daemon
from host_probe import cgroup_dirs, container_processes, host_links, orphans, pinned_netns, rootfs_mounts, veth_name

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("need_docker_cli")]

KILLS = int(os.environ.get("CHAOS_KILLS", "12"))
SEED = int(os.environ.get("CHAOS_SEED", "1011"))
CLIENTS = 3
POOL = 5  # containers a client keeps at most
NO_ANSWER = -1

FLAPPERS = [
    (["--restart", "always"], "sleep 0.1; exit 1"),
    (["--restart", "always", "--network", "none"], "exit 0"),
    (["--restart", "on-failure"], "sleep 0.3; exit 1"),
    (["--restart", "unless-stopped", "-v", "/data"], "sleep 0.2; exit 2"),
]

BODIES: list[dict[str, Any]] = [
    {"Image": "busybox", "Cmd": ["sleep", "600"]},
    {"Image": "busybox", "Cmd": ["sleep", "600"], "HostConfig": {"NetworkMode": "none"}},
    {"Image": "busybox", "Cmd": ["sleep", "600"], "Volumes": {"/data": {}}},
    {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 0.2; exit 1"],
     "HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 4}}},
    {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 0.3"], "HostConfig": {"RestartPolicy": {"Name": "always"}}},
    {"Image": "busybox", "Cmd": ["sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done']},
]

# what each operation may answer when no other client touches the container (a kill of a stopped one: 409)
ALLOWED = {"create": {201}, "start": {204, 304}, "stop": {204, 304}, "restart": {204}, "kill": {204, 409},
           "delete": {204}}


@dataclass
class Ledger:
    """What the clients were told, to hold the daemon to it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    confirmed: dict[str, str] = field(default_factory=dict)  # id -> name: create answered 201
    maybe_created: set[str] = field(default_factory=set)  # names of creates that got no answer
    deleted: set[str] = field(default_factory=set)  # removal answered 2xx
    maybe_deleted: set[str] = field(default_factory=set)  # removal that got no answer
    unexpected: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # every container id ever known (for the orphan checks)
    operations: int = 0


class Gate:
    """Lets the test pause the clients between two operations and wait until none is mid-request."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._paused = False
        self._busy = 0
        self.stopping = False

    def enter(self) -> bool:
        with self._cond:
            while self._paused and not self.stopping:
                self._cond.wait()
            if self.stopping:
                return False
            self._busy += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            while self._busy:
                self._cond.wait()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self.stopping = True
            self._cond.notify_all()


class Client(threading.Thread):
    """One API user with its own containers (no two clients touch the same one)."""

    def __init__(self, d: Daemon, index: int, ledger: Ledger, gate: Gate, seed: int) -> None:
        super().__init__(daemon=True, name=f"chaos-client-{index}")
        self.d, self.index, self.ledger, self.gate = d, index, ledger, gate
        self.rng = random.Random(seed)
        self.own: list[str] = []
        self.created = 0
        self.error: BaseException | None = None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        try:
            return self.d.request(method, path, body, timeout=60)
        except (OSError, http.client.HTTPException):
            return NO_ANSWER, b""  # the daemon died under the request (or is down)

    def note(self, op: str, status: int, raw: bytes, target: str) -> None:
        if status != NO_ANSWER and status not in ALLOWED[op]:
            with self.ledger.lock:
                self.ledger.unexpected.append(f"{op} {target[:12]}: {status} {raw[:200]!r}")

    def run(self) -> None:
        try:
            while self.gate.enter():
                try:
                    answered = self.step()
                finally:
                    self.gate.leave()
                time.sleep(0.01 if answered else 0.05)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error

    def step(self) -> bool:
        with self.ledger.lock:
            self.ledger.operations += 1
        if not self.own or (len(self.own) < POOL and self.rng.random() < 0.3):
            return self.create()
        cid = self.rng.choice(self.own)
        op = self.rng.choices(["start", "stop", "restart", "kill", "delete"], [4, 3, 2, 1, 2])[0]
        if op == "delete":
            status, raw = self.call("DELETE", f"/containers/{cid}?force=1&v=1")
            self.own.remove(cid)
            with self.ledger.lock:
                if 200 <= status < 300:
                    self.ledger.deleted.add(cid)
                elif status == NO_ANSWER:
                    self.ledger.maybe_deleted.add(cid)
                else:
                    self.own.append(cid)
        elif op in ("stop", "restart"):
            status, raw = self.call("POST", f"/containers/{cid}/{op}?t={self.rng.choice([0, 1])}")
        elif op == "kill":
            status, raw = self.call("POST", f"/containers/{cid}/kill")
        else:
            status, raw = self.call("POST", f"/containers/{cid}/start")
        self.note(op, status, raw, cid)
        return status != NO_ANSWER

    def create(self) -> bool:
        self.created += 1
        name = f"chaos-{self.index}-{self.created}"
        status, raw = self.call("POST", f"/containers/create?name={name}", self.rng.choice(BODIES))
        self.note("create", status, raw, name)
        with self.ledger.lock:
            if status == 201:
                cid = json.loads(raw)["Id"]
                self.ledger.confirmed[cid] = name
                self.ledger.seen.add(cid)
                self.own.append(cid)
            elif status == NO_ANSWER:
                self.ledger.maybe_created.add(name)
        return status != NO_ANSWER


def listing(d: Daemon) -> list[dict[str, Any]]:
    return d.api("GET", "/containers/json?all=1")


def settle_unknowns(d: Daemon, ledger: Ledger, clients: list[Client]) -> None:
    """Creates and removals that got no answer: what the daemon now lists says how they ended."""
    by_name = {e["Names"][0].lstrip("/"): e["Id"] for e in listing(d)}
    ids = set(by_name.values())
    with ledger.lock:
        for name in ledger.maybe_created:
            if name in by_name:
                cid = by_name[name]
                ledger.confirmed[cid] = name
                ledger.seen.add(cid)
                clients[int(name.split("-")[1])].own.append(cid)
        ledger.maybe_created.clear()
        for cid in ledger.maybe_deleted:
            if cid in ids:
                clients[int(ledger.confirmed[cid].split("-")[1])].own.append(cid)
            else:
                ledger.deleted.add(cid)
        ledger.maybe_deleted.clear()


def check(d: Daemon, ledger: Ledger, flappers: set[str], network_id: str, where: str) -> None:
    """The invariants, with the clients paused. Records are read before the host: what runs afterwards runs
    for a container recorded running or restarting (only a policy starts anything now, from `restarting`)."""
    entries = listing(d)
    ids = [e["Id"] for e in entries]
    names = [e["Names"][0] for e in entries]
    assert len(ids) == len(set(ids)), f"{where}: a container listed twice: {ids}"
    assert len(names) == len(set(names)), f"{where}: a name listed twice: {names}"
    with ledger.lock:
        expected = (set(ledger.confirmed) - ledger.deleted) | flappers
    assert set(ids) == expected, (f"{where}: lost {sorted(c[:12] for c in expected - set(ids))}, "
                                  f"unasked-for {sorted(c[:12] for c in set(ids) - expected)}")
    states = {}
    for cid in ids:
        status, raw = d.request("GET", f"/containers/{cid}/json")
        assert status == 200, f"{where}: inspect {cid[:12]}: {status} {raw!r}"
        states[cid] = json.loads(raw)["State"]
    procs = container_processes(d.base)
    mounts = rootfs_mounts(d.base)
    pins = pinned_netns(d.base)
    links = host_links()
    problems = []
    for cid, found in procs.items():
        if len(found.inits) > 1:
            problems.append(f"{cid[:12]} runs {len(found.inits)} inits")
        if found.inits and not (cid in states and states[cid]["Running"]):
            problems.append(f"{cid[:12]} runs an init but is recorded {states.get(cid, 'nowhere')}")
    for cid, count in mounts.items():
        if count > 1:
            problems.append(f"{cid[:12]} has {count} overlay mounts on its rootfs")
    for cid, state in states.items():
        if state["Running"]:
            continue
        if mounts.get(cid):
            problems.append(f"{cid[:12]} is {state['Status']} but its rootfs is mounted")
        if cid[:12] in pins:
            problems.append(f"{cid[:12]} is {state['Status']} but its network namespace is pinned")
        if veth_name(cid, network_id) in links:
            problems.append(f"{cid[:12]} is {state['Status']} but its veth exists")
        if cgroup_dirs(cid):
            problems.append(f"{cid[:12]} is {state['Status']} but its cgroup exists")
    for cid in ledger.seen - set(states):
        if cid in procs or mounts.get(cid) or cgroup_dirs(cid) or cid[:12] in pins:
            problems.append(f"removed {cid[:12]} left processes, mounts or a cgroup")
    assert not problems, f"{where}: " + "; ".join(problems)
    with ledger.lock:
        assert not ledger.unexpected, f"{where}: unexpected answers: {ledger.unexpected}"


def test_daemon_sigkilled_under_load() -> None:
    rng = random.Random(SEED)
    d = new_daemon()
    d.start()
    pids = {d.process.pid}
    ledger = Ledger()
    gate = Gate()
    clients: list[Client] = []
    try:
        d.load_busybox()
        network_id = d.api("GET", "/networks/bridge")["Id"]
        flappers = set()
        for flags, command in FLAPPERS:
            result = d.docker("run", "-d", *flags, "busybox", "sh", "-c", command)
            assert result.returncode == 0, result.stderr
            flappers.add(result.stdout.decode().strip())
        ledger.seen |= flappers
        clients = [Client(d, i, ledger, gate, rng.randrange(1 << 30)) for i in range(CLIENTS)]
        for client in clients:
            client.start()
        for kill in range(KILLS):
            time.sleep(rng.uniform(0.3, 2.0))
            d.stop(signal.SIGKILL)
            d.start()
            pids.add(d.process.pid)
            gate.pause()
            try:
                settle_unknowns(d, ledger, clients)
                check(d, ledger, flappers, network_id, f"after kill {kill + 1}")
            finally:
                gate.resume()
        time.sleep(1.0)
        gate.pause()
        check(d, ledger, flappers, network_id, "at the end")
        gate.stop()
        for client in clients:
            client.join(60)
            assert client.error is None, f"{client.name}: {client.error!r}"
        everything = {e["Id"] for e in listing(d)}
        for cid in everything:
            status, raw = d.request("DELETE", f"/containers/{cid}?force=1&v=1")
            assert status == 204, f"rm -f {cid[:12]}: {status} {raw!r}"
        assert listing(d) == []
        volumes = d.api("GET", "/volumes")["Volumes"] or []
        assert volumes == [], f"volumes left: {[v['Name'] for v in volumes]}"
        assert ledger.operations > 20 * KILLS, ledger.operations  # the clients did work between the kills
        d.stop()
        left = orphans(d.base, ledger.seen, {network_id}, pids)
        assert not left, f"orphaned after the daemon stopped: {left}"
    except BaseException:
        kept = Path(tempfile.gettempdir()) / f"dockyard-chaos-{SEED}.log"
        shutil.copy(d.log, kept)
        print(f"daemon log kept at {kept}")
        raise
    finally:
        gate.stop()
        if d.process is None:
            d.start()
        d.remove_all_containers()
        destroy(d)
