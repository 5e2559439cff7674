"""The local etcd member: started in its own session (it and quorum survive a daemon restart or SIGKILL, like the
shims), re-adopted by pid at daemon start, stopped and wiped on `swarm leave`.

Layout: `<swarm-dir>/etcd` (data), `<swarm-dir>/etcd.log`, `<swarm-dir>/etcd.sock:1` (etcd 3.4 wants
`unix://host:port` and creates a file literally named `etcd.sock:1` in its working directory, which is
`<swarm-dir>`), `<run-dir>/etcd.pid`. Peers: in part 1 of swarm mode a single member listens for peers on a unix
socket (`peer.sock:1`) — nothing on the network; `MemberConfig.peer_url` is where a multi-node swarm puts its
https://<advertise-ip>:<swarm-port+1> with the swarm CA's certificates."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from dockyard.cluster.etcd.client import EtcdClient, EtcdFailure, EtcdUnavailable
from dockyard.errors import DockyardError, SystemError_

log = logging.getLogger(__name__)

PACKAGE = "etcd-server"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
SUPERVISE_PERIOD = 1.0
SOCKET_NAME = "etcd.sock:1"
PEER_SOCKET_NAME = "peer.sock:1"


class EtcdMissing(SystemError_):
    """The etcd binary is not installed."""

    def __init__(self) -> None:
        super().__init__(f"swarm mode needs etcd: install the Debian package {PACKAGE} "
                         f"(apt-get install {PACKAGE})")


@dataclass(frozen=True)
class MemberConfig:
    """How to start a member. Raft timings follow the swarm spec: docker's 1 s tick becomes 100 ms."""

    name: str
    peer_url: str = f"unix://{PEER_SOCKET_NAME}"
    initial_cluster: str = ""  # "name=peer-url,..."; empty: this member alone
    new_cluster: bool = True
    heartbeat_tick: int = 1
    election_tick: int = 10
    snapshot_count: int = 10000

    def arguments(self, data_dir: Path) -> list[str]:
        """etcd's command line for this member."""
        cluster = self.initial_cluster or f"{self.name}={self.peer_url}"
        client_url = f"unix://{SOCKET_NAME}"
        return ["--name", self.name, "--data-dir", str(data_dir),
                "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
                "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", cluster, "--initial-cluster-state", "new" if self.new_cluster else "existing",
                "--heartbeat-interval", str(self.heartbeat_tick * 100),
                "--election-timeout", str(self.election_tick * 100),
                "--snapshot-count", str(self.snapshot_count),
                "--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000",
                "--listen-metrics-urls", "", "--log-outputs", "stderr", "--enable-pprof=false"]


def etcd_binary() -> str | None:
    """Path of the installed etcd binary."""
    return shutil.which("etcd") or next((p for p in ("/usr/bin/etcd", "/usr/sbin/etcd") if os.access(p, os.X_OK)),
                                        None)


class EtcdMember:
    """Supervises the one local member: start, adopt, wait until it serves, stop, wipe."""

    def __init__(self, swarm_dir: Path, run_dir: Path) -> None:
        self.swarm_dir = swarm_dir
        self.run_dir = run_dir
        self.data_dir = swarm_dir / "etcd"
        self.log_path = swarm_dir / "etcd.log"
        self.pid_path = run_dir / "etcd.pid"
        self.socket_path = swarm_dir / SOCKET_NAME
        self.pid: int | None = None
        self._child: subprocess.Popen[bytes] | None = None

    def client(self) -> EtcdClient:
        """A gateway client on this member's socket."""
        return EtcdClient(self.socket_path)

    def has_data(self) -> bool:
        """Whether a member was ever started here (its data directory exists)."""
        return (self.data_dir / "member").is_dir()

    async def start(self, config: MemberConfig) -> None:
        """Start etcd in its own session and wait until it serves; reuses a live member already running here."""
        if self.adopt():
            await self.wait_ready()
            return
        binary = etcd_binary()
        if binary is None:
            raise EtcdMissing()
        self.swarm_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.swarm_dir, 0o700)
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in (self.socket_path, self.swarm_dir / PEER_SOCKET_NAME):
            stale.unlink(missing_ok=True)
        with open(self.log_path, "ab") as logfile:
            self._child = subprocess.Popen([binary, *config.arguments(self.data_dir)], cwd=self.swarm_dir,
                                           stdin=subprocess.DEVNULL, stdout=logfile, stderr=logfile,
                                           start_new_session=True, close_fds=True)
        self.pid = self._child.pid
        self.pid_path.write_text(f"{self.pid}\n")
        log.info("etcd member %s started (pid %d)", config.name, self.pid)
        try:
            await self.wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def supervise(self, config: MemberConfig) -> None:
        """Start the member again (on its data) whenever it has exited, until cancelled."""
        while True:
            await asyncio.sleep(SUPERVISE_PERIOD)
            if self.alive():
                continue
            log.warning("etcd member (pid %s) exited; starting it again: %s", self.pid, self._log_tail())
            try:
                await self.start(replace(config, new_cluster=False))
            except DockyardError as exc:
                log.error("etcd member could not be started again: %s", exc.message)

    def adopt(self) -> bool:
        """Take over a member a previous daemon started here (by the pid file, checked against /proc)."""
        try:
            pid = int(self.pid_path.read_text())
        except (FileNotFoundError, ValueError):
            return False
        if not self._is_ours(pid):
            self.pid_path.unlink(missing_ok=True)
            return False
        self.pid = pid
        log.info("adopted the running etcd member (pid %d)", pid)
        return True

    def _is_ours(self, pid: int) -> bool:
        """Whether `pid` is an etcd serving this data directory."""
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            return False
        return bool(argv) and os.path.basename(argv[0]) == b"etcd" and str(self.data_dir).encode() in argv

    def alive(self) -> bool:
        """Whether the member process runs."""
        if self.pid is None:
            return False
        if self._child is not None:
            return self._child.poll() is None
        return self._is_ours(self.pid)

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until the member answers with a leader; its log's tail in the error when it never does."""
        client = self.client()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if not self.alive():
                raise SystemError_(f"etcd exited while starting: {self._log_tail()}")
            try:
                status = await client.status()
                if status.get("leader"):
                    return
            except (EtcdUnavailable, EtcdFailure):
                pass  # not serving yet: retried below until the deadline
            if asyncio.get_running_loop().time() > deadline:
                raise SystemError_(f"etcd did not become ready within {timeout:.0f}s: {self._log_tail()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; forget the pid."""
        pid = self.pid
        if pid is not None and self.alive():
            os.kill(pid, signal.SIGTERM)
            deadline = asyncio.get_running_loop().time() + STOP_TIMEOUT
            while self.alive() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            if self.alive():
                os.kill(pid, signal.SIGKILL)
                while self.alive():
                    await asyncio.sleep(0.05)
        if self._child is not None:
            self._child.wait()
        self._child = None
        self.pid = None
        self.pid_path.unlink(missing_ok=True)

    async def destroy(self) -> None:
        """Stop the member and delete its data, log and sockets: nothing of it is left."""
        await self.stop()
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        for path in (self.log_path, self.socket_path, self.swarm_dir / PEER_SOCKET_NAME):
            path.unlink(missing_ok=True)

    def _log_tail(self, lines: int = 5) -> str:
        """The last lines of the member's log."""
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
