"""The host-wide lock every daemon on the machine takes before it picks subnets or bridge names, or changes the
chains of the shared nftables table."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

HOST_LOCK = Path("/run/lock/dockyard-network.lock")


@contextmanager
def host_lock() -> Iterator[None]:
    """Serialize subnet, bridge-name and shared-table choices with every other daemon on this host."""
    HOST_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(HOST_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
