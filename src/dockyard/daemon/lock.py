"""One daemon per data root: an exclusive lock on the data root plus a pid file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class AlreadyRunning(Exception):
    """Another daemon holds the data root."""


class DataRootLock:
    """Hold `<data-root>/dockyard.lock` for the daemon's lifetime and publish our pid."""

    def __init__(self, data_root: Path, pidfile: Path) -> None:
        self._lock_path = data_root / "dockyard.lock"
        self._pidfile = pidfile
        self._fd: int | None = None

    def acquire(self) -> None:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode().strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"a dockyard daemon (pid {holder}) is already running on data root {self._lock_path.parent}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        self._pidfile.parent.mkdir(parents=True, exist_ok=True)
        self._pidfile.write_text(f"{os.getpid()}\n")

    def release(self) -> None:
        if self._fd is None:
            return
        if self._pidfile.exists() and self._pidfile.read_text().strip() == str(os.getpid()):
            self._pidfile.unlink()
        os.close(self._fd)
        self._fd = None
