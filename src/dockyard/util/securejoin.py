"""Resolve a path inside a root directory, following symlinks as if the root were `/`."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.errors import InvalidParameter

_MAX_LINKS = 255


def secure_join(root: Path, unsafe: str) -> Path:
    """Return root/unsafe with every symlink resolved inside root; nothing can climb out of it."""
    root = Path(os.path.realpath(root))
    parts = [p for p in unsafe.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink():
            links += 1
            if links > _MAX_LINKS:
                raise InvalidParameter(f"too many symlinks resolving {unsafe}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)
