"""Build progress in step order when stages run in parallel: the earliest unfinished stage prints as it goes, a
later stage's lines are held and printed as one block when every stage before it has finished."""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable

Emit = Callable[[dict[str, Any]], None]

# The stage (its index in the plan) whose code is running; unset outside stages.
current_stage: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_stage", default=None)


class OrderedOutput:
    """Sends messages to `emit` in the order of `stages` (stage indexes as they are numbered); thread-safe, since a
    stage's pulls report from a worker thread."""

    def __init__(self, stages: list[int], emit: Emit) -> None:
        self._order = stages
        self._emit = emit
        self._held: dict[int, list[dict[str, Any]]] = {index: [] for index in stages}
        self._done: set[int] = set()
        self._head = 0
        self._lock = threading.Lock()

    def emit(self, msg: dict[str, Any]) -> None:
        """A message from the running stage (or from no stage: passed through)."""
        stage = current_stage.get()
        with self._lock:
            if stage is None or stage not in self._held or self._head >= len(self._order) \
                    or self._order[self._head] == stage:
                self._emit(msg)
            else:
                self._held[stage].append(msg)

    def finished(self, stage: int) -> None:
        """`stage` printed its last line: the stages after it get their turn, held lines first."""
        with self._lock:
            self._done.add(stage)
            while self._head < len(self._order) and self._order[self._head] in self._done:
                self._head += 1
                if self._head < len(self._order):
                    self._flush(self._order[self._head])

    def flush_all(self) -> None:
        """Print whatever is still held, in stage order (a failed build's other stages)."""
        with self._lock:
            for stage in self._order:
                self._flush(stage)
            self._head = len(self._order)

    def _flush(self, stage: int) -> None:
        held, self._held[stage] = self._held[stage], []
        for msg in held:
            self._emit(msg)
