"""Build times: cold, fully cached and one-file-changed rebuilds of a 50 MB context, dockyard vs dockerd.

Target (issue 4): cached and one-file-changed rebuilds at most half of dockerd's (classic builder) time.
Both daemons are driven by the same real docker CLI with DOCKER_BUILDKIT=0.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from daemon_harness import destroy, new_daemon  # noqa: E402
from engine import Dockerd  # noqa: E402

DOCKERFILE = """\
FROM busybox
WORKDIR /app
COPY big/ /app/big/
COPY small.txt /app/
RUN wc -c /app/small.txt > /app/size
CMD ["cat", "/app/size"]
"""


def make_context(root: Path) -> None:
    """50 files of 1 MB of random bytes, a small file and the Dockerfile."""
    (root / "big").mkdir(parents=True)
    for n in range(50):
        (root / "big" / f"blob{n:02}").write_bytes(os.urandom(1 << 20))
    (root / "small.txt").write_text("v1\n")
    (root / "Dockerfile").write_text(DOCKERFILE)


def timed_build(env: dict[str, str], ctx: Path, *extra: str) -> float:
    """Wall time of one `docker build` through the classic builder."""
    start = time.perf_counter()
    subprocess.run(["docker", "build", "-q", *extra, "-t", "bench-build", str(ctx)],
                   env={**env, "DOCKER_BUILDKIT": "0"}, check=True, capture_output=True)
    return time.perf_counter() - start


def scenario(env: dict[str, str], ctx: Path) -> list[float]:
    """cold (no cache), cached, then small.txt changed."""
    (ctx / "small.txt").write_text("v1\n")
    cold = timed_build(env, ctx, "--no-cache")
    cached = timed_build(env, ctx)
    (ctx / "small.txt").write_text(f"v{time.time()}\n")
    changed = timed_build(env, ctx)
    return [cold, cached, changed]


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="bench-build-"))
    ours = new_daemon()
    dockerd = Dockerd() if shutil.which("dockerd") else None
    try:
        make_context(base / "ctx")
        ours.start()
        ours.load_busybox()
        mine = scenario(ours.env(), base / "ctx")
        theirs: list[float | None] = [None, None, None]
        if dockerd:
            dockerd.start()
            image = subprocess.run(["docker", "save", "busybox"], env=ours.env(), check=True,
                                   capture_output=True).stdout
            subprocess.run(["docker", "load"], input=image, env=dockerd.env(), check=True, capture_output=True)
            theirs = list(scenario(dockerd.env(), base / "ctx"))
    finally:
        destroy(ours)
        if dockerd:
            dockerd.stop()
        shutil.rmtree(base)
    print(f"{'build of a 50 MB context':40} {'dockyard':>10} {'dockerd':>10} {'ratio':>7}")
    for name, m, t in zip(("cold (--no-cache)", "fully cached", "one file changed"), mine, theirs):
        print(f"{name:40} {m:9.2f}s {(f'{t:9.2f}s' if t else 'absent'):>10} {(f'{m / t:.2f}' if t else 'n/a'):>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
