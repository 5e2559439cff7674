"""Read docker's json-file logs: one JSON object per line, with tail, since/until and follow."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable

from dockyard.util.timeutil import parse_rfc3339

_CHUNK = 64 * 1024
POLL_SECONDS = 0.05


@dataclass
class LogEntry:
    """One line a container wrote."""

    stream: str  # "stdout" or "stderr"
    time: str  # RFC 3339 with nanoseconds
    data: bytes


def parse_line(raw: bytes) -> LogEntry | None:
    """Decode one log line; None for a torn or foreign line."""
    try:
        doc = json.loads(raw)
        return LogEntry(doc["stream"], doc["time"], doc["log"].encode())
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def tail_offset(path: Path, lines: int) -> int:
    """Byte offset where the last `lines` complete lines of the file begin."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        pos, found = end, 0
        while pos > 0:
            step = min(_CHUNK, pos)
            pos -= step
            handle.seek(pos)
            block = handle.read(step)
            if pos + step == end and block.endswith(b"\n"):
                block = block[:-1]
            count = block.count(b"\n")
            if found + count >= lines:
                index = len(block)
                for _ in range(lines - found):
                    index = block.rindex(b"\n", 0, index)
                return pos + index + 1
            found += count
        return 0


def end_offset(path: Path) -> int:
    """Current size of the log (where a live follower starts)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def read_log(path: Path, *, offset: int = 0, since: float | None = None, until: float | None = None,
                   follow: bool = False, finished: Callable[[], bool] = lambda: True) -> AsyncIterator[LogEntry]:
    """Yield entries from `offset`; when following, keep going until `finished()` and the file is drained."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        handle.seek(offset)
        pending = b""
        while True:
            block = handle.read(_CHUNK)
            if block:
                pending += block
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    entry = parse_line(raw)
                    if entry is None:
                        continue
                    if since is not None or until is not None:
                        stamp = parse_rfc3339(entry.time)
                        if since is not None and stamp < since:
                            continue
                        if until is not None and stamp > until:
                            return
                    yield entry
                await asyncio.sleep(0)
                continue
            if not follow:
                return
            if finished():
                # one last read: the writer flushed everything before the exit was reported
                if handle.read(1):
                    handle.seek(-1, os.SEEK_CUR)
                    continue
                return
            await asyncio.sleep(POLL_SECONDS)
