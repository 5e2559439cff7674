"""Named network namespaces: created by the daemon, bind-mounted under exec-root, entered by one thread at a time."""

from __future__ import annotations

import errno
import os
import socket
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

from pyroute2 import IPRoute

from dockyard.util import linux as L

T = TypeVar("T")


def _in_thread(fn: Callable[[], T]) -> T:
    """Run `fn` in a fresh thread (whose namespaces it may change) and return its result or raise its error."""
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller below
            box["error"] = exc

    thread = threading.Thread(target=body, name="netns")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]


def create(path: Path) -> None:
    """Make a new network namespace with loopback up and pin it with a bind mount at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o711)
    path.touch(mode=0o444)

    def body() -> None:
        L.unshare(L.CLONE_NEWNET)
        L.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", str(path), None, L.MS_BIND)
        with IPRoute() as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")

    try:
        _in_thread(body)
    except BaseException:
        destroy(path)
        raise


def run_in(path: Path, fn: Callable[[], T]) -> T:
    """Call `fn` with the calling thread inside the namespace pinned at `path` (sockets made there stay there)."""
    def body() -> T:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            L.setns(fd, L.CLONE_NEWNET)
        finally:
            os.close(fd)
        return fn()

    return _in_thread(body)


def socket_in(path: Path, kind: int, address: tuple[str, int]) -> socket.socket:
    """A non-blocking socket of `kind` bound to `address` inside the namespace at `path`."""
    def body() -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            if kind == socket.SOCK_STREAM:
                sock.listen(64)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    return run_in(path, body)


def is_pinned(path: Path) -> bool:
    """True when a namespace is mounted at `path`."""
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def destroy(path: Path) -> None:
    """Unmount and remove the pin; the namespace (and its veth ends) go once nothing else holds it."""
    try:
        L.umount2(str(path), L.MNT_DETACH)
    except OSError as bad:
        if bad.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    try:
        path.unlink()
    except FileNotFoundError:
        pass
