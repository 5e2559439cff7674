"""Read-only resource figures of a cgroup (v1 or v2) in the shape of docker's stats JSON sections."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dockyard.runtime.cgroups import DEFAULT_ROOT, is_cgroup2

_USER_HZ = os.sysconf("SC_CLK_TCK")
_NS = 1_000_000_000
_V1_UNLIMITED = 1 << 62  # memory.limit_in_bytes reads 9223372036854771712 when unlimited


def _text(path: Path) -> str:
    """A control file's content, "" when the file (or the cgroup) is gone."""
    try:
        return path.read_text()
    except OSError:  # the cgroup went away with its container: no figures
        return ""


def _int(path: Path) -> int:
    """A single-number control file; 0 when absent, empty or "max"."""
    value = _text(path).strip()
    return int(value) if value.isdigit() else 0


def _flat(path: Path) -> dict[str, int]:
    """A flat-keyed file ("key value" lines) as a dict of ints."""
    out: dict[str, int] = {}
    for line in _text(path).splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def host_memory() -> int:
    """MemTotal of the host in bytes (docker's memory limit of an unlimited container)."""
    for line in _text(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def system_cpu_usage() -> int:
    """Host CPU time in nanoseconds from /proc/stat (docker's system_cpu_usage)."""
    for line in _text(Path("/proc/stat")).splitlines():
        if line.startswith("cpu "):
            ticks = sum(int(v) for v in line.split()[1:8])
            return ticks * _NS // _USER_HZ
    return 0


def online_cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


class StatsV1:
    """Figures from the per-controller directories of the legacy hierarchy."""

    def __init__(self, path: str, root: Path = DEFAULT_ROOT) -> None:
        self.path = path.strip("/")
        self.root = root

    def _dir(self, controller: str) -> Path:
        return Path(os.path.realpath(self.root / controller)) / self.path

    def cpu(self) -> dict[str, Any]:
        """cpu_usage and throttling_data from cpuacct and cpu."""
        acct = self._dir("cpuacct")
        ticks = _flat(acct / "cpuacct.stat")
        percpu = [int(v) for v in _text(acct / "cpuacct.usage_percpu").split()]
        throttled = _flat(self._dir("cpu") / "cpu.stat")
        return {
            "cpu_usage": {"total_usage": _int(acct / "cpuacct.usage"), "percpu_usage": percpu,
                          "usage_in_kernelmode": ticks.get("system", 0) * _NS // _USER_HZ,
                          "usage_in_usermode": ticks.get("user", 0) * _NS // _USER_HZ},
            "throttling_data": {"periods": throttled.get("nr_periods", 0),
                                "throttled_periods": throttled.get("nr_throttled", 0),
                                "throttled_time": throttled.get("throttled_time", 0)},
        }

    def memory(self) -> dict[str, Any]:
        """memory_stats: usage, max_usage, failcnt, every memory.stat counter, limit (host memory if none)."""
        mem = self._dir("memory")
        limit = _int(mem / "memory.limit_in_bytes")
        return {"usage": _int(mem / "memory.usage_in_bytes"), "max_usage": _int(mem / "memory.max_usage_in_bytes"),
                "failcnt": _int(mem / "memory.failcnt"), "stats": _flat(mem / "memory.stat"),
                "limit": host_memory() if limit == 0 or limit >= _V1_UNLIMITED else min(limit, host_memory())}

    def pids(self) -> dict[str, Any]:
        """pids_stats: current and, when set, limit."""
        pids = self._dir("pids")
        out = {"current": _int(pids / "pids.current")}
        limit = _int(pids / "pids.max")
        if limit:
            out["limit"] = limit
        return out

    def blkio(self) -> dict[str, Any]:
        """blkio_stats from the CFQ files, or the throttle files when CFQ reports nothing (as runc does)."""
        blk = self._dir("blkio")
        out = {}
        for key, name in (("io_service_bytes_recursive", "io_service_bytes_recursive"),
                          ("io_serviced_recursive", "io_serviced_recursive")):
            entries = _blkio_entries(_text(blk / f"blkio.{name}"))
            if not entries:
                entries = _blkio_entries(_text(blk / f"blkio.throttle.{name}"))
            out[key] = entries
        for key in ("io_queue_recursive", "io_service_time_recursive", "io_wait_time_recursive",
                    "io_merged_recursive", "io_time_recursive", "sectors_recursive"):
            out[key] = []
        return out


def _blkio_entries(text: str) -> list[dict[str, Any]]:
    """"8:0 Read 4096" lines as docker's {major, minor, op, value} entries (the Total line skipped)."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and ":" in fields[0]:
            major, minor = fields[0].split(":")
            entries.append({"major": int(major), "minor": int(minor), "op": fields[1], "value": int(fields[2])})
    return entries


class StatsV2:
    """Figures from the one directory of the unified hierarchy."""

    def __init__(self, path: str, root: Path = DEFAULT_ROOT) -> None:
        self.dir = root / path.strip("/")

    def cpu(self) -> dict[str, Any]:
        """cpu.stat's microseconds as nanoseconds; no per-CPU figures on v2 (docker sends none either)."""
        cpu = _flat(self.dir / "cpu.stat")
        return {
            "cpu_usage": {"total_usage": cpu.get("usage_usec", 0) * 1000,
                          "usage_in_kernelmode": cpu.get("system_usec", 0) * 1000,
                          "usage_in_usermode": cpu.get("user_usec", 0) * 1000},
            "throttling_data": {"periods": cpu.get("nr_periods", 0), "throttled_periods": cpu.get("nr_throttled", 0),
                                "throttled_time": cpu.get("throttled_usec", 0) * 1000},
        }

    def memory(self) -> dict[str, Any]:
        """memory.current, memory.stat and memory.max (host memory when "max")."""
        limit = _int(self.dir / "memory.max")
        host = host_memory()
        return {"usage": _int(self.dir / "memory.current"), "stats": _flat(self.dir / "memory.stat"),
                "limit": min(limit, host) if limit else host}

    def pids(self) -> dict[str, Any]:
        """pids.current and pids.max."""
        out = {"current": _int(self.dir / "pids.current")}
        limit = _int(self.dir / "pids.max")
        if limit:
            out["limit"] = limit
        return out

    def blkio(self) -> dict[str, Any]:
        """io.stat's rbytes/wbytes and rios/wios as docker's lower-case read/write entries."""
        service_bytes, serviced = [], []
        for line in _text(self.dir / "io.stat").splitlines():
            device, *pairs = line.split()
            major, minor = (int(n) for n in device.split(":"))
            values = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
            for op, bytes_key, ios_key in (("read", "rbytes", "rios"), ("write", "wbytes", "wios")):
                service_bytes.append({"major": major, "minor": minor, "op": op, "value": int(values.get(bytes_key, 0))})
                serviced.append({"major": major, "minor": minor, "op": op, "value": int(values.get(ios_key, 0))})
        return {"io_service_bytes_recursive": service_bytes, "io_serviced_recursive": serviced,
                "io_queue_recursive": None, "io_service_time_recursive": None, "io_wait_time_recursive": None,
                "io_merged_recursive": None, "io_time_recursive": None, "sectors_recursive": None}


def open_stats(path: str, root: Path = DEFAULT_ROOT) -> StatsV1 | StatsV2:
    """The reader for the hierarchy mounted at `root` (v1 on hybrid hosts, as open_cgroup decides)."""
    return StatsV2(path, root) if is_cgroup2(root) else StatsV1(path, root)
