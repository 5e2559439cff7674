"""Resolve a docker `--user` value against the image's /etc/passwd and /etc/group."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.errors import InvalidParameter
from dockyard.util.inroot import open_in_root, open_root


@dataclass
class ExecUser:
    """The uid, gid and supplementary gids a container process runs as."""

    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"


_TABLE_LIMIT = 16 << 20


def _read_table(rootfs: Path, path: str) -> list[list[str]]:
    """The rows of a passwd-style file of the rootfs, opened inside it by the kernel (a symlink swapped in
    cannot lead out); anything but a regular file (a fifo would block) counts as absent."""
    root_fd = open_root(rootfs)
    try:
        fd = open_in_root(root_fd, path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return []
    finally:
        os.close(root_fd)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return []
        text = handle.read(_TABLE_LIMIT).decode(errors="replace")
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: Path, spec: str, group_add: list[str] | None = None) -> ExecUser:
    """Docker's rules: name or uid, optionally :group or :gid; numeric ids need no passwd entry."""
    user_part, _, group_part = (spec or "").partition(":")
    passwd = _read_table(rootfs, "/etc/passwd")
    groups = _read_table(rootfs, "/etc/group")
    result = ExecUser()
    entry = None
    if user_part:
        for row in passwd:
            if len(row) >= 4 and (row[0] == user_part or (user_part.isdigit() and row[2] == user_part)):
                entry = row
                break
        if entry is None and not user_part.isdigit():
            raise InvalidParameter(f"unable to find user {user_part}: no matching entries in passwd file")
    else:
        entry = next((row for row in passwd if len(row) >= 4 and row[2] == "0"), None)
    if entry is not None:
        result.uid, result.gid = int(entry[2]), int(entry[3])
        result.home = entry[5] if len(entry) > 5 and entry[5] else "/"
    else:
        result.uid = int(user_part) if user_part else 0
    if group_part:
        result.gid = _group_id(groups, group_part)
    elif entry is not None:
        name = entry[0]
        result.additional_gids = [
            int(row[2]) for row in groups
            if len(row) >= 4 and name in row[3].split(",") and row[2].isdigit() and int(row[2]) != result.gid
        ]
    for extra in group_add or []:
        gid = _group_id(groups, extra)
        if gid not in result.additional_gids:
            result.additional_gids.append(gid)
    return result


def _group_id(groups: list[list[str]], name: str) -> int:
    for row in groups:
        if len(row) >= 3 and (row[0] == name or row[2] == name):
            return int(row[2])
    if name.isdigit():
        return int(name)
    raise InvalidParameter(f"unable to find group {name}: no matching entries in group file")
