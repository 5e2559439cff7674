"""The daemon can die or restart while containers keep running; it reconnects and settles the dead."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time

from daemon_harness import DOCKYARD, REPO
from dockyard.runtime.cgroups import open_cgroup


def log_lines(d, name: str) -> int:
    status, raw = d.request("GET", f"/containers/{name}/logs?stdout=1")
    assert status == 200
    return raw.count(b"tick")


def test_second_daemon_on_same_root_is_refused(own_daemon):
    result = subprocess.run(DOCKYARD + ["daemon", "-H", f"unix://{own_daemon.base}/other.sock",
                                        "--data-root", str(own_daemon.data_root),
                                        "--exec-root", str(own_daemon.base / "exec2"),
                                        "--config-file", str(own_daemon.config_file())],
                            capture_output=True, timeout=30, cwd=REPO)
    assert result.returncode == 1
    assert b"already running" in result.stderr


def test_container_survives_sigkill_of_daemon(own_daemon):
    d = own_daemon
    d.api("POST", "/containers/create?name=ticker",
          {"Image": "busybox", "Cmd": ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]})
    d.api("POST", "/containers/ticker/start")
    time.sleep(0.5)
    d.stop(signal.SIGKILL)
    time.sleep(1.5)
    d.start()
    doc = d.api("GET", "/containers/ticker/json")
    assert doc["State"]["Running"] is True
    count = log_lines(d, "ticker")
    assert count >= 8, count  # it kept logging while the daemon was gone
    status, _ = d.request("POST", "/containers/ticker/stop?t=1")
    assert status == 204
    assert d.api("GET", "/containers/ticker/json")["State"]["ExitCode"] == 137


def test_sigterm_leaves_containers_running_and_dead_ones_get_their_code(own_daemon):
    d = own_daemon
    d.api("POST", "/containers/create?name=short", {"Image": "busybox", "Cmd": ["sh", "-c", "sleep 1; exit 7"]})
    d.api("POST", "/containers/short/start")
    d.stop(signal.SIGTERM)
    time.sleep(2)
    d.start()
    doc = d.api("GET", "/containers/short/json")
    assert doc["State"]["Status"] == "exited"
    assert doc["State"]["ExitCode"] == 7


def test_files_of_removed_containers_are_swept_at_start(own_daemon):
    d = own_daemon
    orphan = "f" * 64
    for parent in (d.data_root / "containers", d.exec_root / "containers"):
        (parent / orphan / "rootfs").mkdir(parents=True)
        (parent / orphan / "leftover").write_text("x")
    d.stop(signal.SIGKILL)
    d.start()
    for parent in (d.data_root / "containers", d.exec_root / "containers"):
        assert not (parent / orphan).exists()


def test_empty_leftover_cgroups_are_swept_at_start_and_busy_or_new_ones_kept(own_daemon):
    """A RUN step whose clean-up a crash cut off leaves an empty cgroup: the next start removes it."""
    d = own_daemon
    tag = secrets.token_hex(8)
    leftover, fresh, busy = (open_cgroup(f"/dockyard/build-{tag}{n}") for n in "abc")
    sleeper = None
    try:
        for cgroup in (leftover, fresh, busy):
            cgroup.create()
        for directory in leftover.directories() + busy.directories():
            os.utime(directory, (0, time.time() - 3600))
        sleeper = subprocess.Popen(["sleep", "60"])
        busy.add(sleeper.pid)
        d.stop(signal.SIGKILL)
        d.start()
        assert not leftover.exists() and not any(p.is_dir() for p in leftover.directories())
        assert fresh.exists() and busy.exists() and busy.pids() == [sleeper.pid]
    finally:
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
        for cgroup in (leftover, fresh, busy):
            if any(p.is_dir() for p in cgroup.directories()):
                cgroup.remove()
