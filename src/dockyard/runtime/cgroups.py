"""Container cgroups: one interface, a v1 (per-controller hierarchies) and a v2 (unified) implementation."""

from __future__ import annotations

import errno
import functools
import os
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable

from dockyard.runtime.resources import Write, v1_device_entry, v1_writes, v2_writes

DEFAULT_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")
_FREEZE_TIMEOUT = 5.0
_REMOVE_TIMEOUT = 2.0


def _write(path: Path, value: str) -> None:
    """Write one value to a cgroup control file."""
    with open(path, "w") as f:
        f.write(value)


def _write_limit(path: Path, value: str) -> None:
    """Write a limit, naming the control file when the kernel or hierarchy lacks it."""
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, f"cgroup control file {path.name} is missing "
                                f"(controller not available in {path.parent})")
    _write(path, value)


def _read_pids(path: Path) -> list[int]:
    """Pids listed in a cgroup.procs file."""
    return [int(line) for line in path.read_text().split()]


def _read_counter(path: Path, key: str) -> int:
    """The value of `key` in a flat-keyed cgroup file, 0 when absent."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except FileNotFoundError:
        return 0
    return 0


def _rmdir_retry(path: Path) -> None:
    """Remove an empty cgroup directory, retrying while the kernel still sees exiting tasks."""
    deadline = time.monotonic() + _REMOVE_TIMEOUT
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Cgroup(ABC):
    """A container's cgroup; `path` is the OCI cgroupsPath such as "/dockyard/<id>"."""

    def __init__(self, path: str, root: Path = DEFAULT_ROOT) -> None:
        self.path = path.strip("/")
        self.root = Path(root)
        if not self.path:
            raise ValueError("empty cgroup path")

    @abstractmethod
    def create(self) -> None:
        """Create the cgroup directories."""

    @abstractmethod
    def add(self, pid: int) -> None:
        """Move a process (host pid) into the cgroup."""

    @abstractmethod
    def apply_resources(self, resources: dict[str, Any]) -> None:
        """Apply OCI linux.resources (devices, memory, cpu, pids, blockIO); also used by `docker update`."""

    @abstractmethod
    def freeze(self) -> None:
        """Freeze every process of the cgroup and wait until the kernel reports it frozen."""

    @abstractmethod
    def thaw(self) -> None:
        """Thaw the cgroup."""

    @abstractmethod
    def frozen(self) -> bool:
        """Whether the cgroup is frozen."""

    @abstractmethod
    def pids(self) -> list[int]:
        """Host pids of every process in the cgroup."""

    @abstractmethod
    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed a process of this cgroup."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether the cgroup directory exists."""

    @abstractmethod
    def remove(self) -> None:
        """Remove the cgroup directories (the cgroup must be empty)."""

    @abstractmethod
    def directories(self) -> list[Path]:
        """The cgroup's directory in every hierarchy it lives in."""

    def remove_if_unused(self) -> bool:
        """Remove a parent cgroup (e.g. /dockyard) once no process or child cgroup is left; False if used."""
        dirs = [d for d in self.directories() if d.is_dir()]
        for d in dirs:
            if any(child.is_dir() for child in d.iterdir()) or (d / "cgroup.procs").read_text().strip():
                return False
        for d in dirs:
            _rmdir_retry(d)
        return True


class CgroupV1(Cgroup):
    """Legacy hierarchies: one directory per controller under <root>/<controller>/<path>."""

    def directories(self) -> list[Path]:
        """The container's directory in every mounted controller, deduplicated for co-mounted ones."""
        seen: set[str] = set()
        dirs: list[Path] = []
        for ctrl in V1_CONTROLLERS:
            mount = self.root / ctrl
            if not mount.is_dir():
                continue
            real = os.path.realpath(mount)
            if real not in seen:
                seen.add(real)
                dirs.append(Path(real) / self.path)
        return dirs

    def _ctrl(self, name: str) -> Path:
        """The container's directory in one controller."""
        return Path(os.path.realpath(self.root / name)) / self.path

    def create(self) -> None:
        """mkdir the path in every controller; cpuset levels inherit cpus/mems from their parent."""
        for d in self.directories():
            d.mkdir(parents=True, exist_ok=True)
        cpuset_root = self.root / "cpuset"
        if cpuset_root.is_dir():
            level = Path(os.path.realpath(cpuset_root))
            for part in Path(self.path).parts:
                parent, level = level, level / part
                for name in ("cpuset.cpus", "cpuset.mems"):
                    if not (level / name).read_text().strip():
                        _write(level / name, (parent / name).read_text().strip())

    def add(self, pid: int) -> None:
        """Write the pid into cgroup.procs of every controller."""
        for d in self.directories():
            _write(d / "cgroup.procs", str(pid))

    def apply_resources(self, resources: dict[str, Any]) -> None:
        """Program the devices controller, then memory/cpu/cpuset/pids/blkio limits."""
        devices = self._ctrl("devices")
        for rule in resources.get("devices", []):
            name, entry = v1_device_entry(rule)
            _write(devices / name, entry)
        self._write_limits(v1_writes(resources))

    def _write_limits(self, writes: list[Write]) -> None:
        """Write each limit; memory and memory+swap go in whichever order the kernel accepts."""
        pending = list(writes)
        while pending:
            ctrl, name, value = pending.pop(0)
            try:
                _write_limit(self._ctrl(ctrl) / name, value)
            except OSError as exc:
                swap = [w for w in pending if w[1] == "memory.memsw.limit_in_bytes"]
                if exc.errno != errno.EINVAL or name != "memory.limit_in_bytes" or not swap:
                    raise
                pending.remove(swap[0])
                pending[:0] = [swap[0], (ctrl, name, value)]

    def freeze(self) -> None:
        """FROZEN via freezer.state, polled until the transition completes."""
        state = self._ctrl("freezer") / "freezer.state"
        deadline = time.monotonic() + _FREEZE_TIMEOUT
        while True:
            _write(state, "FROZEN")
            if state.read_text().strip() == "FROZEN":
                return
            if time.monotonic() > deadline:
                _write(state, "THAWED")
                raise TimeoutError("cgroup did not freeze")
            time.sleep(0.005)

    def thaw(self) -> None:
        """THAWED via freezer.state."""
        _write(self._ctrl("freezer") / "freezer.state", "THAWED")

    def frozen(self) -> bool:
        """freezer.state reads FROZEN."""
        return (self._ctrl("freezer") / "freezer.state").read_text().strip() == "FROZEN"

    def pids(self) -> list[int]:
        """cgroup.procs of the first mounted controller."""
        return _read_pids(self.directories()[0] / "cgroup.procs")

    def oom_killed(self) -> bool:
        """memory.oom_control's oom_kill counter is non-zero."""
        return _read_counter(self._ctrl("memory") / "memory.oom_control", "oom_kill") > 0

    def exists(self) -> bool:
        """Any controller still holds the directory."""
        return any(d.is_dir() for d in self.directories())

    def remove(self) -> None:
        """rmdir the container's directory in every controller."""
        for d in self.directories():
            _rmdir_retry(d)


class CgroupV2(Cgroup):
    """Unified hierarchy: one directory, controllers enabled through the parents' subtree_control."""

    @property
    def dir(self) -> Path:
        """The container's cgroup directory."""
        return self.root / self.path

    def directories(self) -> list[Path]:
        """The one directory of the unified hierarchy."""
        return [self.dir]

    def create(self) -> None:
        """mkdir each level, enabling in every parent all the controllers it has."""
        level = self.root
        for part in Path(self.path).parts:
            available = (level / "cgroup.controllers").read_text().split()
            enabled = set((level / "cgroup.subtree_control").read_text().split())
            missing = [c for c in available if c not in enabled]
            if missing:
                _write(level / "cgroup.subtree_control", " ".join(f"+{c}" for c in missing))
            level = level / part
            level.mkdir(exist_ok=True)

    def add(self, pid: int) -> None:
        """Write the pid into cgroup.procs."""
        _write(self.dir / "cgroup.procs", str(pid))

    def apply_resources(self, resources: dict[str, Any]) -> None:
        """Write the memory/cpu/cpuset/pids/io limits (device rules need an eBPF program: not enforced on v2)."""
        for _, name, value in v2_writes(resources):
            _write_limit(self.dir / name, value)

    def freeze(self) -> None:
        """cgroup.freeze = 1, then wait for "frozen 1" in cgroup.events."""
        _write(self.dir / "cgroup.freeze", "1")
        deadline = time.monotonic() + _FREEZE_TIMEOUT
        while not self.frozen():
            if time.monotonic() > deadline:
                self.thaw()
                raise TimeoutError("cgroup did not freeze")
            time.sleep(0.005)

    def thaw(self) -> None:
        """cgroup.freeze = 0."""
        _write(self.dir / "cgroup.freeze", "0")

    def frozen(self) -> bool:
        """cgroup.events says frozen 1."""
        return _read_counter(self.dir / "cgroup.events", "frozen") == 1

    def pids(self) -> list[int]:
        """cgroup.procs."""
        return _read_pids(self.dir / "cgroup.procs")

    def oom_killed(self) -> bool:
        """memory.events' oom_kill counter is non-zero."""
        return _read_counter(self.dir / "memory.events", "oom_kill") > 0

    def exists(self) -> bool:
        """The directory exists."""
        return self.dir.is_dir()

    def remove(self) -> None:
        """rmdir the directory."""
        _rmdir_retry(self.dir)


def is_cgroup2(root: Path = DEFAULT_ROOT) -> bool:
    """Whether `root` itself is a cgroup2 mount (a pure v2 host), per /proc/self/mountinfo."""
    if Path(root) == DEFAULT_ROOT:
        return _host_is_cgroup2()
    return _mounted_cgroup2(root)


@functools.lru_cache(maxsize=1)
def _host_is_cgroup2() -> bool:
    """The host's own hierarchy does not change under a running process: read mountinfo once."""
    return _mounted_cgroup2(DEFAULT_ROOT)


def _mounted_cgroup2(root: Path) -> bool:
    target = os.path.realpath(root)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[4] == target and fields[sep + 1] == "cgroup2":
                return True
    return False


def remove_idle_children(parent: str, keep: Callable[[str], bool], min_age: float,
                         root: Path = DEFAULT_ROOT) -> list[str]:
    """Remove the child cgroups of `parent` whose name `keep` does not claim that hold no process and were made over `min_age`
    seconds ago (a process joins its cgroup moments after its making): what a cut-off launch left behind.
    Returns the names removed."""
    parents = [d for d in open_cgroup(parent, root).directories() if d.is_dir()]
    names = {entry.name for directory in parents for entry in directory.iterdir()
             if entry.is_dir() and not keep(entry.name)}
    removed = []
    for name in sorted(names):
        child = open_cgroup(f"{parent}/{name}", root)
        try:
            young = any(time.time() - d.stat().st_mtime < min_age for d in child.directories() if d.is_dir())
            if not young and child.remove_if_unused():
                removed.append(name)
        except FileNotFoundError:
            continue  # its owner removed it meanwhile
    return removed


def open_cgroup(path: str, root: Path = DEFAULT_ROOT) -> Cgroup:
    """The right implementation for the hierarchy mounted at `root` (v1 on hybrid hosts)."""
    return CgroupV2(path, root) if is_cgroup2(root) else CgroupV1(path, root)
