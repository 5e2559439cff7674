"""Per-container user-namespace id maps (HostConfig.UsernsMode): "" or "host" share the host's ids; "auto" takes
a free block of 65536 ids from a reserved range recorded in <data-root>/userns.json; "map:HOST[:SIZE]" maps
container ids 0..SIZE-1 (default 65536) onto host ids HOST.. explicitly."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidParameter, SystemError_
from dockyard.util.atomic import write_atomic

BLOCK = 65536
RANGE_START = 1 << 30  # far above the ids of users and of /etc/subuid's usual 100000.. ranges
RANGE_BLOCKS = 1024
_MAX_ID = (1 << 32) - 2  # (uid_t)-1 is never a valid id


def parse_mode(mode: str | None) -> tuple[str, int, int]:
    """("host"|"auto"|"map", host start, size) for a UsernsMode; bad values raise InvalidParameter."""
    value = mode or ""
    if value in ("", "host"):
        return "host", 0, 0
    if value == "auto":
        return "auto", 0, BLOCK
    kind, _, rest = value.partition(":")
    parts = rest.split(":")
    if kind != "map" or not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        raise InvalidParameter(f"invalid user namespace mode: {value} (use host, auto or map:HOSTID[:SIZE])")
    start, size = int(parts[0]), int(parts[1]) if len(parts) == 2 else BLOCK
    if start == 0 or size == 0 or start + size - 1 > _MAX_ID:
        raise InvalidParameter(f"invalid user namespace mode: {value} (host ids must be 1..{_MAX_ID})")
    return "map", start, size


def check_compatible(host: dict[str, Any]) -> None:
    """Docker's rule: a private user namespace cannot share the host's pid, network or IPC namespace or be
    privileged."""
    if parse_mode(host.get("UsernsMode"))[0] == "host":
        return
    for key, what in (("PidMode", "--pid=host"), ("NetworkMode", "--network=host"), ("IpcMode", "--ipc=host")):
        if host.get(key) == "host":
            raise InvalidParameter(f"{what} cannot be used with a private user namespace (--userns)")
    if host.get("Privileged"):
        raise InvalidParameter("--privileged cannot be used with a private user namespace (--userns)")


def id_mappings(start: int, size: int) -> list[dict[str, int]]:
    """OCI uidMappings/gidMappings: container ids 0..size-1 onto host ids start..."""
    return [{"containerID": 0, "hostID": start, "size": size}]


class UsernsAllocator:
    """Hands out id ranges for "auto" containers; a container keeps its block until it no longer exists."""

    def __init__(self, state: Path, live_ids: Callable[[], set[str]]) -> None:
        self._state = state
        self._live_ids = live_ids
        self._lock = threading.Lock()

    def mappings(self, container_id: str, mode: str | None) -> list[dict[str, int]] | None:
        """The id mappings for a container's UsernsMode, or None when it shares the host's user namespace."""
        kind, start, size = parse_mode(mode)
        if kind == "host":
            return None
        if kind == "auto":
            start = self._block_of(container_id)
        return id_mappings(start, size)

    def _block_of(self, container_id: str) -> int:
        """The first host id of the container's block, allocating the lowest free one."""
        with self._lock:
            blocks: dict[str, int] = json.loads(self._state.read_text()) if self._state.exists() else {}
            if container_id in blocks:
                return blocks[container_id]
            live = self._live_ids()
            blocks = {cid: start for cid, start in blocks.items() if cid in live}
            used = set(blocks.values())
            free = next((RANGE_START + i * BLOCK for i in range(RANGE_BLOCKS) if RANGE_START + i * BLOCK not in used),
                        None)
            if free is None:
                raise SystemError_("no free user namespace id range left for --userns=auto")
            blocks[container_id] = free
            write_atomic(self._state, json.dumps(blocks).encode(), mode=0o600)
            return free
