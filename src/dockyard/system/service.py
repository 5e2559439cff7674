"""Facts about the host and the daemon, shaped as the API's SystemInfo and SystemVersion."""

from __future__ import annotations

import datetime
import os
import platform
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Protocol

from dockyard import API_VERSION, MIN_API_VERSION, __version__
from dockyard.events.bus import EventBus

GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386",
          "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
DEFAULT_PLUGINS = {"Volume": [], "Network": [], "Authorization": None, "Log": ["json-file"]}
CGROUP_ROOT = Path("/sys/fs/cgroup")


def read_os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    """KEY=value pairs of os-release, unquoted."""
    result: dict[str, str] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return result
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            result[key.strip()] = value.strip().strip('"').strip("'")
    return result


def mem_total() -> int:
    """Total memory in bytes from /proc/meminfo."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise OSError("MemTotal missing from /proc/meminfo")


def cgroup_mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> dict[str, Path]:
    """Mount points by cgroup v1 controller, plus "cgroup2" for the unified hierarchy."""
    mounts: dict[str, Path] = {}
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, options = (right.split() + ["", "", ""])[:3]
        point = Path(left.split()[4])
        if fstype == "cgroup2":
            mounts.setdefault("cgroup2", point)
        elif fstype == "cgroup":
            for opt in options.split(","):
                mounts.setdefault(opt.removeprefix("name="), point)
    return mounts


def cgroup_version(mounts: dict[str, Path]) -> str:
    """"2" when /sys/fs/cgroup itself is the unified hierarchy, else "1"."""
    return "2" if mounts.get("cgroup2") == CGROUP_ROOT else "1"


def cgroup_features(mounts: dict[str, Path], version: str) -> dict[str, bool]:
    """Which resource limits the host's cgroups can enforce (SystemInfo's booleans)."""
    if version == "2":
        controllers = set((CGROUP_ROOT / "cgroup.controllers").read_text().split())
        return {"MemoryLimit": "memory" in controllers, "SwapLimit": "memory" in controllers,
                "KernelMemoryTCP": False, "CpuCfsPeriod": "cpu" in controllers,
                "CpuCfsQuota": "cpu" in controllers, "CPUShares": "cpu" in controllers,
                "CPUSet": "cpuset" in controllers, "PidsLimit": "pids" in controllers,
                "OomKillDisable": False}
    memory, cpu = mounts.get("memory"), mounts.get("cpu")
    has = _has_file
    return {"MemoryLimit": memory is not None, "SwapLimit": has(memory, "memory.memsw.limit_in_bytes"),
            "KernelMemoryTCP": has(memory, "memory.kmem.tcp.limit_in_bytes"),
            "CpuCfsPeriod": has(cpu, "cpu.cfs_period_us"), "CpuCfsQuota": has(cpu, "cpu.cfs_quota_us"),
            "CPUShares": has(cpu, "cpu.shares"), "CPUSet": "cpuset" in mounts, "PidsLimit": "pids" in mounts,
            "OomKillDisable": has(memory, "memory.oom_control")}


def _has_file(root: Path | None, name: str) -> bool:
    """True when a cgroup v1 controller is mounted and offers the control file `name`."""
    return root is not None and (root / name).exists()


def read_flag(path: str) -> bool:
    """A /proc/sys switch: True when it exists and reads 1."""
    try:
        return Path(path).read_text().strip() == "1"
    except OSError:
        return False


_FEATURE_WARNINGS = [
    ("MemoryLimit", "WARNING: No memory limit support"), ("SwapLimit", "WARNING: No swap limit support"),
    ("CpuCfsQuota", "WARNING: No cpu cfs quota support"), ("CpuCfsPeriod", "WARNING: No cpu cfs period support"),
    ("CPUShares", "WARNING: No cpu shares support"), ("CPUSet", "WARNING: No cpuset support"),
    ("IPv4Forwarding", "WARNING: IPv4 forwarding is disabled"),
    ("BridgeNfIptables", "WARNING: bridge-nf-call-iptables is disabled"),
    ("BridgeNfIp6tables", "WARNING: bridge-nf-call-ip6tables is disabled"),
]


def load_engine_id(data_root: Path) -> str:
    """The daemon's ID, created once per data root (atomically) and stable afterwards."""
    path = data_root / "engine-id"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_root.mkdir(parents=True, exist_ok=True)
    tmp = data_root / f".engine-id.{os.getpid()}.{threading.get_ident()}"
    with open(tmp, "w") as f:
        f.write(str(uuid.uuid4()) + "\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def inactive_swarm() -> dict[str, Any]:
    """/info's `Swarm` section of a node outside any swarm."""
    return {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive", "ControlAvailable": False, "Error": "",
            "RemoteManagers": None}


class ImageCount(Protocol):
    """The image service, as /info reads it."""

    def count(self) -> int:
        """How many images there are."""


class ContainerCounts(Protocol):
    """The container service, as /info reads it."""

    def counts(self) -> dict[str, int]:
        """Containers by state: Containers, ContainersRunning, ContainersPaused, ContainersStopped."""


class SystemService:
    """Answers /version and /info from the host, the configuration and the image/container services."""

    def __init__(self, config: dict[str, Any], data_root: Path, images: ImageCount, containers: ContainerCounts,
                 events: EventBus | None = None) -> None:
        self.config = config
        self.data_root = Path(data_root)
        self.images = images
        self.containers = containers
        self.events = events
        self.engine_id = load_engine_id(self.data_root)
        self._swarm_info: Callable[[], dict[str, Any]] = inactive_swarm

    def set_swarm_info(self, fn: Callable[[], dict[str, Any]]) -> None:
        """Install the provider of /info's `Swarm` section (the cluster service, handed in by the daemon)."""
        self._swarm_info = fn

    def version(self) -> dict[str, Any]:
        """SystemVersion: daemon and API versions, OS, architecture, kernel, Python as "GoVersion"."""
        uname = os.uname()
        arch = GOARCH.get(uname.machine, uname.machine)
        py = f"python{platform.python_version()}"
        details = {"ApiVersion": API_VERSION, "Arch": arch, "Experimental": "false", "GitCommit": "",
                   "GoVersion": py, "KernelVersion": uname.release, "MinAPIVersion": MIN_API_VERSION,
                   "Os": "linux"}
        return {"Platform": {"Name": "Dockyard"},
                "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
                "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                "GitCommit": "", "GoVersion": py, "Os": "linux", "Arch": arch, "KernelVersion": uname.release}

    def info(self) -> dict[str, Any]:
        """SystemInfo with real host figures and the services' counts (blocking: run in an executor)."""
        counts = self.containers.counts()
        mounts = cgroup_mounts()
        cg_version = cgroup_version(mounts)
        features = cgroup_features(mounts, cg_version)
        features["IPv4Forwarding"] = read_flag("/proc/sys/net/ipv4/ip_forward")
        features["BridgeNfIptables"] = read_flag("/proc/sys/net/bridge/bridge-nf-call-iptables")
        features["BridgeNfIp6tables"] = read_flag("/proc/sys/net/bridge/bridge-nf-call-ip6tables")
        os_release = read_os_release()
        uname = os.uname()
        runtimes = {"dockyard": {"path": "dockyard"}}
        runtimes.update({name: {"path": path} for name, path in self.config.get("runtimes", {}).items()})
        info: dict[str, Any] = {
            "ID": self.engine_id,
            "Containers": counts["total"], "ContainersRunning": counts["running"],
            "ContainersPaused": counts["paused"], "ContainersStopped": counts["stopped"],
            "Images": self.images.count(),
            "Driver": "overlay2", "DriverStatus": [["Backing Filesystem", _backing_fs(self.data_root)]],
            "DockerRootDir": str(self.data_root),
            "Plugins": self.config.get("plugins", DEFAULT_PLUGINS),
            **features,
            "Debug": bool(self.config.get("debug", False)),
            "NFd": len(os.listdir("/proc/self/fd")), "NGoroutines": threading.active_count(),
            "SystemTime": datetime.datetime.now().astimezone().isoformat(),
            "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cg_version,
            "NEventsListener": self.events.listeners if self.events else 0,
            "KernelVersion": uname.release,
            "OperatingSystem": os_release.get("PRETTY_NAME", "Linux"),
            "OSVersion": os_release.get("VERSION_ID", ""), "OSType": "linux",
            "Architecture": uname.machine, "NCPU": len(os.sched_getaffinity(0)), "MemTotal": mem_total(),
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": self._registry_config(), "GenericResources": None,
            "HttpProxy": os.environ.get("HTTP_PROXY", os.environ.get("http_proxy", "")),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", os.environ.get("https_proxy", "")),
            "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
            "Name": socket.gethostname(), "Labels": list(self.config.get("labels", [])),
            "ExperimentalBuild": False, "ServerVersion": __version__,
            "Runtimes": runtimes, "DefaultRuntime": "dockyard",
            "Swarm": self._swarm_info(),
            "LiveRestoreEnabled": bool(self.config.get("live-restore", False)),
            "Isolation": "", "InitBinary": "",
            "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
            "SecurityOptions": list(self.config.get("security-options", [])),
            "CDISpecDirs": [],
        }
        info["Warnings"] = [text for key, text in _FEATURE_WARNINGS if not info[key]]
        return info

    def _registry_config(self) -> dict[str, Any]:
        """RegistryConfig as docker reports it, with the configured insecure registries and mirrors."""
        insecure = ["::1/128", "127.0.0.0/8"] + list(self.config.get("insecure-registries", []))
        mirrors = list(self.config.get("registry-mirrors", []))
        return {"AllowNondistributableArtifactsCIDRs": None, "AllowNondistributableArtifactsHostnames": None,
                "InsecureRegistryCIDRs": insecure,
                "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": mirrors, "Secure": True,
                                               "Official": True}},
                "Mirrors": mirrors}


def _backing_fs(path: Path) -> str:
    """The filesystem type holding `path` (longest matching mount point in /proc/self/mounts)."""
    best, fstype = "", "unknown"
    target = str(path.resolve())
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            point = fields[1].replace("\\040", " ")
            inside = target == point or target.startswith(point.rstrip("/") + "/")
            if inside and len(point) > len(best):
                best, fstype = point, fields[2]
    return "extfs" if fstype in ("ext2", "ext3", "ext4") else fstype
