"""Filesystem figures shared by snapshots and volumes."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path


def disk_usage(root: Path) -> int:
    """Bytes of the regular files under `root`, hard links counted once (docker's size method)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def remove_tree(path: Path) -> None:
    """Delete a directory tree; a tree that is already gone is fine, any other failure is raised."""
    def missing_is_fine(_fn: object, _path: str, exc_info: tuple) -> None:
        if not isinstance(exc_info[1], FileNotFoundError):
            raise exc_info[1]

    shutil.rmtree(path, onerror=missing_is_fine)
