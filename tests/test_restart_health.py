"""Restart policies and healthchecks through the real docker CLI, and across a daemon SIGKILL."""

from __future__ import annotations

import functools
import os
import signal
import time

import pytest

import helpers
from daemon_harness import Daemon, destroy, new_daemon

pytestmark = pytest.mark.usefixtures("need_docker_cli")

wait_for = functools.partial(helpers.wait_for, timeout=15.0)  # restart back-off makes every wait here longer


def test_policy_validation(clean: Daemon) -> None:
    status, body = clean.request("POST", "/containers/create", {
        "Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}})
    assert status == 400 and b"invalid restart policy" in body
    status, body = clean.request("POST", "/containers/create", {
        "Image": "busybox", "HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}})
    assert status == 400 and b"can't create 'AutoRemove' container with restart policy" in body
    status, body = clean.request("POST", "/containers/create", {
        "Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}})
    assert status == 400 and b"maximum retry count can only be used with 'on-failure'" in body
    status, body = clean.request("POST", "/containers/create", {
        "Image": "busybox", "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5}})
    assert status == 400 and b"Interval in Healthcheck cannot be less than 1ms" in body


def test_always_comes_back_after_kill_9(clean: Daemon) -> None:
    clean.docker_ok("run", "-d", "--name", "rh-always", "--restart", "always", "busybox", "sleep", "300")
    pid = clean.inspect("rh-always")["State"]["Pid"]
    os.kill(pid, signal.SIGKILL)
    info = wait_for(lambda: (i := clean.inspect("rh-always"))["State"]["Pid"] not in (0, pid) and i,
                    what="restart after kill -9")
    assert info["State"]["Running"] and info["RestartCount"] == 1
    # `docker stop` never restarts
    clean.docker_ok("stop", "-t", "1", "rh-always")
    time.sleep(0.5)
    info = clean.inspect("rh-always")
    assert info["State"]["Status"] == "exited" and info["RestartCount"] == 1
    # a manual start resets the count
    clean.docker_ok("start", "rh-always")
    assert clean.inspect("rh-always")["RestartCount"] == 0


def test_on_failure_limit_and_backoff(clean: Daemon) -> None:
    since = str(time.time() - 1)
    clean.docker_ok("run", "-d", "--name", "rh-fail", "--restart", "on-failure:3", "busybox", "sh", "-c", "exit 3")
    # 100 + 200 + 400 ms of back-off, then it stays exited
    info = wait_for(lambda: (i := clean.inspect("rh-fail"))["State"]["Status"] == "exited"
                    and i["RestartCount"] == 3 and i, what="three restarts")
    assert info["State"]["ExitCode"] == 3 and info["HostConfig"]["RestartPolicy"] == {
        "Name": "on-failure", "MaximumRetryCount": 3}
    time.sleep(1.0)
    assert clean.inspect("rh-fail")["RestartCount"] == 3
    events = clean.docker_ok("events", "--since", since, "--until", str(time.time()), "--filter",
                    "container=rh-fail", "--format", "{{.Action}}")
    assert events.splitlines().count("restart") == 3
    assert events.splitlines().count("die") == 4
    clean.docker_ok("run", "-d", "--name", "rh-ok", "--restart", "on-failure", "busybox", "true")
    time.sleep(0.5)
    info = clean.inspect("rh-ok")
    assert info["State"]["Status"] == "exited" and info["RestartCount"] == 0


def test_restarting_state_is_visible(clean: Daemon) -> None:
    clean.docker_ok("run", "-d", "--name", "rh-loop", "--restart", "always", "busybox", "false")
    # the back-off doubles: after a few quick failures the container waits long enough to be seen
    wait_for(lambda: clean.inspect("rh-loop")["RestartCount"] >= 5, what="five restarts")
    info = wait_for(lambda: (i := clean.inspect("rh-loop"))["State"]["Restarting"] and i, what="restarting")
    assert info["State"]["Status"] == "restarting" and info["State"]["Running"] and info["State"]["Pid"] == 0
    assert "Restarting (1)" in clean.docker_ok("ps", "--filter", "name=rh-loop", "--format", "{{.Status}}")
    clean.docker_ok("stop", "rh-loop")
    info = clean.inspect("rh-loop")
    assert info["State"]["Status"] == "exited" and not info["State"]["Restarting"]
    count = info["RestartCount"]
    time.sleep(0.5)
    assert clean.inspect("rh-loop")["RestartCount"] == count


def test_health_states_and_events(clean: Daemon) -> None:
    since = str(time.time() - 1)
    clean.docker_ok("run", "-d", "--name", "rh-health", "--health-cmd", "cat /tmp/ok", "--health-interval", "200ms",
           "--health-retries", "2", "busybox", "sh", "-c", "sleep 1; echo fine > /tmp/ok; sleep 300")
    assert "(health: starting)" in clean.docker_ok("ps", "--filter", "name=rh-health", "--format", "{{.Status}}")
    wait_for(lambda: clean.inspect("rh-health")["State"]["Health"]["Status"] == "healthy", what="healthy")
    health = clean.inspect("rh-health")["State"]["Health"]
    assert health["FailingStreak"] == 0 and health["Log"][-1]["ExitCode"] == 0
    assert health["Log"][-1]["Output"] == "fine\n" and len(health["Log"]) <= 5
    assert "(healthy)" in clean.docker_ok("ps", "--filter", "name=rh-health", "--format", "{{.Status}}")
    assert clean.docker_ok("ps", "--filter", "health=healthy", "--format", "{{.Names}}") == "rh-health"
    events = clean.docker_ok("events", "--since", since, "--until", str(time.time()), "--filter",
                    "container=rh-health", "--format", "{{.Action}}")
    assert "health_status: healthy" in events.splitlines()


def test_health_timeout_and_no_healthcheck(clean: Daemon) -> None:
    clean.docker_ok("run", "-d", "--name", "rh-slow", "--health-cmd", "sleep 5", "--health-interval", "200ms",
           "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "300")
    health = wait_for(lambda: (h := clean.inspect("rh-slow")["State"]["Health"])["Status"] == "unhealthy" and h,
                      what="unhealthy by timeout")
    assert health["Log"][-1]["ExitCode"] == -1
    assert health["Log"][-1]["Output"] == "Health check exceeded timeout (300ms)"
    assert clean.inspect("rh-slow")["RestartCount"] == 0  # not opted in: docker only reports it
    clean.docker_ok("run", "-d", "--name", "rh-none", "--no-healthcheck", "busybox", "sleep", "300")
    info = clean.inspect("rh-none")
    assert info["Config"]["Healthcheck"]["Test"] == ["NONE"] and "Health" not in info["State"]


def test_unhealthy_restart_policy(clean: Daemon) -> None:
    """Dockyard's opt-in: restart policy `on-unhealthy`, or the label on any other policy."""
    clean.docker_ok("run", "-d", "--name", "rh-unh", "--restart", "on-unhealthy", "--health-cmd", "false",
           "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "300")
    clean.docker_ok("run", "-d", "--name", "rh-label", "--label", "dockyard.restart-on-unhealthy=true",
           "--health-cmd", "false", "--health-interval", "200ms", "--health-retries", "1", "busybox", "sleep", "300")
    for name in ("rh-unh", "rh-label"):
        info = wait_for(lambda: (i := clean.inspect(name))["RestartCount"] >= 2 and i, what=f"{name} restarts")
        assert info["State"]["Health"]["Log"][-1]["ExitCode"] == 1


def test_policies_across_daemon_sigkill() -> None:
    """`always` comes back after the daemon does; a stopped `unless-stopped` does not; nothing runs twice."""
    d = new_daemon()
    d.start()
    try:
        d.load_busybox()
        d.docker_ok("run", "-d", "--name", "up-always", "--restart", "always", "busybox", "sleep", "300")
        d.docker_ok("run", "-d", "--name", "up-stopped", "--restart", "always", "busybox", "sleep", "300")
        d.docker_ok("run", "-d", "--name", "us-stopped", "--restart", "unless-stopped", "busybox", "sleep", "300")
        d.docker_ok("run", "-d", "--name", "us-running", "--restart", "unless-stopped", "busybox", "sleep", "300")
        d.docker_ok("stop", "-t", "0", "up-stopped", "us-stopped")
        before = d.inspect("up-always")["State"]["Pid"]
        d.stop(signal.SIGKILL)
        os.kill(before, signal.SIGKILL)  # dies while the daemon is away
        d.start()
        info = wait_for(lambda: (i := d.inspect("up-always"))["State"]["Running"] and i["State"]["Pid"] and i,
                        what="always back")
        assert info["State"]["Pid"] != before and info["RestartCount"] == 1
        # docker starts an `always` container that was stopped by hand when the daemon starts
        wait_for(lambda: d.inspect("up-stopped")["State"]["Running"], what="stopped always back")
        assert d.inspect("up-stopped")["RestartCount"] == 0
        assert d.inspect("us-running")["State"]["Running"]
        time.sleep(0.5)
        assert d.inspect("us-stopped")["State"]["Status"] == "exited"
        for name in ("up-always", "up-stopped", "us-running"):
            pid = d.inspect(name)["State"]["Pid"]
            with open(f"/proc/{pid}/cgroup") as fh:
                assert any(f"/dockyard/{d.inspect(name)['Id']}" in line for line in fh)
    finally:
        d.remove_all_containers()
        destroy(d)
