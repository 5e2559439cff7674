"""Issue 2's acceptance, through the real docker CLI against `dockyard daemon`."""

from __future__ import annotations

import json
import time

import pytest

from helpers import out

pytestmark = pytest.mark.usefixtures("need_docker_cli")


def test_version_and_info(clean):
    version = out(clean.docker("version"))
    assert "Server:" in version and "1.45" in version
    info = out(clean.docker("info"))
    assert "Server Version: 0.1.0" in info
    assert "Storage Driver: overlay2" in info


def test_run_prints_and_exits(clean):
    result = clean.docker("run", "--rm", "busybox", "echo", "hello")
    assert out(result) == "hello\n"
    assert clean.docker("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    assert clean.api("GET", "/containers/json?all=1") == []


def test_run_exit_codes_for_bad_commands(clean):
    missing = clean.docker("run", "--rm", "busybox", "nosuchcommand")
    assert missing.returncode == 127, missing.stderr
    assert b"executable file not found" in missing.stderr
    denied = clean.docker("run", "--rm", "busybox", "/etc/passwd")
    assert denied.returncode == 126, denied.stderr
    unknown = clean.docker("run", "--rm", "nosuchimage:1")
    assert unknown.returncode == 125


def test_stdout_and_stderr_stay_apart(clean):
    result = clean.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert result.stdout == b"out\n"
    assert result.stderr == b"err\n"


def test_detached_lifecycle(clean):
    out(clean.docker("run", "-d", "--name", "web", "busybox", "sh", "-c",
                     "while true; do echo tick; sleep 1; done"))
    time.sleep(2.5)
    logs = out(clean.docker("logs", "--tail", "2", "web"))
    assert logs == "tick\ntick\n"
    ps = out(clean.docker("ps"))
    assert "web" in ps and "Up " in ps
    top = out(clean.docker("top", "web"))
    assert "sleep" in top or "sh -c" in top
    out(clean.docker("pause", "web"))
    assert out(clean.docker("inspect", "-f", "{{.State.Status}}", "web")).strip() == "paused"
    out(clean.docker("unpause", "web"))
    started = time.monotonic()
    out(clean.docker("stop", "-t", "1", "web"))  # sh as PID 1 ignores SIGTERM: SIGKILL after 1 s, as docker
    assert time.monotonic() - started < 5
    assert out(clean.docker("inspect", "-f", "{{.State.ExitCode}}", "web")).strip() == "137"
    out(clean.docker("rm", "web"))
    assert clean.docker("inspect", "web").returncode == 1


def test_stop_signal_reaches_a_trapping_process(clean):
    out(clean.docker("run", "-d", "--name", "trapper", "busybox", "sh", "-c",
                     "trap 'echo bye; exit 5' TERM; while true; do sleep 0.1; done"))
    time.sleep(0.5)
    out(clean.docker("stop", "trapper"))
    assert out(clean.docker("inspect", "-f", "{{.State.ExitCode}}", "trapper")).strip() == "5"
    assert out(clean.docker("logs", "trapper")) == "bye\n"


def test_logs_follow_ends_when_container_exits(clean):
    out(clean.docker("run", "-d", "--name", "counter", "busybox", "sh", "-c",
                     "for i in 1 2 3; do echo $i; sleep 0.3; done"))
    result = clean.docker("logs", "-f", "counter", timeout=30)
    assert out(result) == "1\n2\n3\n"


def test_rm_running_needs_force(clean):
    out(clean.docker("run", "-d", "--name", "busy", "busybox", "sleep", "100"))
    refused = clean.docker("rm", "busy")
    assert refused.returncode == 1
    assert b"container is running" in refused.stderr
    out(clean.docker("rm", "-f", "busy"))


def test_duplicate_name_conflict(clean):
    out(clean.docker("create", "--name", "twin", "busybox", "true"))
    again = clean.docker("create", "--name", "twin", "busybox", "true")
    assert again.returncode == 1
    assert b'The container name "/twin" is already in use' in again.stderr
    again = clean.docker("run", "--name", "twin", "busybox", "true")
    assert again.returncode == 125
    assert b'The container name "/twin" is already in use' in again.stderr


def test_save_load_tag_rmi(clean):
    saved = clean.docker("save", "busybox")
    assert saved.returncode == 0 and len(saved.stdout) > 100_000
    loaded = clean.docker("load", input=saved.stdout)
    assert b"Loaded image" in loaded.stdout, loaded.stderr
    out(clean.docker("tag", "busybox", "example/box:v1"))
    assert "example/box" in out(clean.docker("images"))
    untag = out(clean.docker("rmi", "example/box:v1"))
    assert "Untagged: example/box:v1" in untag
    assert "example/box" not in out(clean.docker("images"))


def test_inspect_shape(clean):
    cid = out(clean.docker("create", "-e", "A=1", "-w", "/tmp", "-h", "boxhost", "-l", "k=v",
                           "busybox", "env")).strip()
    doc = json.loads(out(clean.docker("inspect", cid)))[0]
    assert doc["Id"] == cid
    assert doc["Config"]["Hostname"] == "boxhost"
    assert doc["Config"]["Labels"] == {"k": "v"}
    assert doc["State"]["Status"] == "created"
    assert doc["GraphDriver"]["Name"] == "overlay2"
    out(clean.docker("start", "-a", cid))
    env = out(clean.docker("logs", cid)).splitlines()
    assert "A=1" in env and "HOSTNAME=boxhost" in env and "HOME=/root" in env


def test_host_network_shares_the_hosts_name_and_links(clean):
    import socket

    assert out(clean.docker("run", "--rm", "--network", "host", "busybox", "hostname")).strip() == \
        socket.gethostname()
    links = out(clean.docker("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net")).split()
    assert links == ["lo"]


def test_logs_timestamps_since_and_size(clean):
    out(clean.docker("run", "--name", "stamps", "busybox", "sh", "-c", "echo a; sleep 2.2; echo b"))
    stamped = out(clean.docker("logs", "-t", "stamps")).splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["a", "b"]
    assert stamped[0].split(" ")[0].endswith("Z")
    # the CLI sends whole seconds: "1s" ago is at least 1.2 s after "a" was written
    assert out(clean.docker("logs", "--since", "1s", "stamps")) == "b\n"
    sized = out(clean.docker("ps", "-a", "-s", "--format", "{{.Size}}"))
    assert "virtual" in sized
