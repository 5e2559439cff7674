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
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from daemon_harness import Daemon

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


def leftovers(prefix: str) -> list[str]:
    """Namespaces of ours still present (for teardown assertions)."""
    return sorted(p.name for p in NETNS_DIR.glob(f"{prefix}-*")) if NETNS_DIR.exists() else []
