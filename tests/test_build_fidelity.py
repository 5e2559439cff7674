"""Classic builds answer as dockerd's do: RUN's stderr in red, --cache-from as the only cache source, progress in
step order when stages run in parallel, COPY --from cached on the content it copies."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from daemon_harness import Daemon
from helpers import tar_files, wait_for
from test_build_e2e import build, rmi, write

pytestmark = pytest.mark.usefixtures("need_docker_cli")


def test_run_stderr_is_wrapped_in_red(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo to-out && echo to-err >&2\n"})
    out = build(clean, ctx, "--no-cache")
    text = out.stdout.decode()
    assert out.returncode == 0, out.stderr
    assert "\nto-out\n" in text
    assert "\x1b[91mto-err\n\x1b[0m" in text, repr(text)


def test_cache_from_makes_those_images_the_only_cache_source(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nENV A=1\nRUN echo step-ran\n"})
    try:
        assert build(clean, ctx, "-t", "dybuild-cf-local").returncode == 0
        again = build(clean, ctx)
        assert again.stdout.decode().count("Using cache") == 2  # the local cache serves a plain rebuild
        other = build(clean, ctx, "--cache-from", "busybox")
        text = other.stdout.decode()
        assert other.returncode == 0, other.stderr
        assert "Using cache" not in text and "\nstep-ran\n" in text, text
    finally:
        rmi(clean, "dybuild-cf-local")


PARALLEL = """\
FROM busybox AS slow
RUN sleep 2 && echo slow-done > /slow
FROM busybox AS fast
RUN echo fast-done > /fast && echo fast-printed
FROM busybox
COPY --from=slow /slow /slow
COPY --from=fast /fast /fast
"""


def test_parallel_stages_print_in_step_order(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": PARALLEL})
    out = build(clean, ctx, "--no-cache")
    text = out.stdout.decode()
    assert out.returncode == 0, out.stderr
    steps = [int(n) for n in re.findall(r"^Step (\d+)/\d+ :", text, re.M)]
    assert steps == sorted(steps) == list(range(1, 8)), text
    # each step's lines sit between its header and the next one
    assert text.index("Step 3/7") < text.index("fast-printed") < text.index("Step 5/7"), text
    assert text.index("Step 2/7") < text.index("Step 3/7")
    block = text[text.index("Step 2/7"):text.index("Step 3/7")]
    assert "Running in" in block and "Removing intermediate container" in block, block


STAGED_COPY = """\
FROM busybox AS gen
ARG NONCE
RUN echo "$NONCE" > /nonce && echo same-content > /out
FROM busybox
COPY --from=gen /out /out
RUN echo after-copy-ran
"""


def test_copy_from_stays_cached_when_the_stage_makes_the_same_files(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": STAGED_COPY})
    first = build(clean, ctx, "--build-arg", "NONCE=1")
    assert first.returncode == 0 and "\nafter-copy-ran\n" in first.stdout.decode(), first.stderr
    second = build(clean, ctx, "--build-arg", "NONCE=2")
    text = second.stdout.decode()
    assert second.returncode == 0, second.stderr
    tail = text[text.index("Step 4/6"):]  # the final stage: FROM, COPY --from, RUN
    assert tail.count("Using cache") == 2 and "\nafter-copy-ran\n" not in tail, text


def _processes_running(argv: list[str]) -> int:
    """How many processes on the host run exactly `argv`."""
    count = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                count += handle.read().split(b"\0")[:-1] == [a.encode() for a in argv]
        except OSError:
            continue
    return count


def test_a_build_whose_client_goes_away_stops_cleanly(clean: Daemon) -> None:
    marker = ["sleep", "37.25"]
    dockerfile = f"FROM busybox\nRUN echo started && {' '.join(marker)}\n".encode()
    body = tar_files({"Dockerfile": dockerfile})
    log_before = clean.log.read_text(errors="replace")
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(clean.socket))
        conn.sendall(b"POST /v1.45/build?nocache=1 HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-tar\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        received = b""
        while b"started" not in received:
            chunk = conn.recv(65536)
            assert chunk, received
            received += chunk
        wait_for(lambda: _processes_running(marker), what="the RUN step", interval=0.05)
        assert _processes_running(marker) == 1
    wait_for(lambda: not _processes_running(marker), what="the RUN step to end: it must not outlive its build")
    time.sleep(0.5)
    new_log = clean.log.read_text(errors="replace")[len(log_before):]
    assert "Traceback" not in new_log and "never retrieved" not in new_log, new_log


def test_dockerignore_applied_by_the_daemon_to_an_unfiltered_context(clean: Daemon) -> None:
    files = {"Dockerfile": b"FROM busybox\nCOPY . /ctx/\nRUN ls /ctx | sort | tr '\\n' ' '\n",
             ".dockerignore": b"secret.txt\nlogs/\n", "keep.txt": b"k\n", "secret.txt": b"s\n", "logs/a.log": b"l\n"}
    status, body = clean.request("POST", "/build?nocache=1&t=dybuild-ignore", tar_files(files),
                                 headers={"Content-Type": "application/x-tar"}, timeout=120)
    try:
        assert status == 200, body
        text = "".join(json.loads(line).get("stream", "") for line in body.splitlines() if line.strip())
        assert "Dockerfile keep.txt" in text and "secret.txt" not in text.split("RUN")[-1], text
    finally:
        rmi(clean, "dybuild-ignore")


def _listener() -> tuple[socket.socket, list[bytes]]:
    """A TCP server on the host's loopback that records whatever reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    seen.append(conn.recv(100) or b"<connected>")
                except OSError:
                    seen.append(b"<connected>")

    threading.Thread(target=serve, daemon=True).start()
    return server, seen


def test_run_steps_get_their_own_network_namespace(clean: Daemon, tmp_path: Path) -> None:
    server, seen = _listener()
    port = server.getsockname()[1]
    resolv = "echo resolv: $(grep ^nameserver /etc/resolv.conf)"
    script = (f"echo links: $(ls /sys/class/net); ip -o -4 addr show dev eth0; {resolv}; "
              f"echo probe | nc -w 2 127.0.0.1 {port} && echo reached-host || echo host-unreachable")
    ctx = write(tmp_path, {"Dockerfile": f"FROM busybox\nRUN {script}\n"})
    bridge = clean.api("GET", "/networks/bridge")["IPAM"]["Config"][0]["Subnet"]
    try:
        out = build(clean, ctx, "--no-cache")
        text = out.stdout.decode()
        assert out.returncode == 0, out.stderr
        assert "\nlinks: eth0 lo\n" in text, text  # only its own interfaces, none of the host's
        address = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", text)
        assert address and ipaddress.ip_address(address.group(1)) in ipaddress.ip_network(bridge), text
        assert "host-unreachable" in text and seen == [], (text, seen)
        run = clean.docker("run", "--rm", "busybox", "sh", "-c", resolv)  # the resolv.conf a container gets
        assert run.returncode == 0 and run.stdout.decode() in text, (run.stdout, text)
        assert "resolv: nameserver" in text and "nameserver 127." not in text, text
        none = build(clean, ctx, "--no-cache", "--network", "none")
        assert none.returncode == 0 and "\nlinks: lo\n" in none.stdout.decode(), none.stdout.decode()
        host = build(clean, ctx, "--no-cache", "--network", "host")  # only when asked for
        assert host.returncode == 0 and "reached-host" in host.stdout.decode() and seen, host.stdout.decode()
    finally:
        server.close()
    assert not [name for name in os.listdir(clean.exec_root / "netns") if name.startswith("build-")]


def test_run_steps_on_a_user_network_resolve_its_containers(clean: Daemon, tmp_path: Path) -> None:
    assert clean.docker("network", "create", "dybuild-net").returncode == 0
    try:
        assert clean.docker("run", "-d", "--name", "dybuild-peer", "--network", "dybuild-net", "busybox",
                            "sleep", "60").returncode == 0
        ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN nslookup dybuild-peer 127.0.0.11; ping -c1 -W2 dybuild-peer\n"})
        out = build(clean, ctx, "--no-cache", "--network", "dybuild-net")
        peer = clean.api("GET", "/containers/dybuild-peer/json")["NetworkSettings"]["Networks"]["dybuild-net"]
        assert out.returncode == 0, out.stderr
        assert peer["IPAddress"] in out.stdout.decode(), out.stdout.decode()
    finally:
        clean.docker("rm", "-f", "dybuild-peer")
        clean.docker("network", "rm", "dybuild-net")
