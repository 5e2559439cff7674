"""The body of POST /plugins/create: a tar of a directory holding config.json and rootfs/, as the docker CLI
sends it; unpacked through the one safe extractor."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import InvalidParameter
from dockyard.util.tartree import extract_tar

CONFIG_NAME = "config.json"
ROOTFS_NAME = "rootfs"
_MAX_CONFIG = 1 << 20


class _Digesting:
    """A read-only stream that hashes what passes through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self.hash.update(data)
        return data


def unpack(stream: BinaryIO, staging: Path) -> tuple[bytes, Path, str]:
    """Unpack the archive into `staging`: (config.json's bytes, the rootfs directory, the archive's digest)."""
    digesting = _Digesting(stream)
    extract_tar(digesting, staging)
    rootfs = staging / ROOTFS_NAME
    try:
        is_directory = stat.S_ISDIR(os.lstat(rootfs).st_mode)
    except FileNotFoundError:
        is_directory = False
    if not is_directory:
        raise InvalidParameter("no rootfs found: EOF")
    return _read_config(staging), rootfs, f"sha256:{digesting.hash.hexdigest()}"


def _read_config(staging: Path) -> bytes:
    """config.json at the top of the archive, never through a symlink."""
    try:
        fd = os.open(staging / CONFIG_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise InvalidParameter("config not found") from exc
    with os.fdopen(fd, "rb") as config:
        if not stat.S_ISREG(os.fstat(config.fileno()).st_mode):
            raise InvalidParameter("config not found")
        data = config.read(_MAX_CONFIG + 1)
    if len(data) > _MAX_CONFIG:
        raise InvalidParameter("failed to parse config: config.json is larger than 1 MiB")
    return data
