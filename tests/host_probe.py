"""What a test daemon's containers leave on the host, seen from outside the daemon: shim and init processes
(from /proc), overlay mounts and pinned namespaces (from /proc/self/mountinfo), cgroups, veths."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
SHIM_MARK = b"dockyard.runtime.zygote"  # shims are forked from the zygote: its command line is theirs


@dataclass
class Processes:
    """One container's shims and inits (pid 1 of its namespace, a child of a shim)."""

    shims: list[int] = field(default_factory=list)
    inits: list[int] = field(default_factory=list)


def _status(pid: str) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def container_processes(base: Path) -> dict[str, Processes]:
    """Shim and init processes of the containers of the daemon living under `base`, by container id.

    A shim is a zygote-forked process whose open files include a container's json log under `base`
    (its parent being no such process: a shim's child before its exec looks the same); an init is a
    child of a shim that is pid 1 in its own pid namespace."""
    parents: dict[int, int] = {}
    depth: dict[int, list[str]] = {}
    candidates: dict[int, str] = {}
    prefix = str(base)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = _status(entry)
            pid = int(entry)
            parents[pid] = int(status["PPid"])
            depth[pid] = status.get("NSpid", "").split()
            if SHIM_MARK not in Path(f"/proc/{entry}/cmdline").read_bytes():
                continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                try:
                    target = os.readlink(f"/proc/{entry}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith(prefix) and target.endswith("-json.log"):
                    candidates[pid] = Path(target).parent.name
                    break
        except (OSError, KeyError, ValueError):
            continue  # gone meanwhile
    shims = {pid: cid for pid, cid in candidates.items() if parents.get(pid) not in candidates}
    found: dict[str, Processes] = {}
    for pid, cid in shims.items():
        found.setdefault(cid, Processes()).shims.append(pid)
    for pid, parent in parents.items():
        if parent in shims and len(depth.get(pid, [])) >= 2 and depth[pid][-1] == "1":
            found[shims[parent]].inits.append(pid)
    return found


def mounts_under(base: Path | str) -> list[str]:
    """Mount points at or under `base`, once per mount (a stacked mount counts twice)."""
    with open("/proc/self/mountinfo") as handle:
        points = [line.split()[4] for line in handle]
    return [p for p in points if p == str(base) or p.startswith(str(base).rstrip("/") + "/")]


def rootfs_mounts(base: Path) -> dict[str, int]:
    """How many mounts sit on each container's bundle rootfs (<exec-root>/containers/<id>/rootfs)."""
    counts: dict[str, int] = {}
    for point in mounts_under(base):
        path = Path(point)
        if path.name == "rootfs" and path.parent.parent.name == "containers":
            counts[path.parent.name] = counts.get(path.parent.name, 0) + 1
    return counts


def pinned_netns(base: Path) -> set[str]:
    """Short ids of the pinned network namespaces (<exec-root>/netns/<id12>)."""
    return {Path(p).name for p in mounts_under(base) if Path(p).parent.name == "netns"}


def cgroup_dirs(container_id: str) -> list[Path]:
    """The container's cgroup directories (v1: one per controller; v2: one)."""
    return [p for p in list(CGROUP_ROOT.glob(f"*/dockyard/{container_id}")) + [CGROUP_ROOT / "dockyard" / container_id]
            if p.is_dir()]


def spare_cgroups(daemon_pids: set[int]) -> list[Path]:
    """Spare cgroups (`/dockyard/spare-<pid>-<hex>`) made by any of these daemon processes."""
    found = []
    for path in list(CGROUP_ROOT.glob("*/dockyard/spare-*")) + list(CGROUP_ROOT.glob("dockyard/spare-*")):
        pid = path.name.split("-")[1]
        if pid.isdigit() and int(pid) in daemon_pids:
            found.append(path)
    return found


def veth_name(container_id: str, network_id: str) -> str:
    """The host end of a container's veth on a network (network/service.py names them so)."""
    return "dyv" + hashlib.sha256(f"{container_id}/{network_id}".encode()).hexdigest()[:10]


def host_links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def orphans(base: Path, container_ids: set[str], network_ids: set[str], daemon_pids: set[int]) -> list[str]:
    """Everything these containers left behind once they are removed and their daemon stopped."""
    left = [f"mount {m}" for m in mounts_under(base)]
    for cid, procs in container_processes(base).items():
        left += [f"shim {pid} of {cid[:12]}" for pid in procs.shims]
        left += [f"init {pid} of {cid[:12]}" for pid in procs.inits]
    links = host_links()
    for cid in container_ids:
        left += [f"cgroup {p}" for p in cgroup_dirs(cid)]
        left += [f"veth {veth_name(cid, n)} of {cid[:12]}" for n in network_ids if veth_name(cid, n) in links]
    left += [f"spare cgroup {p}" for p in spare_cgroups(daemon_pids)]
    return left
