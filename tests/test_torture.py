"""Torture: SIGKILL a daemon at random moments while containers restart and get health-checked; after each
restart every container is accounted for, none runs twice, no mount or cgroup is orphaned, the db is sound."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from daemon_harness import Daemon, destroy, new_daemon
from host_probe import cgroup_dirs, mounts_under

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("need_docker_cli")]

KILLS = 24
CONTAINERS = {
    # name: (docker run flags, command, settles running)
    "t-always": (["--restart", "always"], ["sleep", "1001"], True),
    "t-flap": (["--restart", "on-failure"], ["sh", "-c", "sleep 0.3; exit 1"], None),
    "t-healthy": (["--restart", "unless-stopped", "--health-cmd", "true", "--health-interval", "150ms"],
                  ["sleep", "1003"], True),
    "t-unhealthy": (["--restart", "on-unhealthy", "--health-cmd", "false", "--health-interval", "150ms",
                     "--health-retries", "1"], ["sleep", "1004"], None),
    "t-stopped": (["--restart", "unless-stopped"], ["sleep", "1005"], False),
}


def processes_with_cmdline(argv: list[str]) -> list[int]:
    """Host pids whose command line is exactly argv."""
    wanted = ("\0".join(argv) + "\0").encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes() == wanted:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def docs(d: Daemon) -> dict[str, dict]:
    return {c["Name"].lstrip("/"): c for c in (d.api("GET", f"/containers/{e['Id']}/json")
                                             for e in d.api("GET", "/containers/json?all=1"))}


def check_consistent(d: Daemon, ids: dict[str, str]) -> None:
    """Every container known, none twice, mounts and cgroups only for running ones, db intact."""
    current = docs(d)
    assert set(current) == set(CONTAINERS)
    for name, doc in current.items():
        assert doc["Id"] == ids[name]
        command = CONTAINERS[name][1]
        if command[0] == "sleep":
            assert len(processes_with_cmdline(command)) <= 1, f"{name} runs twice"
    running = {doc["Id"] for doc in current.values() if doc["State"]["Running"] and doc["State"]["Pid"]}
    # states are read before mounts: a container `restarting` then may be started (mounted) by its policy
    # by the time the mounts are listed; one stopped for good never is
    restarting = {doc["Id"] for doc in current.values() if doc["State"]["Restarting"]}
    mounted = {Path(m).parent.name for m in mounts_under(d.base) if m.endswith("/rootfs")}
    assert mounted <= running | restarting, f"orphaned mounts: {mounted - running - restarting}"
    for name, doc in current.items():
        if doc["Id"] not in running and not doc["State"]["Restarting"]:
            assert not cgroup_dirs(doc["Id"]), f"orphaned cgroup of {name}"
    with sqlite3.connect(f"file:{d.data_root / 'metadata.db'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def wait_state(d: Daemon, name: str, running: bool, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        doc = d.api("GET", f"/containers/{name}/json")
        if doc["State"]["Running"] == running and (not running or doc["State"]["Pid"]):
            return doc
        assert time.monotonic() < deadline, f"{name}: {doc['State']}"
        time.sleep(0.1)


def test_daemon_sigkill_torture() -> None:
    rng = random.Random(int(os.environ.get("TORTURE_SEED", "8")))
    d = new_daemon()
    d.start()
    ids: dict[str, str] = {}
    try:
        d.load_busybox()
        for name, (flags, command, _) in CONTAINERS.items():
            result = d.docker("run", "-d", "--name", name, *flags, "busybox", *command)
            assert result.returncode == 0, result.stderr
            ids[name] = result.stdout.decode().strip()
        assert d.docker("stop", "-t", "0", "t-stopped").returncode == 0
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.0, 0.6))
            d.stop(signal.SIGKILL)
            d.start()
            check_consistent(d, ids)
        for name, (_, command, settles) in CONTAINERS.items():
            if settles is not None:
                doc = wait_state(d, name, settles)
                if settles:
                    assert processes_with_cmdline(command) == [doc["State"]["Pid"]]
        assert d.docker("stop", "-t", "0", "t-flap", "t-unhealthy").returncode == 0
        check_consistent(d, ids)
        health = d.api("GET", "/containers/t-healthy/json")["State"]["Health"]
        assert health["Status"] in ("starting", "healthy") and len(health["Log"]) <= 5
    finally:
        d.remove_all_containers()
        destroy(d)
    for name, container_id in ids.items():
        assert not cgroup_dirs(container_id), f"cgroup of {name} left behind"
        assert not processes_with_cmdline(CONTAINERS[name][1]) or CONTAINERS[name][1][0] != "sleep"
