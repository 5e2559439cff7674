"""Filesystem figures shared by snapshots and volumes."""

from __future__ import annotations

import os
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
