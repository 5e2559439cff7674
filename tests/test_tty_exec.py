"""Interactive containers end to end: TTY and stdin through attach, exec, detach keys, resizes —
driven through the real docker CLI (inside tmux for terminals), the Docker SDK and the raw API."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from typing import Iterator

import pytest

from daemon_harness import DOCKYARD, REPO, Daemon
from helpers import unique, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def web(clean: Daemon, need_docker_cli: None) -> Iterator[str]:
    """A running busybox container to exec into."""
    name = unique("web")
    run = clean.docker("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "300")
    assert run.returncode == 0, run.stderr
    yield name
    clean.docker("rm", "-f", name)


def test_stdin_is_piped_and_half_close_ends_it(clean: Daemon, need_docker_cli: None) -> None:
    result = clean.docker("run", "-i", "--rm", "--network", "none", "busybox", "cat", input=b"hi\n", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hi\n"


def test_dockyard_cli_pipes_stdin(clean: Daemon) -> None:
    result = clean.cli("run", "-i", "--rm", "--network", "none", "busybox", "sh", "-c", "tr a-z A-Z; echo done >&2",
                       input=b"hello\n", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"HELLO\n"
    assert result.stderr == b"done\n"


def test_exec_exit_code_and_output(clean: Daemon, web: str) -> None:
    assert clean.docker("exec", web, "sh", "-c", "exit 7").returncode == 7
    out = clean.docker("exec", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", web, "sh", "-c",
                       "echo $FOO $(pwd) $(id -u); echo err >&2")
    assert out.returncode == 0, out.stderr
    assert out.stdout == b"bar /tmp 65534\n"
    assert out.stderr == b"err\n"
    assert clean.docker("exec", "-i", web, "cat", input=b"piped\n").stdout == b"piped\n"


def test_exec_missing_command_gives_127(clean: Daemon, web: str) -> None:
    result = clean.docker("exec", web, "no-such-command")
    assert result.returncode == 127
    assert b"executable file not found" in result.stdout + result.stderr


def test_dockyard_cli_exec(clean: Daemon, web: str, tmp_path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("FROMFILE=yes\n")
    out = clean.cli("exec", "--env-file", str(env_file), "-e", "A=1", web, "sh", "-c", "echo $FROMFILE $A; exit 3")
    assert out.returncode == 3, out.stderr
    assert out.stdout == b"yes 1\n"
    assert clean.cli("exec", "-d", web, "touch", "/tmp/detached").returncode == 0
    wait_for(lambda: clean.cli("exec", web, "test", "-e", "/tmp/detached").returncode == 0, what="detached exec")
    assert clean.cli("exec", "-i", web, "cat", input=b"in\n").stdout == b"in\n"
    caps = clean.cli("exec", "--privileged", web, "grep", "CapEff", "/proc/self/status").stdout.split()[-1]
    plain = clean.cli("exec", web, "grep", "CapEff", "/proc/self/status").stdout.split()[-1]
    assert int(caps, 16) > int(plain, 16)


def test_exec_into_stopped_or_paused_container_is_409(clean: Daemon, web: str) -> None:
    assert clean.docker("pause", web).returncode == 0
    try:
        status, body = clean.request("POST", f"/containers/{web}/exec", {"Cmd": ["true"]})
        assert status == 409
        assert b"is paused, unpause the container before exec" in body
    finally:
        clean.docker("unpause", web)
    assert clean.docker("stop", "-t", "0", web).returncode == 0
    result = clean.docker("exec", web, "true")
    assert result.returncode != 0
    assert b"is not running" in result.stderr


def test_exec_joins_every_namespace_and_the_cgroup(clean: Daemon, web: str) -> None:
    init_pid = clean.api("GET", f"/containers/{web}/json")["State"]["Pid"]
    exec_id = clean.api("POST", f"/containers/{web}/exec", {"Cmd": ["sleep", "30"]})["Id"]
    assert clean.request("POST", f"/exec/{exec_id}/start", {"Detach": True})[0] == 200
    info = clean.api("GET", f"/exec/{exec_id}/json")
    assert info["Running"] and info["Pid"] > 0
    pid = info["Pid"]
    for ns in ("mnt", "uts", "ipc", "net", "pid"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/{init_pid}/ns/{ns}"), ns
    with open(f"/proc/{pid}/cgroup") as mine, open(f"/proc/{init_pid}/cgroup") as theirs:
        assert mine.read() == theirs.read()
    os.kill(pid, 9)
    wait_for(lambda: not clean.api("GET", f"/exec/{exec_id}/json")["Running"], what="exec to end")
    assert clean.api("GET", f"/exec/{exec_id}/json")["ExitCode"] == 137


def test_sdk_exec_run(sdk, web: str) -> None:
    container = sdk.containers.get(web)
    result = container.exec_run("echo hi")
    assert result.exit_code == 0
    assert result.output == b"hi\n"
    stream = container.exec_run(["sh", "-c", "echo out; echo err >&2"], stream=True, demux=True)
    outs, errs = b"", b""
    for out, err in stream.output:
        outs += out or b""
        errs += err or b""
    assert (outs, errs) == (b"out\n", b"err\n")
    tty = container.exec_run("sh -c 'test -t 1 && echo tty'", tty=True)
    assert tty.output == b"tty\r\n"


def test_exec_events(clean: Daemon, web: str) -> None:
    since = time.time() - 1
    assert clean.docker("exec", web, "sh", "-c", "exit 4").returncode == 4
    until = time.time() + 1
    out = clean.docker("events", "--since", str(since), "--until", str(until), "--filter", f"container={web}",
                       "--format", "{{.Action}} {{index .Actor.Attributes \"exitCode\"}}").stdout.decode()
    assert "exec_create: sh -c exit 4" in out
    assert "exec_start: sh -c exit 4" in out
    assert "exec_die 4" in out


class Tmux:
    """A private tmux server (its own socket) running one window; killed at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = unique("dytest")
        self.env = env

    def tmux(self, *args: str) -> str:
        """Run a tmux command against our server."""
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=self.env,
                                timeout=10)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, command: str, width: int = 80, height: int = 24) -> None:
        """A detached session running `command` (it stays visible after the command ends)."""
        self.tmux("new-session", "-d", "-s", "t", "-c", str(REPO), "-x", str(width), "-y", str(height), command)
        self.tmux("set-option", "-t", "t", "remain-on-exit", "on")

    def screen(self) -> str:
        """The visible text of the pane."""
        return self.tmux("capture-pane", "-p", "-t", "t")

    def type(self, *keys: str) -> None:
        """Send keys (tmux names such as Enter or C-p work)."""
        self.tmux("send-keys", "-t", "t", *keys)

    def expect(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until the pane shows text matching `pattern`."""
        found: list[re.Match[str]] = []

        def seen() -> bool:
            match = re.search(pattern, self.screen())
            if match:
                found.append(match)
            return match is not None
        try:
            wait_for(seen, timeout, f"{pattern!r} on the screen")
        except AssertionError:
            raise AssertionError(f"{pattern!r} not on the screen:\n{self.screen()}") from None
        return found[0]

    def dead(self) -> bool:
        """Whether the pane's command has ended."""
        return self.tmux("list-panes", "-t", "t", "-F", "#{pane_dead}").strip() == "1"

    def respawn(self, command: str) -> None:
        """Run a new command in the (dead) pane."""
        self.tmux("respawn-pane", "-k", "-t", "t", command)

    def resize(self, width: int, height: int) -> None:
        """Resize the window (the client sees SIGWINCH)."""
        self.tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def kill(self) -> None:
        """Stop this tmux server and everything it runs."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def busybox_shell_session(command: list[str], env: dict[str, str]) -> None:
    """`<command> run -it --rm busybox sh` in a private tmux: a prompt, a pts, an answer, then exit ends it."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    term = Tmux({**env, "TERM": "xterm"})
    try:
        term.start(" ".join(command + ["run", "-it", "--rm", "busybox", "sh"]))
        term.expect(r"/ #")
        term.type("tty; echo $((6*7))", "Enter")
        term.expect(r"/dev/pts/\d+\s+42")
        term.type("exit", "Enter")
        wait_for(term.dead, 20, "the client to end")
    finally:
        term.kill()


@pytest.fixture
def tmux(clean: Daemon) -> Iterator[Tmux]:
    """A private tmux server whose shells talk to the test daemon."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    env = clean.env()
    env["TERM"] = "xterm"
    server = Tmux(env)
    yield server
    server.kill()


def resize_and_check(tmux: Tmux, columns: int, rows: int) -> None:
    """Resize the terminal; the shell in it must see the new size."""
    tmux.resize(columns, rows)
    time.sleep(0.5)
    tmux.type("clear; stty size", "Enter")
    tmux.expect(rf"(?m)^{rows} {columns}\s*$")


def _interactive_session(clean: Daemon, tmux: Tmux, client: str, name: str) -> None:
    """`run -it` a shell, compute, follow a resize, detach, re-attach, exec -it into it, exit."""
    tmux.start(f"{client} run -it --network none --name {name} busybox sh")
    tmux.expect(r"(?m)^/ #")  # keys typed before the shell set up its line editing would be flushed
    tmux.type("echo $((6*7))", "Enter")
    tmux.expect(r"(?m)^42\s*$")
    tmux.type("stty size", "Enter")
    tmux.expect(r"(?m)^24 80\s*$")
    resize_and_check(tmux, 100, 30)
    tmux.type("C-p", "C-q")
    wait_for(tmux.dead, what="detach")
    assert clean.api("GET", f"/containers/{name}/json")["State"]["Running"]
    tmux.respawn(f"{client} attach {name}")
    tmux.type("clear; echo again-$((7*6))", "Enter")
    tmux.expect(r"(?m)^again-42\s*$")
    tmux.type("C-p", "C-q")
    wait_for(tmux.dead, what="detach")
    tmux.respawn(f"{client} exec -it {name} sh")
    tmux.expect(r"(?m)^/ #")
    tmux.type("clear; echo exec-$((5*5)); stty size", "Enter")
    tmux.expect(r"(?m)^exec-25\s*$")
    tmux.expect(r"(?m)^30 100\s*$")
    resize_and_check(tmux, 90, 20)
    tmux.type("exit 5", "Enter")
    wait_for(tmux.dead, what="exec to end")
    assert clean.api("GET", f"/containers/{name}/json")["State"]["Running"]
    tmux.respawn(f"{client} attach {name}")
    tmux.type("clear; echo back", "Enter")
    tmux.expect(r"(?m)^back\s*$")
    tmux.type("exit 3", "Enter")
    wait_for(lambda: not clean.api("GET", f"/containers/{name}/json")["State"]["Running"], what="container exit")
    assert clean.api("GET", f"/containers/{name}/json")["State"]["ExitCode"] == 3
    wait_for(tmux.dead, what="attach to end")


def test_docker_cli_run_it_in_tmux(clean: Daemon, need_docker_cli: None, tmux: Tmux) -> None:
    _interactive_session(clean, tmux, "docker", unique("tty"))


def test_dockyard_cli_run_it_in_tmux(clean: Daemon, tmux: Tmux) -> None:
    _interactive_session(clean, tmux, " ".join(shlex.quote(part) for part in DOCKYARD), unique("tty"))


def test_detach_key_syntax_and_scanner() -> None:
    from dockyard.errors import InvalidParameter
    from dockyard.util.detachkeys import DetachScanner, parse_detach_keys

    assert parse_detach_keys(None) == b"\x10\x11"
    assert parse_detach_keys("ctrl-a,x,ctrl-@,ctrl-_") == b"\x01x\x00\x1f"
    assert parse_detach_keys("") == b""
    with pytest.raises(InvalidParameter):
        parse_detach_keys("ctrl-1")
    scanner = DetachScanner(b"\x10\x11")
    assert scanner.feed(b"ab\x10") == (b"ab", False)
    assert scanner.feed(b"c\x10\x10") == (b"\x10c\x10", False)
    assert scanner.feed(b"\x11rest") == (b"", True)
    assert DetachScanner(b"").feed(b"\x10\x11") == (b"\x10\x11", False)


def test_stdin_attach_without_tty_and_custom_detach_keys(clean: Daemon, need_docker_cli: None) -> None:
    name = unique("cat")
    assert clean.docker("run", "-d", "-i", "--network", "none", "--name", name, "busybox", "cat").returncode == 0
    sock, head = clean.hijack(f"/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,x")
    with sock:
        assert head.startswith(b"HTTP/1.1 101") and b"application/vnd.docker.multiplexed-stream" in head
        sock.sendall(b"line-one\n")
        expected = b"\x01\x00\x00\x00\x00\x00\x00\x09line-one\n"
        data = b""
        while len(data) < len(expected):
            data += sock.recv(65536)
        assert data == expected
        sock.sendall(b"\x18x")
        assert sock.recv(65536) == b""  # the daemon ends the session at the detach keys
    assert clean.api("GET", f"/containers/{name}/json")["State"]["Running"]
    assert clean.docker("logs", name).stdout == b"line-one\n"


def test_resize_api_events_and_content_types(clean: Daemon, need_docker_cli: None) -> None:
    name = unique("tty")
    run = clean.docker("run", "-d", "-t", "--network", "none", "--name", name, "busybox", "sleep", "60")
    assert run.returncode == 0, run.stderr
    since = time.time() - 1
    assert clean.request("POST", f"/containers/{name}/resize?h=40&w=120")[0] == 200
    assert clean.docker("exec", "-t", name, "stty", "size").stdout.strip() != b""
    events = clean.docker("events", "--since", str(since), "--until", str(time.time() + 1), "--filter",
                          "event=resize", "--format", "{{.Actor.Attributes.height}}x{{.Actor.Attributes.width}}")
    assert events.stdout.decode().split() == ["40x120"]
    assert clean.request("POST", "/containers/no-such-container/resize?h=1&w=1")[0] == 404
    stopped = unique("stopped")
    assert clean.docker("create", "-t", "--name", stopped, "busybox").returncode == 0
    status, body = clean.request("POST", f"/containers/{stopped}/resize?h=1&w=1")
    assert status == 409 and b"is not running" in body
    for tty, media in ((True, "application/vnd.docker.raw-stream"),
                       (False, "application/vnd.docker.multiplexed-stream")):
        exec_id = clean.api("POST", f"/containers/{name}/exec",
                            {"Cmd": ["echo", "x"], "Tty": tty, "AttachStdout": True})["Id"]
        conn_status, headers, raw = _hijacked_start(clean, exec_id, tty)
        assert conn_status == 101 and headers["content-type"] == media
        assert raw == (b"x\r\n" if tty else b"\x01\x00\x00\x00\x00\x00\x00\x02x\n")
        info = clean.api("GET", f"/exec/{exec_id}/json")
        assert (info["Running"], info["ExitCode"], info["ProcessConfig"]["entrypoint"]) == (False, 0, "echo")
    assert clean.request("GET", "/exec/does-not-exist/json")[0] == 404
    assert clean.request("POST", f"/containers/{name}/exec", {"Cmd": []})[0] == 400


def test_exec_start_framing_follows_the_start_body(clean: Daemon, web: str) -> None:
    """dockerd multiplexes whenever the start body has Tty false, and streams raw when it has Tty true,
    whatever the exec was created with (the process's terminal follows the create)."""
    for created, started, media, raw in (
            (True, False, "application/vnd.docker.multiplexed-stream", b"\x01\x00\x00\x00\x00\x00\x00\x03x\r\n"),
            (False, True, "application/vnd.docker.raw-stream", b"x\n")):
        exec_id = clean.api("POST", f"/containers/{web}/exec",
                            {"Cmd": ["echo", "x"], "Tty": created, "AttachStdout": True})["Id"]
        status, headers, out = _hijacked_start(clean, exec_id, started)
        assert (status, headers["content-type"], out) == (101, media, raw), (created, started)


def _hijacked_start(clean: Daemon, exec_id: str, tty: bool) -> tuple[int, dict[str, str], bytes]:
    """POST /exec/{id}/start with Upgrade: tcp; the status, headers and everything until EOF."""
    import json

    sock, head = clean.hijack(f"/exec/{exec_id}/start", json.dumps({"Detach": False, "Tty": tty}).encode())
    with sock:
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
    lines = head.decode().strip().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


def test_dockyard_run_proxies_signals(clean: Daemon) -> None:
    name = unique("sig")
    script = "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done"
    proc = subprocess.Popen([*DOCKYARD, "run", "--network", "none", "--name", name, "busybox", "sh", "-c", script],
                            env=clean.env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(15)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out == b"got-term\n", err
    assert proc.returncode == 9


def test_run_t_terminal_lives_in_the_containers_devpts(clean: Daemon, need_docker_cli: None) -> None:
    """`docker run -t`: the terminal is /dev/pts/0 of the container's own devpts, so `tty` names it and it
    exists inside; /dev/console is the same terminal (as runc makes it); a non-root user owns its tty."""
    result = clean.docker("run", "-t", "--rm", "--network", "none", "busybox", "tty", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"/dev/pts/0\r\n"
    script = "stat -c '%t:%T' $(tty) /dev/console; ls /dev/pts"
    result = clean.docker("run", "-t", "--rm", "--network", "none", "busybox", "sh", "-c", script, timeout=30)
    assert result.returncode == 0, result.stderr
    tty_dev, console_dev, *pts = result.stdout.decode().split()
    assert tty_dev == console_dev == "88:0" and "0" in pts and "ptmx" in pts, result.stdout
    result = clean.docker("run", "-t", "--rm", "--network", "none", "-u", "1000:1000", "busybox", "sh", "-c",
                          "stat -c '%u %g %a' $(tty)", timeout=30)
    assert result.stdout == b"1000 5 620\r\n", result.stdout


def test_exec_t_terminal_lives_in_the_containers_devpts(clean: Daemon, web: str) -> None:
    """`docker exec -t` gets the next pty of the container's devpts; without -t there is no terminal."""
    result = clean.docker("exec", "-t", web, "sh", "-c", 'tty && test -c "$(tty)" && echo inside', timeout=30)
    assert result.returncode == 0, result.stderr
    name, inside = result.stdout.decode().split()
    assert re.fullmatch(r"/dev/pts/\d+", name) and inside == "inside", result.stdout
    result = clean.docker("exec", web, "tty", timeout=30)
    assert (result.returncode, result.stdout) == (1, b"not a tty\n")
