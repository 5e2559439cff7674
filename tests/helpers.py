"""Small helpers every kind of test uses: unique names, polling, digests, checked command output, free ports, tars."""

from __future__ import annotations

import hashlib
import io
import secrets
import socket
import subprocess
import tarfile
import time
import urllib.request
from typing import Callable, Mapping, TypeVar

T = TypeVar("T")
TarMember = tuple[tarfile.TarInfo, "bytes | None"]


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses: `<prefix>-<8 hex digits>`."""
    return f"{prefix}-{secrets.token_hex(4)}"


def wait_for(check: Callable[[], T], timeout: float = 10.0, what: str = "condition", interval: float = 0.1) -> T:
    """Poll `check` until it returns something true and return that; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def sha(data: bytes, alg: str = "sha256") -> str:
    """The OCI digest of `data` (`sha256:<hex>`)."""
    return f"{alg}:{hashlib.new(alg, data).hexdigest()}"


def out(result: subprocess.CompletedProcess) -> str:
    """stdout of a command that must succeed."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout.decode()


def ok(result: subprocess.CompletedProcess) -> str:
    """stdout of a command that must succeed, without the surrounding whitespace."""
    return out(result).strip()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, attempts: int = 30) -> str:
    """GET over loopback, retrying while the server in the container starts."""
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered")


def file_member(name: str, data: bytes, mode: int = 0o644, mtime: int = 0) -> TarMember:
    """A regular file for `tar_of`."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, mtime
    return info, data


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> TarMember:
    """A symlink (or, with kind=LNKTYPE, a hard link) for `tar_of`."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def tar_of(*members: TarMember, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar archive of (header, data or None) members, headers written as they are."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def tar_files(files: Mapping[str, bytes], mtime: int = 0) -> bytes:
    """A tar archive of regular files (mode 0644) by name."""
    return tar_of(*(file_member(name, data, mtime=mtime) for name, data in files.items()))
