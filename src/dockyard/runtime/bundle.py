"""Names of the files a shim keeps in a container's bundle directory, shared by shim and client."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

CONFIG = "config.json"
ROOTFS = "rootfs"
SOCKET = "shim.sock"      # line-based JSON requests; closed (EOF) once exit.json is written
SHIM_PID = "shim.pid"     # the shim's own pid
INIT_PID = "init.pid"     # the container init's host pid
EXIT = "exit.json"        # {"exit_code", "oom_killed", "finished_at"}, written atomically
SHIM_LOG = "shim.log"     # the shim's own stderr (tracebacks, cleanup failures)

SHIM_FILES = (SOCKET, SHIM_PID, INIT_PID, EXIT, SHIM_LOG)


def path(bundle: Path, name: str) -> Path:
    """A shim file of the bundle."""
    return Path(bundle) / name


@contextmanager
def socket_path(bundle: Path, name: str = SOCKET) -> Iterator[str]:
    """A short path to a socket in `bundle` (the shim's by default) via /proc/self/fd: sun_path holds only
    108 bytes."""
    fd = os.open(bundle, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{name}"
    finally:
        os.close(fd)
