"""Restart races (issue 11, items 4 and 5): the daemon SIGKILLed while restart-policy containers exit never
starts one container twice; a restarting container goes `restarting` -> `running`, never through `exited`;
`stop` and `restart` succeed when the process exits exactly at the stop deadline; a create cut short by a
crash leaves no anonymous volume.

The round counts are CI's; the acceptance runs are `RESTORE_ROUNDS=240` and `DEADLINE_ROUNDS=30`."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from daemon_harness import Daemon
from host_probe import container_processes, orphans, rootfs_mounts

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("need_docker_cli")]

RESTORE_ROUNDS = int(os.environ.get("RESTORE_ROUNDS", "30"))
DEADLINE_ROUNDS = int(os.environ.get("DEADLINE_ROUNDS", "8"))
SEED = int(os.environ.get("RACE_SEED", "11"))


def restart_daemon(d: Daemon, sig: int = signal.SIGKILL) -> None:
    d.stop(sig)
    d.start()


def states(d: Daemon) -> dict[str, dict]:
    """Every container's State by id (one inspect each: the list lacks Pid and Restarting)."""
    out = {}
    for entry in d.api("GET", "/containers/json?all=1"):
        status, raw = d.request("GET", f"/containers/{entry['Id']}/json")
        if status == 200:
            out[entry["Id"]] = json.loads(raw)["State"]
    return out


def check_single_runs(d: Daemon, known: set[str], where: str) -> None:
    """At most one init and one rootfs mount per container; no init the daemon does not know as running.

    States are read before processes: an init that exists afterwards belongs to a container that was
    running or restarting (a start that began later is a policy start, from `restarting`)."""
    before = states(d)
    procs = container_processes(d.base)
    mounts = rootfs_mounts(d.base)
    assert set(before) == known, f"{where}: containers lost or appeared: {set(before) ^ known}"
    for cid, found in procs.items():
        assert len(found.inits) <= 1, f"{where}: {cid[:12]} runs {len(found.inits)} inits: {found}"
        if found.inits:
            assert cid in before, f"{where}: an init runs for {cid[:12]}, which has no record"
            assert before[cid]["Running"], f"{where}: {cid[:12]} runs an init but is recorded {before[cid]}"
    for cid, count in mounts.items():
        assert count <= 1, f"{where}: {cid[:12]} has {count} overlay mounts on its rootfs"
        assert cid in before, f"{where}: a rootfs is mounted for {cid[:12]}, which has no record"


def end_clean(d: Daemon, ids: set[str], network_ids: set[str]) -> None:
    """Remove everything (each removal must succeed), stop the daemon, and find nothing left behind."""
    for cid in ids:
        status, raw = d.request("DELETE", f"/containers/{cid}?force=1&v=1")
        assert status == 204, f"rm -f {cid[:12]}: {status} {raw!r}"
    d.stop()
    left = orphans(d.base, ids, network_ids, d.pids)
    assert not left, f"orphaned: {left}"


def bridge_id(d: Daemon) -> str:
    return d.api("GET", "/networks/bridge")["Id"]


# ----- the targeted restore race ---------------------------------------------------------------------


FLAPPERS = [
    # (docker run flags, command): restart-policy containers that exit quickly, on the default network or none
    (["--restart", "always"], "sleep 0.1; exit 1"),
    (["--restart", "always", "--network", "none"], "sleep 0.2; exit 0"),
    (["--restart", "on-failure", "--network", "none"], "sleep 0.05; exit 3"),
    (["--restart", "unless-stopped"], "sleep 0.3; exit 2"),
    (["--restart", "always", "--network", "none"], "exit 1"),
    (["--restart", "on-failure"], "sleep 0.15; exit 1"),
]


def test_sigkill_while_policy_restarts_never_doubles(own_daemon: Daemon) -> None:
    d = own_daemon
    rng = random.Random(SEED)
    ids = set()
    for index in range(12):
        flags, command = FLAPPERS[index % len(FLAPPERS)]
        ids.add(d.docker_ok("run", "-d", *flags, "busybox", "sh", "-c", command))
    for round_ in range(RESTORE_ROUNDS):
        time.sleep(rng.uniform(0.0, 0.5))
        restart_daemon(d)
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:  # restore's restarts and the policy's next ones
            check_single_runs(d, ids, f"round {round_}")
            time.sleep(0.05)
    with sqlite3.connect(f"file:{d.data_root / 'metadata.db'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    end_clean(d, ids, {bridge_id(d)})


def test_restarting_never_shows_exited(own_daemon: Daemon) -> None:
    """Between an exit and the policy's start the container is `restarting` (docker's State.Restarting)."""
    d = own_daemon
    cid = d.docker_ok("run", "-d", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2; exit 1")
    seen: list[str] = []
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        state = d.api("GET", f"/containers/{cid}/json")["State"]
        if not seen or seen[-1] != state["Status"]:
            seen.append(state["Status"])
        assert state["Status"] != "exited", f"shown exited while its policy restarts it: {seen}"
        assert state["Restarting"] == (state["Status"] == "restarting"), state
        time.sleep(0.005)
    assert "restarting" in seen and "running" in seen, seen
    assert d.api("GET", f"/containers/{cid}/json")["RestartCount"] >= 3
    end_clean(d, {cid}, {bridge_id(d)})


# ----- stop and restart at the deadline ---------------------------------------------------------------


def deadline_command(seconds: float) -> list[str]:
    """A container that traps TERM and exits `seconds` later (`wait` returns at the signal at once)."""
    return ["sh", "-c", f'trap "sleep {seconds:.2f}; exit 0" TERM; sleep 1000 & wait']


def test_stop_and_restart_at_the_deadline(own_daemon: Daemon) -> None:
    """`stop -t 1` of a process that exits as the timeout ends: stop succeeds, restart runs it again."""
    d = own_daemon
    ids = set()
    failures = []
    for round_ in range(DEADLINE_ROUNDS):
        delay = 0.90 + 0.01 * (round_ % 10)  # around the deadline: before it, at it, while SIGKILL goes out
        cid = d.docker_ok("run", "-d", "busybox", *deadline_command(delay))
        ids.add(cid)
        time.sleep(0.2)
        result = d.docker("stop", "-t", "1", cid)
        state = d.api("GET", f"/containers/{cid}/json")["State"]
        if result.returncode != 0 or state["Running"]:
            failures.append(f"stop round {round_} ({delay:.2f}s): rc {result.returncode} "
                            f"{result.stderr.decode().strip()} {state['Status']}")
        d.docker_ok("start", cid)
        time.sleep(0.2)
        before = d.api("GET", f"/containers/{cid}/json")["State"]
        result = d.docker("restart", "-t", "1", cid)
        after = d.api("GET", f"/containers/{cid}/json")["State"]
        if result.returncode != 0 or not after["Running"] or after["StartedAt"] == before["StartedAt"]:
            failures.append(f"restart round {round_} ({delay:.2f}s): rc {result.returncode} "
                            f"{result.stderr.decode().strip()} {after['Status']}")
        answers = [d.request("POST", f"/containers/{cid}/stop?t=0")[0] for _ in range(2)]
        if answers != [204, 304]:  # 304 only when it was stopped before the request
            failures.append(f"stop -t 0 round {round_}: {answers}")
    assert not failures, "\n".join(failures)
    end_clean(d, ids, {bridge_id(d)})


# ----- a create cut short by a crash ------------------------------------------------------------------


def test_crash_during_create_leaves_no_anonymous_volume(own_daemon: Daemon) -> None:
    """A create SIGKILLed after its anonymous volume was made but before the container was recorded: the
    volume (referenced only by an id that never got a record) is removed at start-up; volumes of recorded
    containers, and an anonymous volume a `docker rm` without -v left, are kept."""
    d = own_daemon
    kept_cid = d.docker_ok("create", "-v", "/data", "busybox", "true")
    kept_volume = d.api("GET", f"/containers/{kept_cid}/json")["Mounts"][0]["Name"]
    gone_cid = d.docker_ok("create", "-v", "/data", "busybox", "true")
    dangling = d.api("GET", f"/containers/{gone_cid}/json")["Mounts"][0]["Name"]
    d.docker_ok("rm", gone_cid)  # docker keeps anonymous volumes without -v
    d.stop(signal.SIGKILL)
    # what the killed create left: an anonymous volume referenced by an id with no record
    ghost, ghost_volume = "e" * 64, "f" * 64
    (d.data_root / "volumes" / ghost_volume / "_data").mkdir(parents=True)
    doc = {"Name": ghost_volume, "Driver": "local", "Labels": {"com.docker.volume.anonymous": ""},
           "Options": None, "CreatedAt": "2024-01-01T00:00:00Z"}
    with sqlite3.connect(d.data_root / "metadata.db") as db:
        db.execute("INSERT INTO volumes(name, doc, users) VALUES (?, ?, ?)",
                   (ghost_volume, json.dumps(doc), json.dumps([ghost])))
    d.start()
    names = {v["Name"] for v in d.api("GET", "/volumes")["Volumes"] or []}
    assert ghost_volume not in names and not (d.data_root / "volumes" / ghost_volume).exists()
    assert {kept_volume, dangling} <= names
    assert d.api("GET", f"/volumes/{kept_volume}") and d.docker_ok("rm", "-v", kept_cid)
    names = {v["Name"] for v in d.api("GET", "/volumes")["Volumes"] or []}
    assert kept_volume not in names
    d.docker_ok("volume", "rm", dangling)
    end_clean(d, set(), set())
    assert not any(Path(d.data_root / "volumes").iterdir())
