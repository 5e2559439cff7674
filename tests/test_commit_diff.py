"""commit, diff, export, port and the events they emit (docker CLI, our CLI, the SDK), plus SIGHUP reload."""

from __future__ import annotations

import io
import json
import secrets
import signal
import tarfile
import time

import pytest

from dockyard.cli.container_extra import port_lines
from dockyard.cli.context import CommandError
from helpers import tar_of, unique

CHANGES = "echo new > /newfile && echo extra >> /etc/passwd && rm /bin/ls && mkdir -p /tmp/d && touch /tmp/d/f"


@pytest.fixture
def changed(clean):
    """A stopped container that added, changed and deleted files."""
    name = unique("diff")
    result = clean.docker("run", "--network", "none", "--name", name, "busybox", "sh", "-c", CHANGES)
    assert result.returncode == 0, result.stderr
    return name


def test_docker_diff_lists_added_changed_deleted(clean, changed, need_docker_cli):
    lines = clean.docker("diff", changed).stdout.decode().splitlines()
    assert lines == ["C /bin", "D /bin/ls", "C /etc", "C /etc/passwd", "A /newfile", "C /tmp", "A /tmp/d",
                     "A /tmp/d/f"]
    assert clean.cli("diff", changed).stdout.decode().splitlines() == lines


def test_commit_then_run_sees_the_changes(clean, changed, need_docker_cli):
    image = f"{unique('dy-commit')}:v1"
    result = clean.docker("commit", "-c", "ENV COMMITTED=yes", "-m", "my message", "-a", "me", changed, image)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("sha256:")
    try:
        run = clean.docker("run", "--rm", "--network", "none", image, "sh", "-c",
                           "cat /newfile; tail -1 /etc/passwd; test -e /bin/ls || echo gone; echo $COMMITTED")
        assert run.stdout.decode().split() == ["new", "extra", "gone", "yes"], run.stderr
        inspect = json.loads(clean.docker("image", "inspect", image).stdout)[0]
        assert inspect["Comment"] == "my message" and inspect["Author"] == "me"
        assert len(inspect["RootFS"]["Layers"]) == 2
        fresh = clean.docker("create", "--network", "none", image)
        assert clean.docker("diff", fresh.stdout.decode().strip()).stdout == b""
    finally:
        clean.docker("rm", "-f", fresh.stdout.decode().strip())
        clean.docker("rmi", image)


def test_commit_running_container_pauses_and_emits_events(clean, sdk):
    container = sdk.containers.run("busybox", ["sh", "-c", "echo hi > /hello; sleep 300"], detach=True,
                                   network_mode="none", name=unique("commit-run"))
    for _ in range(100):
        if any(c["Path"] == "/hello" for c in container.diff() or []):
            break
        time.sleep(0.05)
    since = time.time()
    repo = f"dy-commit-run-{secrets.token_hex(4)}"
    image = container.commit(repository=repo, tag="t", changes=["CMD cat /hello"], message="live")
    try:
        assert sdk.containers.run(f"{repo}:t", remove=True, network_mode="none") == b"hi\n"
        events = list(sdk.events(since=since, until=time.time() + 0.5, decode=True))
        actions = [(e["Type"], e["Action"]) for e in events if e["Actor"]["ID"] in (container.id, image.id)]
        assert actions[:4] == [("container", "pause"), ("container", "unpause"), ("image", "tag"),
                               ("container", "commit")]
        commit = next(e for e in events if e["Action"] == "commit")
        assert commit["Actor"]["Attributes"]["imageRef"] == f"{repo}:t"
        assert commit["Actor"]["Attributes"]["comment"] == "live"
        container.reload()
        assert not container.attrs["State"]["Paused"] and container.status == "running"
    finally:
        sdk.images.remove(image.id, force=True)


def test_export_is_the_flattened_rootfs(clean, changed):
    status, body = clean.request("GET", f"/containers/{changed}/export")
    assert status == 200
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = set(tar.getnames())
        assert {"newfile", "etc/passwd", "bin/busybox", "tmp/d/f"} <= names and "bin/ls" not in names
        assert tar.extractfile("newfile").read() == b"new\n"
    exported = clean.cli("export", changed)
    assert exported.returncode == 0 and len(exported.stdout) == len(body)


def test_events_for_cp_export_and_replay_filters(clean, changed, need_docker_cli):
    since = int(time.time()) - 2
    clean.request("GET", f"/containers/{changed}/export")
    clean.request("GET", f"/containers/{changed}/archive?path=/newfile")
    clean.request("PUT", f"/containers/{changed}/archive?path=/tmp", tar_of(),
                  {"Content-Type": "application/x-tar"})
    result = clean.docker("events", "--since", str(since), "--until", str(int(time.time()) + 1),
                          "--filter", f"container={changed}", "--format", "{{.Action}}")
    actions = result.stdout.decode().split()
    assert {"export", "archive-path", "extract-to-dir"} <= set(actions), result.stderr
    only = clean.docker("events", "--since", str(since), "--until", str(int(time.time()) + 1),
                        "--filter", "event=export", "--filter", f"container={changed}",
                        "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    assert only.stdout.decode().splitlines() == [f"export {changed}"]


def test_sighup_reloads_and_publishes_a_daemon_event(clean, need_docker_cli):
    since = time.time() - 1
    clean.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    seen: list[str] = []
    while time.time() < deadline and "reload" not in seen:
        result = clean.docker("events", "--since", str(since), "--until", str(time.time()), "--filter",
                              "type=daemon", "--format", "{{.Action}}")
        seen = result.stdout.decode().split()
    assert "reload" in seen
    assert clean.request("GET", "/_ping")[0] == 200


def test_port_lines_and_cli(clean, changed):
    ports = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
             "53/udp": None}
    assert port_lines(ports, None, "c") == ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"]
    assert port_lines(ports, "80", "c") == ["0.0.0.0:8080", "[::]:8080"]
    with pytest.raises(CommandError, match="No public port '53/udp' published for c"):
        port_lines(ports, "53/udp", "c")
    result = clean.cli("port", changed)
    assert result.returncode == 0 and result.stdout == b""
