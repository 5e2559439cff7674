"""docker logs: a container's json log read from a tail, between times, followed while the container runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator

from dockyard.errors import LogsNotReadable
from dockyard.logs.jsonfile import LogEntry, read_logs

if TYPE_CHECKING:
    from dockyard.containers.service import ContainerService


class LogReader:
    """GET /containers/{id}/logs over the log files of the container service's containers."""

    def __init__(self, containers: ContainerService) -> None:
        self._containers = containers

    async def logs(self, ref: str, tail: int | None, since: float | None, until: float | None,
                   follow: bool) -> tuple[bool, AsyncIterator[LogEntry]]:
        """Whether the container has a TTY, and its entries: the last `tail` lines (None: all), within
        since/until, followed (when `follow`) until the container stops."""
        container_id, path, tty = self._containers.log_path(ref)
        if path is None:
            raise LogsNotReadable()
        entries = read_logs(path, tail=tail, since=since, until=until, follow=follow,
                            finished=lambda: not self._containers.is_running(container_id))
        return tty, entries
