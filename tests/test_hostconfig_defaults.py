"""HostConfig as dockerd shows it (issue 13): every field of moby's struct, zero values and create-time defaults."""

from __future__ import annotations

import glob
import json
from pathlib import Path

from daemon_harness import Daemon

MASKED = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
          "/sys/devices/virtual/powercap"]


def _cgroup2() -> bool:
    return any(line.split()[4] == "/sys/fs/cgroup" and line.split(" - ")[1].startswith("cgroup2 ")
               for line in Path("/proc/self/mountinfo").read_text().splitlines())


def _expected() -> dict[str, object]:
    """dockerd v28's HostConfig of a container created with `{"Image", "Cmd"}` and nothing else (API 1.45)."""
    throttles = sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/thermal_throttle"),
                       key=lambda p: int(p.split("/")[5][3:]))
    return {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "bridge", "PortBindings": None, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0],
        "CapAdd": None, "CapDrop": None, "CgroupnsMode": "private" if _cgroup2() else "host",
        "Dns": None, "DnsOptions": None, "DnsSearch": None, "ExtraHosts": None, "GroupAdd": None,
        "IpcMode": "private", "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False,
        "PublishAllPorts": False, "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
        "ShmSize": 67108864, "Runtime": "dockyard", "Isolation": "",
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
        "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
        "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0,
        "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": None, "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0,
        "MemorySwap": 0, "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None, "Ulimits": None,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": MASKED + throttles,
        "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    }


def test_minimal_create_shows_every_field_as_dockerd(sdk, clean: Daemon) -> None:  # type: ignore[no-untyped-def]
    """A create with only Image and Cmd: the whole HostConfig, field by field and in order, as dockerd's."""
    cid = clean.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})["Id"]
    raw = clean.request("GET", f"/containers/{cid}/json")[1]
    host = json.loads(raw)["HostConfig"]
    assert host == _expected()
    assert list(host) == list(_expected())  # Go's encoder keeps the struct's order
    assert sdk.api.inspect_container(cid)["HostConfig"] == _expected()
    clean.api("DELETE", f"/containers/{cid}")


def test_sdk_create_keeps_what_it_was_given_and_fills_the_rest(sdk, clean: Daemon) -> None:  # type: ignore[no-untyped-def]
    """Given fields stay as given (pointers included); omitempty fields (Tmpfs, Init, Sysctls...) appear only when set."""
    host = sdk.api.create_host_config(mem_limit="64m", pids_limit=50, init=True, tmpfs={"/scratch": ""},
                                      oom_kill_disable=True, shm_size="8m", network_mode="none")
    cid = sdk.api.create_container("busybox", ["true"], host_config=host)["Id"]
    got = sdk.api.inspect_container(cid)["HostConfig"]
    assert got["Memory"] == 64 << 20 and got["MemorySwap"] == 0
    assert got["PidsLimit"] == 50 and got["Init"] is True and got["Tmpfs"] == {"/scratch": ""}
    assert got["ShmSize"] == 8 << 20 and got["NetworkMode"] == "none" and got["MemorySwappiness"] is None
    assert "Sysctls" not in got and "Annotations" not in got and "Mounts" not in got
    assert list(got)[-1] == "Init"
    sdk.api.remove_container(cid)
    cid = sdk.api.create_container("busybox", ["true"], host_config=sdk.api.create_host_config(init=False))["Id"]
    assert sdk.api.inspect_container(cid)["HostConfig"]["Init"] is False  # a given false pointer is shown
    sdk.api.remove_container(cid)


def test_docker_run_and_inspect_still_work(clean: Daemon) -> None:
    """The CLI's own create body: the container runs with /proc/interrupts masked, as dockerd masks it; a given
    empty MaskedPaths list unmasks it."""
    masked = clean.docker("run", "--rm", "--network", "none", "busybox", "wc", "-c", "/proc/interrupts")
    assert masked.returncode == 0 and masked.stdout.split()[0] == b"0", masked
    shown = clean.docker_ok("run", "-d", "--network", "none", "busybox", "true")
    assert clean.docker_ok("inspect", "-f", "{{.HostConfig.IpcMode}} {{.HostConfig.ShmSize}}", shown) == \
        "private 67108864"
    clean.docker_ok("rm", "-f", shown)
    cid = clean.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["wc", "-c", "/proc/interrupts"],
                                                   "HostConfig": {"MaskedPaths": [], "NetworkMode": "none"}})["Id"]
    clean.api("POST", f"/containers/{cid}/start")
    assert clean.api("POST", f"/containers/{cid}/wait")["StatusCode"] == 0
    assert int(clean.docker_ok("logs", cid).split()[0]) > 0
    clean.api("DELETE", f"/containers/{cid}")
