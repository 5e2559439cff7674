"""What is mounted where: the host's mount table (/proc/self/mountinfo), for safe unmounts and removals."""

from __future__ import annotations

import re
from pathlib import Path

from dockyard.errors import SystemError_
from dockyard.util import linux as L

_ESCAPE = re.compile(r"\\([0-7]{3})")


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, deepest first (os.path.ismount misses same-filesystem binds)."""
    prefix = str(path).rstrip("/")
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as table:
        for line in table:
            point = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def unmount_all(path: Path) -> None:
    """Detach everything mounted at or below `path`; SystemError_ if anything stays (never delete through it)."""
    for _attempt in range(8):
        points = mounts_under(path)
        if not points:
            return
        for point in points:
            try:
                L.umount2(point, L.MNT_DETACH)
            except OSError as exc:
                raise SystemError_(f"error unmounting {point}: {exc}") from exc
    raise SystemError_(f"{path} is still mounted")
