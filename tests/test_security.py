"""Privileges through the real docker CLI: capabilities, seccomp, privileged, masked paths, devices, sysctls."""

from __future__ import annotations

import os

import pytest

from dockyard.oci.spec import ALL_CAPABILITIES, DEFAULT_CAPABILITIES, MASKED_PATHS

pytestmark = pytest.mark.usefixtures("need_docker_cli")


def _mask(names: list[str]) -> int:
    return sum(1 << ALL_CAPABILITIES.index(n) for n in names)


def _caps(clean, *flags: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out = clean.docker("run", "--rm", *flags, "busybox", "grep", "Cap", "/proc/self/status")
    assert out.returncode == 0, out.stderr
    return {line.split(":")[0]: int(line.split()[1], 16) for line in out.stdout.decode().splitlines()}


def _host_bounding() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd"))


def test_default_capabilities_are_dockers(clean) -> None:  # type: ignore[no-untyped-def]
    caps = _caps(clean)
    assert caps["CapEff"] == caps["CapBnd"] == caps["CapPrm"] == _mask(DEFAULT_CAPABILITIES)
    assert caps["CapEff"] == 0x00000000A80425FB  # what `docker run busybox grep Cap /proc/self/status` prints


def test_cap_add_drop_and_all(clean) -> None:  # type: ignore[no-untyped-def]
    caps = _caps(clean, "--cap-add", "net_admin", "--cap-drop", "CAP_CHOWN")
    assert caps["CapEff"] == _mask(DEFAULT_CAPABILITIES) - _mask(["CAP_CHOWN"]) + _mask(["CAP_NET_ADMIN"])
    assert _caps(clean, "--cap-drop", "ALL")["CapEff"] == 0
    assert _caps(clean, "--cap-drop", "ALL", "--cap-add", "KILL")["CapEff"] == _mask(["CAP_KILL"])
    everything = _caps(clean, "--cap-add", "ALL", "--cap-drop", "MKNOD")["CapEff"]
    assert everything == _host_bounding() & ~_mask(["CAP_MKNOD"])
    bad = clean.docker("run", "--rm", "--cap-add", "NOPE", "busybox", "true")
    assert bad.returncode == 125 and b'unknown capability: "CAP_NOPE"' in bad.stderr


def test_privileged_gets_every_host_capability_and_can_mount(clean) -> None:  # type: ignore[no-untyped-def]
    assert _caps(clean, "--privileged")["CapEff"] == _host_bounding()
    out = clean.docker("run", "--rm", "--privileged", "busybox", "sh", "-c",
                       "mkdir /m && mount -t tmpfs none /m && grep -c ' /m ' /proc/mounts && ls /dev/loop-control"
                       " && touch /sys/dy-probe 2>&1; grep -q 'sysfs rw' /proc/mounts && echo sysrw")
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().split()[0] == "1" and b"sysrw" in out.stdout


def test_default_container_cannot_mount_or_unshare(clean) -> None:  # type: ignore[no-untyped-def]
    out = clean.docker("run", "--rm", "busybox", "sh", "-c", "mkdir /m; mount -t tmpfs none /m")
    assert out.returncode == 1 and b"mount: permission denied (are you root?)" in out.stderr
    out = clean.docker("run", "--rm", "busybox", "unshare", "-r", "true")
    assert out.returncode != 0 and b"Operation not permitted" in out.stderr


def test_seccomp_blocks_unshare_unless_unconfined(clean, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """unshare(CLONE_NEWUSER) needs no capability: only the seccomp profile stands in the way."""
    blocked = clean.docker("run", "--rm", "busybox", "unshare", "-U", "true")
    assert blocked.returncode == 1 and b"unshare(0x10000000): Operation not permitted" in blocked.stderr
    allowed = clean.docker("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "true")
    assert allowed.returncode == 0, allowed.stderr
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"],'
                       ' "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}')
    custom = clean.docker("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "mkdir", "/x")
    assert custom.returncode == 1 and b"Permission denied" in custom.stderr
    status = clean.docker("run", "--rm", "busybox", "grep", "Seccomp:", "/proc/self/status")
    assert status.stdout.split()[-1] == b"2"


def test_no_new_privileges(clean) -> None:  # type: ignore[no-untyped-def]
    out = clean.docker("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "NoNewPrivs",
                       "/proc/self/status")
    assert out.stdout.split()[-1] == b"1"
    assert clean.docker("run", "--rm", "busybox", "grep", "NoNewPrivs", "/proc/self/status").stdout.split()[-1] == b"0"


def test_masked_and_readonly_proc_paths_and_read_only_rootfs(clean) -> None:  # type: ignore[no-untyped-def]
    masked = next(p for p in MASKED_PATHS if p.startswith("/proc/") and os.path.isfile(p))
    out = clean.docker("run", "--rm", "--read-only", "busybox", "sh", "-c",
                       f"wc -c < {masked}; echo 1 > /proc/sys/kernel/domainname; touch /x")
    err = out.stderr.decode()
    assert out.stdout.split()[0] == b"0", err
    assert "/proc/sys/kernel/domainname: Read-only file system" in err and "/x: Read-only file system" in err


def test_device_sysctl_ulimit_shm_group_add(clean) -> None:  # type: ignore[no-untyped-def]
    out = clean.docker("run", "--rm", "--device", "/dev/null:/dev/mynull:rw", "--sysctl", "kernel.shmmni=1234",
                       "--ulimit", "nofile=512:1024", "--shm-size", "8m", "--group-add", "1234", "busybox", "sh", "-c",
                       "echo ok > /dev/mynull && echo written; cat /proc/sys/kernel/shmmni; ulimit -n; ulimit -Hn;"
                       " df -k /dev/shm | tail -1; id -G")
    lines = out.stdout.decode().splitlines()
    assert lines[:4] == ["written", "1234", "512", "1024"], out.stderr
    assert lines[4].split()[1] == "8192"
    assert "1234" in lines[5].split()
    status, body = clean.request("POST", "/v1.45/containers/create",
                                 {"Image": "busybox", "HostConfig": {"Sysctls": {"vm.swappiness": "1"}}})
    assert status == 400 and b"sysctl 'vm.swappiness' is not allowed" in body
    missing = clean.docker("run", "--rm", "--device", "/dev/dockyard-nope", "busybox", "true")
    assert missing.returncode != 0 and b"error gathering device information" in missing.stderr


def test_device_cgroup_denies_unlisted_devices(clean) -> None:  # type: ignore[no-untyped-def]
    out = clean.docker("run", "--rm", "busybox", "sh", "-c", "mknod /tmp/mem c 1 1 && head -c1 /tmp/mem")
    assert out.returncode != 0 and b"Operation not permitted" in out.stderr


def test_ipc_pid_uts_namespaces_shared(clean) -> None:  # type: ignore[no-untyped-def]
    name = "dy-sec-ns-target"
    assert clean.docker("run", "-d", "--name", name, "busybox", "sleep", "60").returncode == 0
    ns = {k: clean.docker("exec", name, "readlink", f"/proc/1/ns/{k}").stdout.strip() for k in ("ipc", "pid")}
    for kind in ("ipc", "pid"):
        out = clean.docker("run", "--rm", f"--{kind}", f"container:{name}", "busybox", "readlink",
                           f"/proc/self/ns/{kind}")
        assert out.stdout.strip() == ns[kind], out.stderr
    seen = clean.docker("run", "--rm", "--pid", f"container:{name}", "busybox", "ps", "-o", "args").stdout
    assert b"sleep 60" in seen
    host_uts = os.readlink("/proc/self/ns/uts").encode()
    uts = clean.docker("run", "--rm", "--uts", "host", "busybox", "readlink", "/proc/self/ns/uts")
    assert uts.stdout.strip() == host_uts
    assert clean.docker("rm", "-f", name).returncode == 0
