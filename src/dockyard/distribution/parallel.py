"""Run blocking transfer jobs on a few threads and turn their progress reports into one message stream."""

from __future__ import annotations

import queue
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator

from dockyard.distribution import progress

Report = Callable[[dict[str, Any]], None]
Job = Callable[[Report], None]
MAX_CONCURRENT = 3  # docker's default max-concurrent-downloads/uploads is 3 and 5


def run(jobs: list[Job], workers: int = MAX_CONCURRENT) -> Iterator[dict[str, Any]]:
    """Yield every message the jobs report, then re-raise the first job failure."""
    if not jobs:
        return
    messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="transfer") as pool:
        futures: list[Future[None]] = [pool.submit(job, messages.put) for job in jobs]
        for future in futures:
            future.add_done_callback(lambda _f: messages.put(None))
        finished = 0
        while finished < len(futures):
            item = messages.get()
            if item is None:
                finished += 1
            else:
                yield item
        for future in futures:
            future.result()


class Meter:
    """Reports bytes moved for one layer, throttled to about one message per percent."""

    def __init__(self, report: Report, action: str, ident: str, total: int) -> None:
        self.report = report
        self.action = action
        self.ident = ident
        self.total = total
        self.current = 0
        self._last = -1

    def add(self, n: int) -> None:
        """Count `n` more bytes."""
        self.current += n
        step = max(self.total // 100, 256 << 10)
        if self.current - self._last >= step or self.current == self.total:
            self._last = self.current
            self.report(progress.bar(self.action, self.ident, self.current, self.total))
