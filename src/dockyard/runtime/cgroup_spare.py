"""A cgroup made ahead of time and renamed into place when a container starts.

On cgroup v1 the kernel spends ~13 ms creating a devices cgroup; a spare made while nothing waits
moves that off the start path. v2 cannot rename cgroups (and creates them quickly): no spare there.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path

from dockyard.runtime.cgroups import DEFAULT_ROOT, Cgroup, is_cgroup2, open_cgroup

SPARE_PREFIX = "spare-"
log = logging.getLogger(__name__)


class SpareCgroup:
    """At most one spare cgroup under `parent`, handed out by rename."""

    def __init__(self, parent: str, root: Path = DEFAULT_ROOT) -> None:
        self._parent = parent.strip("/")
        self._root = root
        self._lock = threading.Lock()
        self._spare: Cgroup | None = None
        self.enabled = not is_cgroup2(root)

    def sweep(self) -> None:
        """Remove spares that daemons no longer alive left behind (killed before draining them)."""
        if not self.enabled:
            return
        parents = [d for d in open_cgroup(f"/{self._parent}", self._root).directories() if d.is_dir()]
        # every hierarchy: a daemon killed while it made or removed a spare left it in some of them only
        names = {entry.name for parent in parents for entry in parent.iterdir()
                 if entry.is_dir() and entry.name.startswith(SPARE_PREFIX)}
        for name in sorted(names):
            if not _owner_alive(name):
                open_cgroup(f"/{self._parent}/{name}", self._root).remove()

    def fill(self) -> None:
        """Make a spare unless one is ready (blocking: run it off the start path)."""
        if not self.enabled:
            return
        with self._lock:
            if self._spare is not None:
                return
        name = f"{SPARE_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"  # the pid says whose spare it is
        spare = open_cgroup(f"/{self._parent}/{name}", self._root)
        spare.create()
        if not self._keep(spare):
            spare.remove()

    def _keep(self, spare: Cgroup) -> bool:
        """Make `spare` the spare unless another fill made one meanwhile; False when it was not kept."""
        with self._lock:
            if self._spare is not None:
                return False
            self._spare = spare
            return True

    def claim(self, path: str) -> bool:
        """Rename the spare to `path` (a direct child of the parent); False when there is none to give."""
        target = path.strip("/")
        if Path(target).parent != Path(self._parent):
            return False
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is None:
            return False
        name = Path(target).name
        try:
            for directory in spare.directories():
                os.rename(directory, directory.parent / name)
        except OSError as exc:
            log.warning("spare cgroup not used: %s", exc)
            spare.remove()  # what was not renamed; the runtime creates the cgroup itself
            return False
        return True

    def drain(self) -> None:
        """Remove the spare (daemon shutdown)."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.remove()


def _owner_alive(name: str) -> bool:
    """Whether the daemon named in a spare's name (spare-<pid>-<hex>) still runs."""
    pid = name[len(SPARE_PREFIX):].split("-", 1)[0]
    return pid.isdigit() and Path(f"/proc/{pid}").exists()
