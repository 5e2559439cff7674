"""End to end builds through the real docker CLI (classic builder API) and the Docker SDK."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import pytest

from daemon_harness import Daemon, busybox_daemon
from helpers import file_member, link_member, tar_of


def write(root: Path, files: dict[str, str]) -> Path:
    """Create a build context directory."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def build(d: Daemon, ctx: Path, *args: str, timeout: float = 120):
    """`docker build` through the classic builder API."""
    env = d.env()
    env["DOCKER_BUILDKIT"] = "0"
    import subprocess
    return subprocess.run(["docker", "build", *args, str(ctx)], env=env, capture_output=True, timeout=timeout)


def rmi(d: Daemon, *names: str) -> None:
    for name in names:
        d.request("DELETE", f"/images/{name}?force=1")


MULTI = """\
FROM busybox AS compile
WORKDIR /src
COPY hello.txt .
RUN tr a-z A-Z < hello.txt > /out.txt && echo compiled
FROM busybox
COPY --from=compile /out.txt /greeting
CMD ["cat", "/greeting"]
"""


@pytest.mark.usefixtures("need_docker_cli")
def test_multistage_run_history_and_cache(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": MULTI, "hello.txt": "hello build\n"})
    first = build(clean, ctx, "-t", "dybuild-multi:1")
    assert first.returncode == 0, first.stderr.decode() + first.stdout.decode()
    out = first.stdout.decode()
    assert "Step 1/7 : FROM busybox AS compile" in out
    assert "compiled" in out
    assert "Successfully tagged dybuild-multi:1" in out
    try:
        run = clean.docker("run", "--rm", "dybuild-multi:1")
        assert run.stdout == b"HELLO BUILD\n", run.stderr
        history = clean.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "dybuild-multi:1")
        assert history.returncode == 0
        assert 'CMD ["cat","/greeting"]' in history.stdout.decode().replace(", ", ",")
        assert "COPY file:" in history.stdout.decode()
        again = build(clean, ctx, "-t", "dybuild-multi:1")
        assert again.returncode == 0
        text = again.stdout.decode()
        assert text.count("Using cache") == 5, text
        assert "\ncompiled\n" not in text
        (ctx / "hello.txt").write_text("changed\n")
        changed = build(clean, ctx, "-t", "dybuild-multi:1")
        text = changed.stdout.decode()
        assert changed.returncode == 0
        assert text.count("Using cache") == 1, text  # only WORKDIR before the COPY
        assert "\ncompiled\n" in text
        assert clean.docker("run", "--rm", "dybuild-multi:1").stdout == b"CHANGED\n"
    finally:
        rmi(clean, "dybuild-multi:1")


@pytest.mark.usefixtures("need_docker_cli")
def test_mtime_only_change_stays_cached(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt\n", "a.txt": "same\n"})
    assert build(clean, ctx, "-t", "dybuild-mtime").returncode == 0
    try:
        future = time.time() + 100
        import os
        os.utime(ctx / "a.txt", (future, future))
        text = build(clean, ctx, "-t", "dybuild-mtime").stdout.decode()
        assert text.count("Using cache") == 2, text
    finally:
        rmi(clean, "dybuild-mtime")


@pytest.mark.usefixtures("need_docker_cli")
def test_build_arg_rebuilds_only_steps_using_it(clean: Daemon, tmp_path: Path) -> None:
    dockerfile = "FROM busybox\nRUN echo first > /first\nARG FLAVOR=plain\nRUN echo $FLAVOR > /flavor\n"
    ctx = write(tmp_path, {"Dockerfile": dockerfile})
    assert build(clean, ctx, "-t", "dybuild-arg", "--build-arg", "FLAVOR=a").returncode == 0
    try:
        text = build(clean, ctx, "-t", "dybuild-arg", "--build-arg", "FLAVOR=b").stdout.decode()
        steps = text.split("Step ")
        assert "Using cache" in steps[2] and "Using cache" in steps[3], text
        assert "Using cache" not in steps[4], text
        assert clean.docker("run", "--rm", "dybuild-arg", "cat", "/flavor").stdout == b"b\n"
    finally:
        rmi(clean, "dybuild-arg")


@pytest.mark.usefixtures("need_docker_cli")
def test_independent_stages_run_in_parallel(clean: Daemon, tmp_path: Path) -> None:
    dockerfile = ("FROM busybox AS one\nRUN sleep 3 && echo one > /one\n"
                  "FROM busybox AS two\nRUN sleep 3 && echo two > /two\n"
                  "FROM busybox\nCOPY --from=one /one /one\nCOPY --from=two /two /two\n")
    ctx = write(tmp_path, {"Dockerfile": dockerfile})
    started = time.monotonic()
    result = build(clean, ctx, "--no-cache", "-t", "dybuild-par")
    elapsed = time.monotonic() - started
    try:
        assert result.returncode == 0, result.stderr
        assert elapsed < 5.5, elapsed
    finally:
        rmi(clean, "dybuild-par")


@pytest.mark.usefixtures("need_docker_cli")
def test_failing_run_reports_docker_message(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
    result = build(clean, ctx)
    assert result.returncode == 1
    assert "The command '/bin/sh -c exit 3' returned a non-zero code: 3" in result.stderr.decode()


@pytest.mark.usefixtures("need_docker_cli")
def test_errors_name_the_problem(clean: Daemon, tmp_path: Path) -> None:
    cases = {
        "FROM busybox\nFROOM x\n": "unknown instruction: FROOM",
        "FROM busybox\nCOPY missing.txt /\n": "missing.txt",
        "FROM busybox\nCOPY --from=nowhere /a /b\n": "nowhere",
    }
    for dockerfile, expected in cases.items():
        ctx = write(tmp_path / str(abs(hash(dockerfile))), {"Dockerfile": dockerfile})
        result = build(clean, ctx)
        assert result.returncode == 1, dockerfile
        assert expected in result.stderr.decode(), result.stderr.decode()


def test_sdk_build_with_buildargs(sdk, tmp_path: Path) -> None:
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nARG WHO\nRUN echo hello $WHO > /who\n"
                           "COPY keep.txt /\n", "keep.txt": "k\n", "skip.txt": "s\n", ".dockerignore": "skip.txt\n"})
    image, logs = sdk.images.build(path=str(ctx), tag="dybuild-sdk:1", buildargs={"WHO": "sdk"})
    try:
        text = "".join(entry.get("stream", "") for entry in logs)
        assert "Successfully built" in text
        assert "dybuild-sdk:1" in image.tags
        out = sdk.containers.run("dybuild-sdk:1", ["cat", "/who"], remove=True)
        assert out == b"hello sdk\n"
    finally:
        sdk.images.remove("dybuild-sdk:1", force=True)


@pytest.mark.parametrize("entry", [
    file_member("../escape.txt", b"x"), file_member("/abs.txt", b"x"), file_member("a/../../up.txt", b"x"),
    link_member("evil", "../../../etc", tarfile.SYMTYPE), link_member("hard", "../../etc/passwd", tarfile.LNKTYPE),
])
def test_hostile_context_refused(clean: Daemon, entry) -> None:
    body = tar_of(file_member("Dockerfile", b"FROM busybox\n"), entry)
    status, raw = clean.request("POST", "/build", body, {"Content-Type": "application/x-tar"})
    assert status == 400, raw
    assert b"message" in raw
    assert not (clean.base / "escape.txt").exists() and not (clean.base / "up.txt").exists()


def test_api_stream_and_prune(clean: Daemon) -> None:
    body = tar_of(file_member("Dockerfile", b"FROM busybox\nENV A=1\nLABEL x=y\n"))
    status, raw = clean.request("POST", "/build?t=dybuild-api&labels=%7B%22k%22%3A%22v%22%7D", body,
                                {"Content-Type": "application/x-tar"})
    assert status == 200
    lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
    ids = [line["aux"]["ID"] for line in lines if "aux" in line]
    assert ids and ids[0].startswith("sha256:")
    assert clean.api("GET", "/images/dybuild-api/json")["Config"]["Labels"] == {"x": "y", "k": "v"}
    pruned = clean.api("POST", "/build/prune")
    assert pruned["CachesDeleted"]
    assert clean.api("GET", "/images/dybuild-api/json")["Id"] == ids[0]
    rmi(clean, "dybuild-api")


FEATURES = """\
FROM busybox AS tools
RUN mkdir -p /opt && echo tool > /opt/tool
FROM busybox
ARG GREETING=hi
ENV WHO=world
WORKDIR /app
COPY --chmod=600 --chown=12:34 data/*.txt ./
ADD bundle.tar /unpacked/
COPY <<EOF /app/generated
${GREETING} ${WHO}
EOF
RUN --mount=type=cache,target=/cache echo x >> /cache/count && wc -l < /cache/count > /app/cachecount
RUN --mount=type=bind,from=tools,source=/opt,target=/mnt cp /mnt/tool /app/tool
RUN <<EOF
echo from heredoc > /app/heredoc
EOF
"""


def test_dockyard_cli_features_and_builder_prune(clean: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"data/a.txt": "A\n", "data/b.txt": "B\n", "data/c.md": "C\n"})
    with tarfile.open(ctx / "bundle.tar", "w") as tar:
        info = tarfile.TarInfo("inner/file")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"in\n"))
    dockerfile = write(tmp_path / "elsewhere", {"My.Dockerfile": FEATURES}) / "My.Dockerfile"
    result = clean.cli("build", "-f", str(dockerfile), "-t", "dybuild-feat", "--build-arg", "GREETING=hello",
                       "--label", "team=core", str(ctx), timeout=120)
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    assert "Successfully tagged dybuild-feat:latest" in result.stdout.decode()
    try:
        def cat(path: str) -> str:
            return clean.docker("run", "--rm", "dybuild-feat", "cat", path).stdout.decode()
        assert cat("/app/a.txt") == "A\n" and cat("/app/b.txt") == "B\n"
        assert clean.docker("run", "--rm", "dybuild-feat", "stat", "-c", "%a %u %g", "/app/a.txt").stdout == b"600 12 34\n"
        assert clean.docker("run", "--rm", "dybuild-feat", "ls", "/app/c.md").returncode != 0
        assert cat("/unpacked/inner/file") == "in\n"
        assert cat("/app/generated") == "hello world\n"
        assert cat("/app/tool") == "tool\n" and cat("/app/heredoc") == "from heredoc\n"
        assert clean.api("GET", "/images/dybuild-feat/json")["Config"]["Labels"] == {"team": "core"}
        again = clean.cli("build", "--no-cache", "-q", "-f", str(dockerfile), "-t", "dybuild-feat", str(ctx), timeout=120)
        assert again.returncode == 0 and again.stdout.decode().strip().startswith("sha256:")
        assert cat("/app/cachecount").strip() == "2"  # the cache mount kept the first build's line
        pruned = clean.cli("builder", "prune", "-f")
        assert pruned.returncode == 0 and "Total reclaimed space" in pruned.stdout.decode()
        target = clean.cli("build", "-q", "--target", "tools", "-f", str(dockerfile), str(ctx), timeout=120)
        assert target.returncode == 0
        image = target.stdout.decode().strip()
        assert clean.docker("run", "--rm", image, "cat", "/opt/tool").stdout == b"tool\n"
        clean.request("DELETE", f"/images/{image}?force=1")
    finally:
        rmi(clean, "dybuild-feat")


def test_cache_survives_daemon_restart(tmp_path: Path) -> None:
    with busybox_daemon() as d:
        ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN cat /f\n", "f": "x\n"})
        assert d.cli("build", "-t", "restart", str(ctx)).returncode == 0
        d.stop()
        d.start()
        out = d.cli("build", "-t", "restart", str(ctx)).stdout.decode()
        assert out.count("Using cache") == 2, out
