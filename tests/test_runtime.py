"""Built-in runtime end to end on the real kernel: busybox rootfs, shim, json log, exit codes, namespaces."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

import helpers
from dockyard import errors
from dockyard.oci.spec import ALL_CAPABILITIES, DEFAULT_CAPABILITIES, build_spec
from dockyard.runtime.cgroups import open_cgroup
from dockyard.runtime.client import ShimClient
from dockyard.runtime.jsonlog import JsonLogWriter, rfc3339nano
from dockyard.util import linux

BUSYBOX = "/usr/bin/busybox"
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(BUSYBOX), reason="needs root and busybox")


def make_rootfs(lower: Path) -> None:
    """A busybox root filesystem: /bin/busybox plus one symlink per applet, /etc/passwd."""
    (lower / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, lower / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            (lower / "bin" / applet).symlink_to("busybox")
    (lower / "etc").mkdir()
    (lower / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")


@pytest.fixture(scope="module")
def lower() -> Iterator[Path]:
    """One read-only busybox tree shared by every test's overlay."""
    with tempfile.TemporaryDirectory(prefix="dockyard-rt-lower-") as tmp:
        make_rootfs(Path(tmp))
        yield Path(tmp)


class Bundle:
    """A bundle whose rootfs/ is an overlay over the busybox tree, with a cgroup path unique to the test."""

    def __init__(self, lower: Path, tmp: Path) -> None:
        self.dir = tmp / "bundle-0123456789ab"
        self.rootfs = self.dir / "rootfs"
        for d in (self.rootfs, tmp / "upper", tmp / "work"):
            d.mkdir(parents=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={tmp / 'upper'},workdir={tmp / 'work'}", str(self.rootfs)],
                       check=True)
        self.log = tmp / "container-json.log"
        self.cgroup_parent = f"/dockyard-test-{os.getpid()}"
        self.cgroup_path = f"{self.cgroup_parent}/{tmp.name}"
        self.client = ShimClient(self.dir)

    def write_spec(self, args: list[str], **kw: object) -> None:
        """config.json for `args` with Docker's defaults."""
        spec = build_spec(args=args, env=["PATH=/usr/bin:/bin", "HOME=/root"], hostname="box0123",
                          cgroups_path=self.cgroup_path, **kw)
        (self.dir / "config.json").write_text(json.dumps(spec))

    def run(self, args: list[str], **kw: object) -> tuple[int, list[dict]]:
        """Launch, wait, and return the exit code and the log entries."""
        self.write_spec(args, **kw)
        self.client.launch(self.log)
        status = asyncio.run(self.client.wait())
        return status.exit_code, self.entries()

    def entries(self) -> list[dict]:
        """The json-file log, parsed."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stdout(self) -> str:
        """All stdout text in the log."""
        return "".join(e["log"] for e in self.entries() if e["stream"] == "stdout")

    def close(self) -> None:
        """Stop anything still running, clean up, unmount, drop the test's cgroup parent."""
        if self.client.alive():
            try:
                self.client.kill(signal.SIGKILL)
            except errors.Conflict:
                pass  # it exited on its own meanwhile
            asyncio.run(self.client.wait())
        self.client.cleanup()
        subprocess.run(["umount", str(self.rootfs)], check=True)
        open_cgroup(self.cgroup_parent).remove()


@pytest.fixture
def bundle(lower: Path, tmp_path: Path) -> Iterator[Bundle]:
    """A fresh bundle per test, fully cleaned up afterwards."""
    b = Bundle(lower, tmp_path)
    try:
        yield b
    finally:
        b.close()


wait_for = functools.partial(helpers.wait_for, timeout=5.0, interval=0.02)  # a runtime's changes come quickly


def test_output_streams_partial_line_and_exit_code(bundle: Bundle) -> None:
    code, entries = bundle.run(["sh", "-c", "echo out; echo err >&2; printf partial; exit 3"])
    assert code == 3
    assert [(e["stream"], e["log"]) for e in entries if e["stream"] == "stdout"] == [
        ("stdout", "out\n"), ("stdout", "partial")]
    assert [e["log"] for e in entries if e["stream"] == "stderr"] == ["err\n"]
    assert all(e["time"].endswith("Z") and "T" in e["time"] for e in entries)
    status = bundle.client.exit_status()
    assert status is not None and status.exit_code == 3 and not status.oom_killed


def test_exit_zero_and_pid1_hostname_cwd(bundle: Bundle) -> None:
    code, _ = bundle.run(["sh", "-c", "echo $$; hostname; pwd"], cwd="/made/by/runtime")
    assert code == 0
    assert bundle.stdout().split() == ["1", "box0123", "/made/by/runtime"]


@pytest.mark.parametrize("args,message,code", [
    (["nosuch"], 'exec: "nosuch": executable file not found in $PATH', 127),
    (["/nosuch"], 'exec: "/nosuch": stat /nosuch: no such file or directory', 127),
    (["/etc/passwd"], 'exec: "/etc/passwd": permission denied', 126),
])
def test_start_failures_use_dockers_messages_and_codes(bundle: Bundle, args: list[str], message: str,
                                                       code: int) -> None:
    bundle.write_spec(args)
    with pytest.raises(errors.RuntimeFailure) as info:
        bundle.client.launch(bundle.log)
    assert info.value.message == message
    assert info.value.exit_code == code
    assert not bundle.client.alive()
    assert not open_cgroup(bundle.cgroup_path).exists()


def test_network_none_has_only_lo_up(bundle: Bundle) -> None:
    code, _ = bundle.run(["sh", "-c", "ls /sys/class/net; ip link show lo"])
    assert code == 0
    out = bundle.stdout().splitlines()
    assert out[0] == "lo"
    assert ",UP," in out[1]


def test_capabilities_are_dockers_default_set(bundle: Bundle) -> None:
    code, _ = bundle.run(["sh", "-c", "grep Cap /proc/self/status"])
    assert code == 0
    caps = dict(line.split(":\t") for line in bundle.stdout().splitlines())
    expected = sum(1 << ALL_CAPABILITIES.index(c) for c in DEFAULT_CAPABILITIES)
    for key in ("CapPrm", "CapEff", "CapBnd"):
        assert int(caps[key], 16) == expected, key
    assert int(caps["CapInh"], 16) == 0 and int(caps["CapAmb"], 16) == 0


def test_rlimits_clamped_to_host_and_masked_paths(bundle: Bundle) -> None:
    rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}]
    code, _ = bundle.run(["sh", "-c", "ulimit -n; cat /proc/timer_list | wc -c; (echo x > /proc/sys/kernel/hostname) 2>&1; echo"],
                         rlimits=rlimits)
    assert code == 0
    lines = bundle.stdout().splitlines()
    assert int(lines[0]) == min(1048576, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    assert lines[1].strip() == "0"
    assert "Read-only file system" in lines[2]


def test_sigkill_gives_137_and_kill_after_exit_conflicts(bundle: Bundle) -> None:
    bundle.write_spec(["sleep", "100"])
    pid = bundle.client.launch(bundle.log)
    assert bundle.client.pid == pid and bundle.client.alive()
    bundle.client.kill(signal.SIGKILL)
    status = asyncio.run(bundle.client.wait())
    assert status.exit_code == 128 + 9
    with pytest.raises(errors.Conflict):
        bundle.client.kill(signal.SIGTERM)
    assert bundle.client.pid is None


def test_wait_from_a_new_client_after_restart(bundle: Bundle) -> None:
    bundle.write_spec(["sh", "-c", "sleep 0.5; exit 7"])
    bundle.client.launch(bundle.log)
    status = asyncio.run(ShimClient(bundle.dir).wait())
    assert status.exit_code == 7 and status.error == ""


def test_container_survives_launcher_sigkill(bundle: Bundle) -> None:
    bundle.write_spec(["sh", "-c", "while true; do echo tick; sleep 0.05; done"])
    launcher = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from dockyard.runtime.client import ShimClient; "
         "print(ShimClient(Path(sys.argv[1])).launch(Path(sys.argv[2])), flush=True); time.sleep(60)",
         str(bundle.dir), str(bundle.log)], stdout=subprocess.PIPE, text=True)
    pid = int(launcher.stdout.readline())
    launcher.kill()
    launcher.wait()
    launcher.stdout.close()
    before = len(bundle.entries())
    wait_for(lambda: len(bundle.entries()) > before + 3)
    assert bundle.client.pid == pid
    assert os.getsid(pid) != os.getsid(0)


def test_pause_resume_and_pids(bundle: Bundle) -> None:
    bundle.write_spec(["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.02; done"])
    pid = bundle.client.launch(bundle.log)
    pids = bundle.client.pids()
    assert pid in pids and len(pids) >= 1
    wait_for(lambda: len(bundle.entries()) > 2)
    bundle.client.pause()
    time.sleep(0.2)  # the shim logs what the process wrote before it froze
    frozen_count = len(bundle.entries())
    time.sleep(0.4)
    assert len(bundle.entries()) == frozen_count
    bundle.client.resume()
    wait_for(lambda: len(bundle.entries()) > frozen_count + 2)


def test_sigkill_ends_a_paused_container(bundle: Bundle) -> None:
    """SIGKILL of a frozen container thaws it (as runc does), so the kill lands and the exit is reported."""
    bundle.write_spec(["sleep", "100"])
    bundle.client.launch(bundle.log)
    bundle.client.pause()
    bundle.client.kill(signal.SIGKILL)
    status = asyncio.run(asyncio.wait_for(bundle.client.wait(), 10))
    assert status.exit_code == 137


def test_cleanup_leaves_nothing(bundle: Bundle) -> None:
    bundle.write_spec(["sleep", "100"])
    pid = bundle.client.launch(bundle.log)
    shim_pid = int((bundle.dir / "shim.pid").read_text())
    with pytest.raises(errors.Conflict):
        bundle.client.cleanup()
    bundle.client.kill(signal.SIGKILL)
    asyncio.run(bundle.client.wait())
    bundle.client.cleanup()
    assert not open_cgroup(bundle.cgroup_path).exists()
    assert sorted(p.name for p in bundle.dir.iterdir()) == ["config.json", "rootfs"]
    for gone in (pid, shim_pid):
        wait_for(lambda: not Path(f"/proc/{gone}").exists())
    mounts = Path("/proc/self/mountinfo").read_text()
    assert mounts.count(str(bundle.dir)) == 1  # only the test's own rootfs overlay


def test_jsonlog_splits_lines_and_long_lines(tmp_path: Path) -> None:
    writer = JsonLogWriter(tmp_path / "log")
    writer.feed("stdout", b"a\nb")
    writer.feed("stderr", b"x\n")
    writer.feed("stdout", b"c\n" + b"z" * (16 * 1024 + 5))
    writer.close()
    entries = [json.loads(line) for line in (tmp_path / "log").read_text().splitlines()]
    assert [(e["stream"], e["log"]) for e in entries] == [
        ("stdout", "a\n"), ("stderr", "x\n"), ("stdout", "bc\n"), ("stdout", "z" * 16384), ("stdout", "zzzzz")]


def test_rfc3339nano_matches_go() -> None:
    assert rfc3339nano(1704164645_123456789) == "2024-01-02T03:04:05.123456789Z"
    assert rfc3339nano(1704164645_120000000) == "2024-01-02T03:04:05.12Z"
    assert rfc3339nano(1704164645_000000000) == "2024-01-02T03:04:05Z"


def test_build_spec_defaults_and_host_network() -> None:
    spec = build_spec(args=["true"], env=[], network_mode="host", cgroups_path="/dockyard/abc")
    types = [ns["type"] for ns in spec["linux"]["namespaces"]]
    assert types == ["mount", "pid", "uts", "ipc"]
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    assert spec["process"]["capabilities"]["bounding"] == DEFAULT_CAPABILITIES
    assert "/proc/kcore" in spec["linux"]["maskedPaths"] and "/proc/sys" in spec["linux"]["readonlyPaths"]
    extra = {"destination": "/etc/hosts", "type": "bind", "source": "/tmp/h", "options": ["rbind", "rprivate"]}
    spec = build_spec(args=["true"], env=[], mounts=[extra], privileged=True)
    assert spec["mounts"][-1] == extra and {"type": "network"} in spec["linux"]["namespaces"]
    assert spec["process"]["capabilities"]["bounding"] == ALL_CAPABILITIES
    assert spec["linux"]["maskedPaths"] == []


def test_link_up_wrapper_rejects_unknown_device() -> None:
    with pytest.raises(OSError):
        linux.link_up("nosuchdev0")
