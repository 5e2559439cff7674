"""Our `dockyard` CLI against the daemon: same output and exit codes as the real docker CLI."""

from __future__ import annotations

import pytest

from helpers import out


def test_run_and_exit_codes(clean):
    assert out(clean.cli("run", "--rm", "busybox", "echo", "hello")) == "hello\n"
    assert clean.cli("run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    assert clean.cli("run", "--rm", "busybox", "nosuchcommand").returncode == 127
    assert clean.cli("run", "--rm", "nosuchimage:1").returncode == 125


def test_detached_lifecycle(clean):
    cid = out(clean.cli("run", "-d", "--name", "cli-web", "busybox", "sleep", "100")).strip()
    assert len(cid) == 64
    assert "cli-web" in out(clean.cli("ps"))
    assert out(clean.cli("ps", "-q")).strip() == cid[:12]
    assert out(clean.cli("inspect", "-f", "{{.State.Status}}", "cli-web")).strip() == "running"
    out(clean.cli("pause", "cli-web"))
    assert "(Paused)" in out(clean.cli("ps"))
    out(clean.cli("unpause", "cli-web"))
    assert "sleep" in out(clean.cli("top", "cli-web"))
    out(clean.cli("kill", "cli-web"))
    assert out(clean.cli("wait", "cli-web")).strip() == "137"
    assert out(clean.cli("rm", "cli-web")).strip() == "cli-web"
    missing = clean.cli("rm", "cli-web")
    assert missing.returncode == 1
    assert b"No such container: cli-web" in missing.stderr


@pytest.mark.usefixtures("need_docker_cli")
@pytest.mark.parametrize("args", [
    ("ps", "-a"), ("ps", "-a", "--no-trunc"), ("ps", "-a", "--format", "{{.Names}} {{.Status}}"),
    ("ps", "-a", "--format", "table {{.ID}}\t{{.Image}}\t{{.Command}}"), ("images",),
    ("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"), ("images", "-q"),
    ("history", "busybox"), ("inspect", "-f", "{{.Config.Image}} {{.State.ExitCode}}", "cmp-a"),
])
def test_same_output_as_docker(clean, args):
    out(clean.cli("create", "--name", "cmp-a", "-l", "x=y", "busybox", "echo", "a b"))
    out(clean.cli("run", "--name", "cmp-b", "busybox", "true"))
    for _ in range(3):  # "2 seconds ago" may tick over between the two commands: compare again then
        ours = out(clean.cli(*args))
        theirs = out(clean.docker(*args))
        if ours == theirs:
            break
    assert ours == theirs
