"""`docker ps` latency over unix, TLS and ssh: Dockyard and Debian's dockerd side by side, each in a network
namespace "host" (tests/netns_hosts.py), clients in the switch namespace for TLS and ssh.

    .venv/bin/python bench/transports.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_harness import DOCKYARD, REPO  # noqa: E402
from engine import remove_cgroup_parent, timed  # noqa: E402
from netns_hosts import Lan, Netns, NetnsDaemon, SshServer, entered, retire  # noqa: E402

CGROUP_PARENT = f"dy-bench-transports-{os.getpid()}"


def wait_port(netns: Netns, address: str, port: int) -> None:
    """Wait until address:port accepts connections, seen from `netns`."""
    for _ in range(300):
        with entered(netns), socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex((address, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{address}:{port} did not open")


def start_dockerd(host: Netns, base: Path, certs: Path) -> subprocess.Popen:
    """Debian's dockerd in `host`: a unix socket and tcp://<address>:2377 with --tlsverify."""
    base.mkdir(parents=True)
    log = open(base / "dockerd.log", "wb")
    return subprocess.Popen(host.prefix() + [
        "dockerd", "-H", f"unix://{base}/docker.sock", "-H", f"tcp://{host.address}:2377", "--tlsverify",
        "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "server-cert.pem"), "--tlskey",
        str(certs / "server-key.pem"), "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
        "--pidfile", str(base / "docker.pid"), "--bridge", "none", "--iptables=false", "--ip6tables=false",
        "--cgroup-parent", CGROUP_PARENT], stdout=log, stderr=subprocess.STDOUT)


def stop_dockerd(proc: subprocess.Popen, base: Path) -> None:
    proc.terminate()
    proc.wait(60)
    subprocess.run(["umount", "-R", str(base / "exec")], capture_output=True)
    subprocess.run(["umount", "-R", str(base / "data")], capture_output=True)
    remove_cgroup_parent(CGROUP_PARENT)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    base = Path(tempfile.mkdtemp(prefix="dy-bench-tr-"))
    with Lan("dybtr", 1) as lan:
        host = lan.hosts[0]
        subprocess.run(DOCKYARD + ["tls", "create", "--dir", str(base / "certs"), host.address], check=True,
                       capture_output=True, cwd=REPO)
        certs, client = base / "certs", base / "certs" / "client"
        dockyard = NetnsDaemon(host, base / "dockyard", [
            "-H", f"tcp://{host.address}:2376", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
            "--tlscert", str(certs / "server-cert.pem"), "--tlskey", str(certs / "server-key.pem")])
        dockerd = start_dockerd(host, base / "dockerd", certs) if shutil.which("dockerd") else None
        path = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
        sshds = {"dockyard": SshServer(host, base / "ssh-dy", {"DOCKER_HOST": dockyard.host, "PATH": path}, 22)}
        if dockerd is not None:
            sshds["dockerd"] = SshServer(host, base / "ssh-dd", {
                "DOCKER_HOST": f"unix://{base}/dockerd/docker.sock", "PATH": "/usr/local/bin:/usr/bin:/bin"}, 2222)
        try:
            dockyard.start()
            for server in sshds.values():
                server.start()
                wait_port(lan.switch, host.address, server.port)
            ports = {"dockyard": 2376, "dockerd": 2377}
            sockets = {"dockyard": dockyard.socket, "dockerd": base / "dockerd" / "docker.sock"}
            if dockerd is not None:
                wait_port(lan.switch, host.address, 2377)
            clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
            clean["DOCKER_CONFIG"] = str(base / "config")
            rows = []
            for name in sshds:
                tls_env = dict(clean, DOCKER_HOST=f"tcp://{host.address}:{ports[name]}", DOCKER_TLS_VERIFY="1",
                               DOCKER_CERT_PATH=str(client))
                port = "" if sshds[name].port == 22 else f":{sshds[name].port}"
                ssh_env = dict(clean, DOCKER_HOST=f"ssh://root@{host.address}{port}",
                               PATH=f"{sshds[name].bin_dir}:{clean['PATH']}")
                rows.append((name, timed(["docker", "ps"], dict(clean, DOCKER_HOST=f"unix://{sockets[name]}"), runs),
                             timed(lan.switch.prefix() + ["docker", "ps"], tls_env, runs),
                             timed(lan.switch.prefix() + ["docker", "ps"], ssh_env, runs)))
            print(f"docker ps, median of {runs} (ms)   unix      tls      ssh")
            for name, unix, tls, ssh in rows:
                print(f"  {name:<28} {unix * 1000:7.1f}  {tls * 1000:7.1f}  {ssh * 1000:7.1f}")
            if len(rows) == 2:
                ratios = [f"{a / b:.2f}x" for a, b in zip(rows[0][1:], rows[1][1:])]
                print(f"  {'dockyard / dockerd':<28} {ratios[0]:>7}  {ratios[1]:>7}  {ratios[2]:>7}")
        finally:
            for server in sshds.values():
                server.stop()
            if dockerd is not None:
                stop_dockerd(dockerd, base / "dockerd")
            retire(dockyard, base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
