"""Exit state without a gap (issue 13, item 1): `kill` returns once the exit is recorded, and a forced
removal succeeds whatever moment it lands in (right after an exit, a kill or a start)."""

from __future__ import annotations

import json

from daemon_harness import Daemon

KILL_ROUNDS = 15
REMOVE_ROUNDS = 200


def create(d: Daemon, cmd: list[str]) -> str:
    return d.api("POST", "/containers/create", {"Image": "busybox", "Cmd": cmd,
                                                 "HostConfig": {"NetworkMode": "none"}})["Id"]


def test_docker_kill_then_inspect_shows_exited_137(clean: Daemon, need_docker_cli: None) -> None:
    for round_ in range(KILL_ROUNDS):
        run = clean.docker("run", "-d", "--network", "none", "busybox", "sleep", "100")
        assert run.returncode == 0, run.stderr
        cid = run.stdout.decode().strip()
        kill = clean.docker("kill", cid)
        assert kill.returncode == 0, kill.stderr
        state = json.loads(clean.docker("inspect", cid).stdout)[0]["State"]
        assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 137), (round_, state)
        clean.docker("rm", cid)


def test_kill_of_a_container_that_is_exiting_is_no_error(clean: Daemon) -> None:
    """A SIGKILL that lands while the process ends by itself is a kill (dockerd: no such process is fine)."""
    for _ in range(KILL_ROUNDS):
        cid = create(clean, ["true"])
        clean.api("POST", f"/containers/{cid}/start")
        status, raw = clean.request("POST", f"/containers/{cid}/kill")
        assert status in (204, 409), raw
        if status == 409:  # only once the exit was recorded before the request
            assert b"is not running" in raw
        assert clean.api("GET", f"/containers/{cid}/json")["State"]["Running"] is False
        clean.api("DELETE", f"/containers/{cid}")


def test_start_then_forced_removal_never_refused(clean: Daemon) -> None:
    """200 rounds of start then `rm -f` of short-lived containers: every removal succeeds, none is left."""
    made = []
    for round_ in range(REMOVE_ROUNDS):
        cid = create(clean, ["sh", "-c", "exit 3"] if round_ % 2 else ["sleep", "5"])
        made.append(cid)
        clean.api("POST", f"/containers/{cid}/start")
        status, raw = clean.request("DELETE", f"/containers/{cid}?force=1")
        assert status == 204, (round_, status, raw)
    left = {c["Id"] for c in clean.api("GET", "/containers/json?all=1")} & set(made)
    assert not left, f"{len(left)} containers were left behind"


def test_commit_with_pause_of_a_container_exiting_meanwhile(clean: Daemon) -> None:
    """POST /commit?pause=1 whatever moment the container's exit lands in: the commit succeeds."""
    for _ in range(KILL_ROUNDS):
        cid = create(clean, ["sh", "-c", "echo x > /made; exit 0"])
        clean.api("POST", f"/containers/{cid}/start")
        status, raw = clean.request("POST", f"/commit?container={cid}&pause=1", {})
        assert status == 201, (status, raw)
        clean.request("DELETE", f"/images/{json.loads(raw)['Id']}?force=1")
        clean.api("DELETE", f"/containers/{cid}?force=1")
