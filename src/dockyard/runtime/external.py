"""Run a bundle under an external OCI runtime (runc, crun) while the shim keeps owning stdio, log and exit.

The shim becomes a child subreaper, runs `<runtime> create` with the container's stdio pipes (the
runtime passes them through to the process) and `<runtime> start`; the runtime's init is reparented to
the shim, which reaps it as it reaps its own. The spec is adapted to what the host allows, because
runc and crun fail where the built-in runtime clamps: capabilities outside the bounding set and rlimits
above the host's hard limits. Runtime state lives in <bundle>/runtime-state and is removed before the
exit is reported, so a restart may reuse the container id at once.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from dockyard.oci.spec import ALL_CAPABILITIES
from dockyard.runtime import bundle as B
from dockyard.runtime.cgroups import DEFAULT_ROOT, V1_CONTROLLERS, is_cgroup2
from dockyard.runtime.init import classify_exit_code
from dockyard.runtime.jsonlog import Rotation
from dockyard.runtime.shim import LaunchError, Shim, write_atomic
from dockyard.util import linux as L

RUNTIME_ANNOTATION = "org.dockyard.runtime"  # config.json annotation: path of the runtime binary
STATE_DIR = "runtime-state"
RUNTIME_LOG = "runtime.log"
PR_SET_CHILD_SUBREAPER = 36
_RLIM_MAX = (1 << 63) - 1
_TIMEOUT = 60


def bounding_set() -> set[str]:
    """Capability names in this process's bounding set."""
    with open("/proc/self/status") as status:
        mask = next(int(line.split()[1], 16) for line in status if line.startswith("CapBnd:"))
    return {name for bit, name in enumerate(ALL_CAPABILITIES) if mask & (1 << bit)}


def _clamp(value: int, hard: int) -> int:
    """A limit clamped to the host's hard limit (RLIM_INFINITY as the OCI maximum)."""
    if hard == resource.RLIM_INFINITY:
        return value
    return hard if value >= _RLIM_MAX else min(value, hard)


def adapt_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of the spec that runc/crun accept here: capabilities the host has, rlimits it allows."""
    out = json.loads(json.dumps(spec))
    process = out["process"]
    allowed = bounding_set()
    caps = process.get("capabilities") or {}
    for kind, names in caps.items():
        caps[kind] = [name for name in names if name in allowed]
    for rlimit in process.get("rlimits") or []:
        hard = resource.getrlimit(getattr(resource, rlimit["type"]))[1]
        rlimit["hard"] = _clamp(rlimit["hard"], hard)
        rlimit["soft"] = min(_clamp(rlimit["soft"], hard), rlimit["hard"])
    process["terminal"] = False  # the shim's pty is handed over as plain stdio (no console socket)
    out.get("annotations", {}).pop(RUNTIME_ANNOTATION, None)
    return out


def runtime_error(log_path: Path, fallback: str) -> str:
    """The runtime's last error message from its JSON log, docker's wording around it."""
    message = fallback
    try:
        lines = log_path.read_text().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal"):
            message = entry.get("msg", message)
    return f"OCI runtime create failed: {message}: unknown"


def remove_extra_cgroups(cgroups_path: str, root: Path = DEFAULT_ROOT) -> None:
    """On a v1 host runc also makes the cgroup in name=systemd and the unified hierarchy: remove those."""
    if is_cgroup2(root):
        return
    ours = {os.path.realpath(root / ctrl) for ctrl in V1_CONTROLLERS}
    for hierarchy in root.iterdir():
        if hierarchy.is_dir() and os.path.realpath(hierarchy) not in ours:
            directory = hierarchy / cgroups_path.strip("/")
            if directory.is_dir():
                try:
                    directory.rmdir()
                except OSError as busy:  # reported in shim.log; the exit must still be recorded
                    print(f"cannot remove {directory}: {busy}", file=sys.stderr)
            _remove_parent_if_empty(directory.parent, hierarchy)


def _remove_parent_if_empty(parent: Path, hierarchy: Path) -> None:
    """runc also made the parent (e.g. /dockyard) in that hierarchy; it goes once no container is left."""
    if parent == hierarchy or not parent.is_dir() or any(child.is_dir() for child in parent.iterdir()):
        return
    try:
        parent.rmdir()
    except OSError as busy:  # another container's cgroup appeared meanwhile: it stays, correctly
        if busy.errno not in (errno.EBUSY, errno.ENOTEMPTY):
            raise


class ExternalShim(Shim):
    """A shim whose container is created and started by an external OCI runtime binary."""

    console_inside = False  # runc/crun get the terminal as plain stdio (no console socket)

    def __init__(self, bundle: Path, log_path: Path, binary: str, open_stdin: bool, stdin_once: bool,
                 rotation: Rotation) -> None:
        super().__init__(bundle, log_path, open_stdin, stdin_once, rotation)
        self.binary = binary
        self.state_root = bundle / STATE_DIR

    def _runtime(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        """Run one runtime command against this bundle's state directory."""
        return subprocess.run([self.binary, "--root", str(self.state_root), "--log", str(self.bundle / RUNTIME_LOG),
                               "--log-format", "json", *args], timeout=_TIMEOUT, check=False, **kwargs)

    def start(self) -> int:
        """`create` with the container's stdio, adopt its init (subreaper), `start`; return its host pid."""
        L.prctl(PR_SET_CHILD_SUBREAPER, 1)
        write_atomic(self.bundle / B.CONFIG, json.dumps(adapt_spec(self.spec)).encode())
        (self.bundle / RUNTIME_LOG).unlink(missing_ok=True)
        pid_file = self.bundle / "runtime.pid"
        name = self.bundle.name
        stdin, stdout, stderr = self.stdio.child
        created = self._runtime("create", "--bundle", str(self.bundle), "--pid-file", str(pid_file), name,
                                stdin=stdin, stdout=stdout, stderr=stderr)
        self.stdio.child_started()
        if created.returncode != 0:
            self._fail("create")
        self.pid = int(pid_file.read_text())
        self.streams = dict(self.stdio.outputs)
        self.pidfd = os.pidfd_open(self.pid)
        if self._runtime("start", name, stdin=subprocess.DEVNULL, capture_output=True).returncode != 0:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self._fail("start")
        return self.pid

    def _fail(self, step: str) -> None:
        """Raise the runtime's error (docker's wording and exit code) after forgetting its state."""
        self._forget_state()
        message = runtime_error(self.bundle / RUNTIME_LOG, f"{Path(self.binary).name} {step} failed")
        raise LaunchError(message, classify_exit_code(message))

    def _forget_state(self) -> None:
        """Drop the runtime's record of the container (it is dead; the cgroup is ours to remove)."""
        shutil.rmtree(self.state_root, ignore_errors=True)

    def finish(self, listener: Any) -> None:
        """Forget the runtime state (and its extra cgroups) before the exit is reported: the id may be reused."""
        self._forget_state()
        if self.cgroups_path:
            remove_extra_cgroups(self.cgroups_path)
        super().finish(listener)


def shim_for(bundle: Path, log_path: Path, open_stdin: bool, stdin_once: bool, rotation: Rotation) -> Shim:
    """The shim for this bundle: the built-in runtime, or the runtime binary its config.json names."""
    spec = json.loads((bundle / B.CONFIG).read_text())
    binary = (spec.get("annotations") or {}).get(RUNTIME_ANNOTATION)
    if binary:
        return ExternalShim(bundle, log_path, binary, open_stdin, stdin_once, rotation)
    return Shim(bundle, log_path, open_stdin, stdin_once, rotation)
