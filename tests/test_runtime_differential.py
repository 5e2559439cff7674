"""The same container specs under the built-in runtime and under runc (and crun when installed):
what the container sees must be the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from daemon_harness import Daemon
from helpers import wait_for

PROBE = ("echo uid=$(id -u) gid=$(id -g) groups=$(id -G); echo host=$(hostname); grep Cap /proc/self/status; "
         "echo nofile=$(ulimit -n) nproc=$(ulimit -u); echo pid1=$(cat /proc/1/cmdline | tr '\\0' ' '); "
         "echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null); "
         "touch /probe-write 2>/dev/null && echo rootfs=rw || echo rootfs=ro; "
         "cut -d' ' -f2,3 /proc/self/mounts | sort")
# runc also mounts the name=systemd v1 hierarchy into /sys/fs/cgroup; the built-in runtime binds only the
# resource controllers (as docker's own runc does on pure cgroup v2 hosts there is nothing to compare).
KNOWN_DIFFERENCES = {"/sys/fs/cgroup/systemd cgroup"}

CASES = {
    "default": ([], PROBE + "; exit 7"),
    "user": (["--user", "1000:1000"], PROBE),
    "caps": (["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", "--cap-add", "KILL"], PROBE),
    "privileged": (["--privileged"], PROBE),
    "read-only": (["--read-only"], PROBE),
    "init": (["--init"], PROBE),
    "limits": (["--memory", "64m", "--ulimit", "nofile=1024:2048"], PROBE),
    "not-found": ([], None),
}
RUNTIMES = [name for name in ("runc", "crun") if shutil.which(name)]


def observe(d: Daemon, runtime: str | None, flags: list[str], script: str | None) -> tuple[int, list[str], str]:
    """Run one case; (exit code, output lines minus known differences, container id)."""
    extra = ["--runtime", runtime] if runtime else []
    argv = ["sh", "-c", script] if script is not None else ["no-such-binary"]
    created = d.docker("create", "--hostname", "diffhost", *extra, *flags, "busybox", *argv)
    assert created.returncode == 0, created.stderr
    cid = created.stdout.decode().strip()
    started = d.docker("start", "-a", cid)
    lines = [line for line in started.stdout.decode().splitlines() if line not in KNOWN_DIFFERENCES]
    code = started.returncode
    if script is None:
        lines = [started.stderr.decode().split("exec:", 1)[-1].strip().removesuffix(": unknown")]
    removed = d.docker("rm", "-f", cid)
    assert removed.returncode == 0, removed.stderr
    return code, lines, cid


def leftover_cgroups(cid: str) -> list[str]:
    """cgroup directories of a removed container in any mounted hierarchy."""
    root = Path("/sys/fs/cgroup")
    return [str(p) for p in root.glob(f"*/dockyard/{cid}")] + [str(p) for p in root.glob(f"dockyard/{cid}")]


@pytest.mark.skipif(not RUNTIMES, reason="neither runc nor crun is installed")
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_view_as_builtin(clean: Daemon, need_docker_cli: None, runtime: str, case: str) -> None:
    flags, script = CASES[case]
    builtin = observe(clean, None, flags, script)
    external = observe(clean, runtime, flags, script)
    assert external[0] == builtin[0], (builtin, external)
    assert external[1] == builtin[1]
    assert not leftover_cgroups(builtin[2]) and not leftover_cgroups(external[2])


@pytest.mark.skipif("runc" not in RUNTIMES, reason="runc is not installed")
def test_runc_container_lifecycle(clean: Daemon, need_docker_cli: None) -> None:
    """Stop, logs, restart policy and inspect work the same under runc."""
    run = clean.docker("run", "-d", "--name", "diff-runc", "--runtime", "runc", "--restart", "always", "busybox",
                       "sh", "-c", "echo hello; trap 'exit 0' TERM; while true; do sleep 0.1; done")
    assert run.returncode == 0, run.stderr
    info = json.loads(clean.docker("inspect", "diff-runc").stdout)[0]
    assert info["HostConfig"]["Runtime"] == "runc" and info["State"]["Running"]
    stopped = clean.docker("stop", "-t", "5", "diff-runc")
    assert stopped.returncode == 0, stopped.stderr
    info = json.loads(clean.docker("inspect", "diff-runc").stdout)[0]
    assert info["State"]["ExitCode"] == 0 and info["RestartCount"] == 0
    assert clean.docker("logs", "diff-runc").stdout == b"hello\n"
    assert clean.docker("start", "diff-runc").returncode == 0  # the same id again: runc's state was cleared
    assert clean.docker("rm", "-f", "diff-runc").returncode == 0
    assert not leftover_cgroups(info["Id"])


def test_init_reaps_zombies_and_forwards_signals(clean: Daemon, need_docker_cli: None) -> None:
    """--init: tini is PID 1, orphans are reaped, the stop signal reaches the command."""
    script = ("(sleep 0.1 &) ; sleep 0.5; ps -o stat,comm | grep -c '^Z' ; "
              "trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.1; done")
    run = clean.docker("run", "-d", "--name", "diff-init", "--init", "busybox", "sh", "-c", script)
    assert run.returncode == 0, run.stderr
    info = json.loads(clean.docker("inspect", "diff-init").stdout)[0]
    assert info["HostConfig"]["Init"] is True and info["Path"] == "sh"
    wait_for(lambda: b"ready" in clean.docker("logs", "diff-init").stdout, what="ready")
    top = clean.docker("top", "diff-init").stdout.decode()
    assert "/sbin/docker-init -- sh -c" in top
    assert clean.docker("stop", "-t", "10", "diff-init").returncode == 0
    logs = clean.docker("logs", "diff-init").stdout.decode().split()
    assert logs == ["0", "ready", "got-term"]
    assert json.loads(clean.docker("inspect", "diff-init").stdout)[0]["State"]["ExitCode"] == 0
