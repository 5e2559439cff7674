"""Run latency and CLI latency: Dockyard against dockerd on the same machine, in one run, as ratios.

Targets (issue 2): `docker run --rm busybox true` on dockyard at most 1/3 of dockerd's time;
`dockyard ps` at most 2x `docker ps` against the same daemon.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from daemon_harness import destroy, new_daemon  # noqa: E402


def timed(cmd: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of a command, in seconds, after one warm-up run."""
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


CGROUP_PARENT = f"dy-bench-dockerd-{os.getpid()}"  # per run: benchmarks may overlap


class Dockerd:
    """Debian's dockerd on a private data root and socket."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="bench-dockerd-"))
        self.sock = self.base / "docker.sock"
        self.proc: subprocess.Popen | None = None
        self.cgroup_parent = CGROUP_PARENT

    def start(self) -> None:
        log = open(self.base / "dockerd.log", "ab")  # appended: a daemon may be started again
        self.proc = subprocess.Popen(
            [*self.command_prefix(), "dockerd", "-H", f"unix://{self.sock}", "--data-root", str(self.base / "data"),
             "--exec-root", str(self.base / "exec"), "--pidfile", str(self.base / "docker.pid"),
             *self.network_flags(), "--iptables=false", "--ip6tables=false", "--cgroup-parent", self.cgroup_parent,
             "--default-ulimit", "nofile=20000:20000", "--default-ulimit", "nproc=32768:32768"],
            stdout=log, stderr=subprocess.STDOUT)
        env = self.env()
        for _ in range(300):
            if subprocess.run(["docker", "version"], env=env, capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError((self.base / "dockerd.log").read_text())

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.sock}"}

    def command_prefix(self) -> list[str]:
        """What dockerd's command line starts with (a namespace to run in, say): nothing here."""
        return []

    def network_flags(self) -> list[str]:
        """No bridge: run latency is measured with --network none."""
        return ["--bridge", "none"]

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(60)
        for root in ("exec", "data"):  # a dockerd killed once leaves its data root's bind mount on itself
            subprocess.run(["umount", "-R", str(self.base / root)], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)
        remove_cgroup_parent(self.cgroup_parent)


def remove_cgroup_parent(parent: str) -> None:
    """Remove a dockerd's --cgroup-parent directory from every cgroup hierarchy that has it."""
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        if (hierarchy / parent).is_dir():
            (hierarchy / parent).rmdir()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    ours = new_daemon()
    ours.start()
    results: list[tuple[str, float, float | None]] = []
    dockerd = Dockerd() if shutil.which("dockerd") else None
    try:
        ours.load_busybox()
        env = ours.env()
        run_cmd = ["docker", "run", "--rm", "--network", "none", "busybox", "true"]
        ours_run = timed(run_cmd, env, args.runs)
        theirs_run = None
        if dockerd:
            dockerd.start()
            image = subprocess.run(["docker", "save", "busybox"], env=env, check=True, capture_output=True).stdout
            subprocess.run(["docker", "load"], input=image, env=dockerd.env(), check=True, capture_output=True)
            theirs_run = timed(run_cmd, dockerd.env(), args.runs)
        results.append(("docker run --rm busybox true (dockyard vs dockerd)", ours_run, theirs_run))
        for _ in range(5):
            ours.docker("create", "busybox", "true")
        ps_ours = timed([str(Path(sys.executable).parent / "dockyard"), "ps", "-a"], env, args.runs)
        ps_docker = timed(["docker", "ps", "-a"], env, args.runs)
        results.append(("dockyard ps -a vs docker ps -a (same daemon)", ps_ours, ps_docker))
    finally:
        ours.remove_all_containers()
        destroy(ours)
        if dockerd:
            dockerd.stop()
    print(f"{'benchmark':58} {'ours':>9} {'theirs':>9} {'ratio':>7}")
    for name, mine, theirs in results:
        ratio = f"{mine / theirs:.2f}" if theirs else "n/a"
        theirs_text = f"{theirs * 1000:.1f}ms" if theirs else "absent"
        print(f"{name:58} {mine * 1000:7.1f}ms {theirs_text:>9} {ratio:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
