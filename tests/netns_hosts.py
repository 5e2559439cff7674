"""Several "hosts" on one machine for tests: network namespaces joined by a bridge in a "switch" namespace.

    with Lan("dytls", hosts=2) as lan:
        lan.hosts[0].address            # 10.x.y.1, reachable from the switch and the other hosts only
        lan.switch.run(["docker", ...])  # a client "outside" the hosts
        daemon = NetnsDaemon(lan.hosts[0], base, extra_args=[...]); daemon.start()

Every address lives inside the test's namespaces (nothing is routed or configured in the root namespace);
links are created directly in their namespaces, so deleting the namespaces removes them all. Daemons run
under `nsenter --net` (not `ip netns exec`): the mount namespace stays shared, so the suite's mount and
cgroup leak checks still see everything. Swarm tests use the same harness.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from daemon_harness import Daemon, destroy

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


def _ip(*args: str) -> None:
    """Run `ip`, which must succeed."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass
class Netns:
    """One named network namespace (`ip netns add`)."""

    name: str
    address: str = ""  # its address on the LAN, if any

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def prefix(self) -> list[str]:
        """A command prefix that runs a program in this namespace."""
        return ["nsenter", f"--net={self.path}", "--"]

    def run(self, argv: list[str], **options: object) -> subprocess.CompletedProcess:
        """Run a program in this namespace (subprocess.run options pass through; output captured)."""
        options.setdefault("capture_output", True)
        options.setdefault("timeout", 120)
        return subprocess.run(self.prefix() + argv, **options)  # type: ignore[call-overload]

    def ip(self, *args: str) -> None:
        """`ip` inside this namespace."""
        _ip("-n", self.name, *args)


@contextlib.contextmanager
def entered(netns: Netns | str | Path) -> Iterator[None]:
    """Run the calling thread inside a network namespace (a Netns, or a path such as /proc/PID/ns/net): the
    sockets it creates belong there; then return it to its own (setns is per thread)."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns.path if isinstance(netns, Netns) else netns, os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(own)
        os.close(target)


@dataclass
class Lan:
    """A switch namespace with a bridge and `hosts` host namespaces, each with a veth on the bridge."""

    prefix: str
    hosts_wanted: int = 1
    run_id: str = field(default_factory=lambda: secrets.token_hex(2))
    switch: Netns = field(init=False)
    hosts: list[Netns] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.switch = Netns(f"{self.prefix}-{self.run_id}-sw")
        # 10.<200-249>.<rand>.0/24: private, and only ever inside this run's namespaces
        self.subnet = f"10.{200 + int(self.run_id[:2], 16) % 50}.{int(self.run_id[2:], 16)}"

    def __enter__(self) -> Lan:
        try:
            self._build()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def _build(self) -> None:
        _ip("netns", "add", self.switch.name)
        self.switch.ip("link", "set", "lo", "up")
        self.switch.ip("link", "add", "br0", "type", "bridge")
        self.switch.ip("addr", "add", f"{self.subnet}.254/24", "dev", "br0")
        self.switch.ip("link", "set", "br0", "up")
        self.switch.address = f"{self.subnet}.254"
        for n in range(1, self.hosts_wanted + 1):
            host = Netns(f"{self.prefix}-{self.run_id}-h{n}", f"{self.subnet}.{n}")
            _ip("netns", "add", host.name)
            self.hosts.append(host)
            host.ip("link", "set", "lo", "up")
            host.ip("link", "add", "eth0", "type", "veth", "peer", "name", f"h{n}", "netns", self.switch.name)
            host.ip("addr", "add", f"{host.address}/24", "dev", "eth0")
            host.ip("link", "set", "eth0", "up")
            host.ip("route", "add", "default", "via", self.switch.address)
            self.switch.ip("link", "set", f"h{n}", "master", "br0", "up")

    def destroy(self) -> None:
        """Delete every namespace of this run (their links go with them)."""
        for ns in [*self.hosts, self.switch]:
            if ns.path.exists():
                _ip("netns", "delete", ns.name)


class NetnsDaemon(Daemon):
    """A `dockyard daemon` inside a host namespace: unix socket as usual (tests set it up through it), plus
    whatever listeners `extra_args` asks for."""

    def __init__(self, host: Netns, base: Path, extra_args: list[str] | None = None) -> None:
        super().__init__(base)
        self.netns = host
        self.extra_args = list(extra_args or [])

    def command(self) -> list[str]:
        return self.netns.prefix() + super().command() + self.extra_args


def retire(daemon: Daemon, base: Path) -> None:
    """End a test daemon: its containers removed (when it still runs), stopped, state and `base` deleted."""
    try:
        if daemon.process is not None:
            daemon.remove_all_containers()
    finally:
        destroy(daemon)
        shutil.rmtree(base, ignore_errors=True)


def leftovers(prefix: str) -> list[str]:
    """Namespaces of ours still present (for teardown assertions)."""
    return sorted(p.name for p in NETNS_DIR.glob(f"{prefix}-*")) if NETNS_DIR.exists() else []


class SshServer:
    """An sshd inside a host namespace, on its LAN address, with a key pair made for the test; clients get an
    `ssh` wrapper (first on PATH) that uses that key and trusts only that host key. Nothing outside `base` is
    touched except /run/sshd (sshd's privilege separation directory), made and removed if it was missing."""

    PRIVSEP = Path("/run/sshd")

    def __init__(self, host: Netns, base: Path, session_env: dict[str, str], port: int = 22) -> None:
        self.host = host
        self.port = port
        self.base = base
        self.session_env = session_env
        self.process: subprocess.Popen | None = None
        self.made_privsep = False

    @property
    def bin_dir(self) -> Path:
        """Put this first on a client's PATH."""
        return self.base / "bin"

    def start(self) -> None:
        base = self.base
        base.mkdir(parents=True, exist_ok=True)
        for key in ("host_ed25519", "id_ed25519"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / key)], check=True,
                           capture_output=True, timeout=30)
        (base / "authorized_keys").write_text((base / "id_ed25519.pub").read_text())
        host_key = (base / "host_ed25519.pub").read_text().split()
        known_as = self.host.address if self.port == 22 else f"[{self.host.address}]:{self.port}"
        (base / "known_hosts").write_text(f"{known_as} {host_key[0]} {host_key[1]}\n")
        env_line = " ".join(f"{k}={v}" for k, v in self.session_env.items())
        (base / "sshd_config").write_text(
            f"ListenAddress {self.host.address}:{self.port}\nHostKey {base}/host_ed25519\nPidFile {base}/sshd.pid\n"
            f"AuthorizedKeysFile {base}/authorized_keys\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            f"SetEnv {env_line}\n")
        (base / "ssh_config").write_text(
            f"Host *\n  IdentityFile {base}/id_ed25519\n  IdentitiesOnly yes\n  UserKnownHostsFile {base}/known_hosts\n"
            "  StrictHostKeyChecking yes\n  BatchMode yes\n")
        self.bin_dir.mkdir(exist_ok=True)
        wrapper = self.bin_dir / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {base}/ssh_config "$@"\n')
        wrapper.chmod(0o755)
        if not self.PRIVSEP.exists():
            self.PRIVSEP.mkdir(mode=0o755)
            self.made_privsep = True
        self.process = subprocess.Popen(self.host.prefix() + ["/usr/sbin/sshd", "-D", "-f", str(base / "sshd_config"),
                                                              "-E", str(base / "sshd.log")])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
        self.process = None
        if self.made_privsep:
            self.PRIVSEP.rmdir()
            self.made_privsep = False
