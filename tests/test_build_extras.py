"""Builds with --cache-from, RUN limits, ADD of a URL, ONBUILD triggers, pulls and writable context binds."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Iterator

import pytest
from daemon_harness import Daemon
from test_build_e2e import build, rmi, write

pytestmark = pytest.mark.usefixtures("need_docker_cli")


def _image_id(d: Daemon, name: str) -> str:
    return d.api("GET", f"/images/{name}/json")["Id"]


CACHE_FROM = """\
FROM busybox
ENV STAGE=one
COPY data.txt /data.txt
RUN echo ran-the-step && cp /data.txt /copy.txt
CMD ["cat", "/copy.txt"]
"""


def test_cache_from_uses_an_images_history(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": CACHE_FROM, "data.txt": "cached from\n"})
    first = build(clean, ctx, "-t", "dybuild-cachefrom:src")
    assert first.returncode == 0, first.stderr.decode()
    source = _image_id(clean, "dybuild-cachefrom:src")
    try:
        assert clean.docker("builder", "prune", "-f").returncode == 0
        reused = build(clean, ctx, "--cache-from", "dybuild-cachefrom:src", "-t", "dybuild-cachefrom:new")
        text = reused.stdout.decode()
        assert reused.returncode == 0, reused.stderr.decode()
        assert text.count("Using cache") == 4, text
        assert "\nran-the-step\n" not in text
        assert _image_id(clean, "dybuild-cachefrom:new") == source
        assert clean.docker("run", "--rm", "dybuild-cachefrom:new").stdout == b"cached from\n"
        (ctx / "data.txt").write_text("changed\n")
        changed = build(clean, ctx, "--cache-from", "dybuild-cachefrom:src", "-t", "dybuild-cachefrom:new")
        text = changed.stdout.decode()
        assert changed.returncode == 0 and text.count("Using cache") == 1 and "\nran-the-step\n" in text, text
        assert clean.docker("run", "--rm", "dybuild-cachefrom:new").stdout == b"changed\n"
    finally:
        rmi(clean, "dybuild-cachefrom:new", "dybuild-cachefrom:src")


def test_cache_from_restores_intermediate_steps(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": CACHE_FROM, "data.txt": "middle\n"})
    assert build(clean, ctx, "-t", "dybuild-cachefrom:full").returncode == 0
    try:
        assert clean.docker("builder", "prune", "-f").returncode == 0
        (ctx / "Dockerfile").write_text(CACHE_FROM.replace('CMD ["cat", "/copy.txt"]', 'CMD ["cat", "/data.txt"]'))
        out = build(clean, ctx, "--cache-from", "dybuild-cachefrom:full", "-t", "dybuild-cachefrom:other")
        text = out.stdout.decode()
        assert out.returncode == 0, out.stderr.decode()
        assert text.count("Using cache") == 3 and "\nran-the-step\n" not in text, text
        run = clean.docker("run", "--rm", "dybuild-cachefrom:other", "cat", "/copy.txt")
        assert run.stdout == b"middle\n", run.stderr
        no_source = build(clean, ctx, "--no-cache", "--cache-from", "dybuild-cachefrom:full")
        assert "Using cache" not in no_source.stdout.decode()
    finally:
        rmi(clean, "dybuild-cachefrom:other", "dybuild-cachefrom:full")


def test_run_steps_get_memory_and_cpu_limits(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                          "/sys/fs/cgroup/cpu/cpu.shares\n"})
    if not Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists():
        pytest.skip("needs the cgroup v1 memory controller")
    out = build(clean, ctx, "--memory", "64m", "--cpu-shares", "512", "--no-cache")
    assert out.returncode == 0, out.stderr.decode()
    assert f"\n{64 << 20}\n512\n" in out.stdout.decode()
    bad = build(clean, ctx, "--memory", "1m")
    assert bad.returncode != 0 and b"Minimum memory limit allowed is 6MB" in bad.stderr


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local http.server on 127.0.0.1 serving a directory; yields (base URL, directory)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_add_url_downloads_and_caches_by_content(clean: Daemon, tmp_path: Path, web: tuple[str, Path]) -> None:
    url, www = web
    (www / "payload.txt").write_text("from the web\n")
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nADD {url}/payload.txt /fetched/\n"
                                                 "RUN cat /fetched/payload.txt && stat -c %a /fetched/payload.txt\n"})
    try:
        first = build(clean, ctx, "-t", "dybuild-addurl")
        text = first.stdout.decode()
        assert first.returncode == 0, first.stderr.decode()
        assert "from the web\n600\n" in text
        again = build(clean, ctx, "-t", "dybuild-addurl")
        assert again.stdout.decode().count("Using cache") == 2
        (www / "payload.txt").write_text("new content\n")
        changed = build(clean, ctx, "-t", "dybuild-addurl")
        assert changed.returncode == 0 and "new content\n" in changed.stdout.decode()
        assert "Using cache" not in changed.stdout.decode()
        missing = build(clean, write(tmp_path / "bad", {"Dockerfile": f"FROM busybox\nADD {url}/absent /x\n"}))
        assert missing.returncode == 1 and b"404" in missing.stderr
    finally:
        rmi(clean, "dybuild-addurl")


def test_onbuild_triggers_run_in_the_child(clean: Daemon, tmp_path: Path) -> None:
    base = write(tmp_path / "base", {"Dockerfile": "FROM busybox\nONBUILD COPY note.txt /note.txt\n"
                                                   "ONBUILD RUN echo trigger-ran && cat /note.txt > /seen\n"})
    child = write(tmp_path / "child", {"Dockerfile": "FROM dybuild-onbuild:base\nCMD [\"cat\", \"/seen\"]\n",
                                       "note.txt": "noted\n"})
    try:
        made = build(clean, base, "-t", "dybuild-onbuild:base")
        assert made.returncode == 0 and "\ntrigger-ran\n" not in made.stdout.decode(), made.stderr.decode()
        config = clean.api("GET", "/images/dybuild-onbuild:base/json")["Config"]
        assert config["OnBuild"] == ["COPY note.txt /note.txt", "RUN echo trigger-ran && cat /note.txt > /seen"]
        out = build(clean, child, "-t", "dybuild-onbuild:child")
        text = out.stdout.decode()
        assert out.returncode == 0, out.stderr.decode()
        assert "# Executing 2 build triggers" in text and "\ntrigger-ran\n" in text
        assert clean.docker("run", "--rm", "dybuild-onbuild:child").stdout == b"noted\n"
        assert not clean.api("GET", "/images/dybuild-onbuild:child/json")["Config"].get("OnBuild")
    finally:
        rmi(clean, "dybuild-onbuild:child", "dybuild-onbuild:base")


def test_writable_context_bind_leaves_the_context_alone(clean: Daemon, tmp_path: Path) -> None:
    dockerfile = ("FROM busybox\nRUN --mount=type=bind,source=.,target=/ctx,rw=true "
                  "sh -c 'echo scribble >> /ctx/f.txt && cat /ctx/f.txt'\nCOPY f.txt /f.txt\n")
    ctx = write(tmp_path, {"Dockerfile": dockerfile, "f.txt": "pristine\n"})
    try:
        out = build(clean, ctx, "--no-cache", "-t", "dybuild-rwbind")
        assert out.returncode == 0 and "pristine\nscribble\n" in out.stdout.decode(), out.stderr.decode()
        assert clean.docker("run", "--rm", "dybuild-rwbind", "cat", "/f.txt").stdout == b"pristine\n"
        again = build(clean, ctx, "--no-cache", "-t", "dybuild-rwbind")
        assert "pristine\nscribble\n" in again.stdout.decode()
    finally:
        rmi(clean, "dybuild-rwbind")


def test_base_image_that_cannot_be_pulled(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM localhost:1/dockyard-absent:1\n"})
    out = build(clean, ctx)
    assert out.returncode == 1 and b"localhost:1" in out.stderr, out.stderr
    pulled = build(clean, write(tmp_path / "b", {"Dockerfile": "FROM busybox\n"}), "--pull")
    assert pulled.returncode == 1, pulled.stdout  # busybox here is local only: docker fails the same way
    status, raw = clean.request("POST", "/build?memory=abc", b"", {"Content-Type": "application/x-tar"})
    assert status == 400 and b"memory" in raw
    assert json.loads(raw)["message"]
