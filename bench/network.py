"""Published-port throughput: busybox httpd in a container, wrk on the host over 127.0.0.1, Dockyard against
Debian's dockerd side by side in one run, as ratios.

Target (issue 6): requests per second and throughput through a published port at least docker's.
dockerd runs privately (own data root, exec root, socket, cgroup parent) on a bridge this script creates on a free
subnet, with --iptables=false and --ip-forward=false so it changes no host firewall or sysctl: its published ports
go through docker-proxy, which is also what docker's default setup uses for 127.0.0.1 (its DNAT skips loopback).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_harness import destroy, new_daemon  # noqa: E402
from engine import Dockerd  # noqa: E402

from dockyard.network import bridge, ipam  # noqa: E402

BRIDGE = "dybench0"
SERVER = ("busybox", "sh", "-c", "mkdir /www && head -c 1024 /dev/urandom >/www/small && "
          "head -c 10485760 /dev/zero >/www/big && exec httpd -f -p 8080 -h /www")
UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


class BridgedDockerd(Dockerd):
    """dockerd on a bridge of our own (created on a subnet that collides with no host route, deleted after)."""

    def start(self) -> None:
        subnet = ipam.pick_subnet(bridge.host_routes())
        bridge.ensure_bridge(BRIDGE, f"{ipam.default_gateway(subnet)}/{subnet.prefixlen}", 1500, "dockyard-bench")
        super().start()

    def network_flags(self) -> list[str]:
        return ["--bridge", BRIDGE, "--ip-forward=false", "--ip-masq=false", "--userland-proxy=true"]

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if bridge.owner(BRIDGE) == "dockyard-bench":
                bridge.delete_link(BRIDGE)


def wrk(url: str, connections: int, seconds: int) -> tuple[float, float, int]:
    """(requests per second, bytes per second, socket errors and non-2xx answers) that wrk measured."""
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failures = (sum(int(n) for n in errors.groups()) if errors else 0) + (int(bad.group(1)) if bad else 0)
    return rps, float(value) * UNITS[unit], failures


def serve(docker: Callable[..., None], port: int) -> str:
    """Start the server published on 127.0.0.1:port and wait for it; its URL prefix."""
    docker("run", "-d", "--name", "bench-httpd", "-p", f"127.0.0.1:{port}:8080", *SERVER)
    for _ in range(100):
        if subprocess.run(["wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}/small"],
                          capture_output=True).returncode == 0:
            return f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    raise RuntimeError("the server never answered")


def measure(url: str, seconds: int) -> dict[str, float]:
    """Requests per second on the small file, bytes per second on the big one."""
    rps, _, small_errors = wrk(f"{url}/small", 32, seconds)
    _, throughput, big_errors = wrk(f"{url}/big", 4, seconds)
    return {"small": rps, "big": throughput, "errors": small_errors + big_errors}


def docker_cli(env: dict[str, str]) -> Callable[..., None]:
    """`docker ...` against one daemon."""
    def run(*a: str) -> None:
        subprocess.run(["docker", *a], env=env, check=True, capture_output=True)
    return run


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing (scripts/setup.sh installs it)")
    ours = new_daemon()
    ours.start()
    dockerd = BridgedDockerd() if shutil.which("dockerd") else None
    samples: dict[str, list[dict[str, float]]] = {"ours": [], "theirs": []}
    try:
        ours.load_busybox()
        urls = {"ours": serve(docker_cli(ours.env()), free_port())}
        if dockerd:
            dockerd.start()
            image = subprocess.run(["docker", "save", "busybox"], env=ours.env(), check=True,
                                   capture_output=True).stdout
            subprocess.run(["docker", "load"], input=image, env=dockerd.env(), check=True, capture_output=True)
            urls["theirs"] = serve(docker_cli(dockerd.env()), free_port())
        order = list(urls.items())
        for _ in range(args.rounds):  # alternate who goes first, so that noise and warm-up hit both alike
            for who, url in order:
                samples[who].append(measure(url, args.seconds))
            order.reverse()
    finally:
        ours.remove_all_containers()
        destroy(ours)
        if dockerd:
            docker_cli(dockerd.env())("rm", "-f", "bench-httpd")
            dockerd.stop()
    mine = {key: statistics.median(s[key] for s in samples["ours"]) for key in ("small", "big")}
    theirs = {key: statistics.median(s[key] for s in samples["theirs"]) for key in ("small", "big")} \
        if samples["theirs"] else None
    rows = [("requests/s, 1 KB file, 32 connections (higher is better)", "small", 1, "req/s"),
            ("throughput, 10 MB file, 4 connections (higher is better)", "big", 1 << 20, "MiB/s")]
    print(f"{'published port on 127.0.0.1 (median of rounds)':58} {'ours':>12} {'dockerd':>12} {'ours/theirs':>11}")
    for name, key, scale, unit in rows:
        other = f"{theirs[key] / scale:9.0f} {unit}" if theirs else "absent"
        ratio = f"{mine[key] / theirs[key]:.2f}" if theirs else "n/a"
        print(f"{name:58} {mine[key] / scale:7.0f} {unit:>5} {other:>12} {ratio:>11}")
    errors = {who: sum(int(s["errors"]) for s in runs) for who, runs in samples.items()}
    print(f"socket errors and failed requests over all rounds: ours {errors['ours']}, dockerd {errors['theirs']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
