"""Read docker's json-file logs: one JSON object per line, across rotated files, with tail, since/until and follow."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, BinaryIO, Callable, Iterator

from dockyard.util.timeutil import parse_rfc3339

_CHUNK = 64 * 1024
POLL_SECONDS = 0.05
_RETRIES = 8


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


def tail_offset(handle: BinaryIO, lines: int) -> int:
    """Byte offset where the last `lines` complete lines of an open log begin (0 when it has fewer)."""
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


def rotated_logs(path: Path) -> list[Path]:
    """The files a rotating writer moved aside, oldest first: `<log>.N` ... `<log>.1`, each plain or gzipped."""
    found: list[Path] = []
    for index in itertools.count(1):
        plain, packed = Path(f"{path}.{index}"), Path(f"{path}.{index}.gz")
        if plain.exists():
            found.append(plain)
        elif packed.exists():
            found.append(packed)
        else:
            return found[::-1]
    raise AssertionError("unreachable")


def _open_rotated(path: Path) -> BinaryIO | gzip.GzipFile | None:
    """A rotated file for reading; one compressed meanwhile is read from its `.gz` (complete before `.N` goes)."""
    for candidate in (path, Path(f"{path}.gz")) if path.suffix != ".gz" else (path,):
        try:
            return gzip.open(candidate, "rb") if candidate.suffix == ".gz" else open(candidate, "rb")
        except FileNotFoundError:
            continue
        except IsADirectoryError:
            return None  # not a rotated log: nothing of the container's is in it
    return None


def _count_lines(handle: BinaryIO | gzip.GzipFile) -> int:
    """Lines in an open file from its start (a last line without newline counts)."""
    handle.seek(0)
    count, last = 0, b"\n"
    while block := handle.read(_CHUNK):
        count += block.count(b"\n")
        last = block[-1:]
    return count + (last != b"\n")


def _start(current: BinaryIO | None, rotated: list[Path], tail: int | None) -> tuple[list[Path], int, int]:
    """Where `docker logs --tail` starts: (rotated files to read, lines to skip in the first, offset in the live
    file). The newest lines are in the live file, then `<log>.1`, `<log>.2`..."""
    if tail is None or tail < 0:
        return rotated, 0, 0
    if current is None:
        return [], 0, 0
    if tail == 0:
        return [], 0, current.seek(0, os.SEEK_END)
    offset = tail_offset(current, tail)
    need = tail - (_count_lines(current) if offset == 0 else tail)
    if need <= 0:
        return [], 0, offset
    for index in range(len(rotated) - 1, -1, -1):
        handle = _open_rotated(rotated[index])
        if handle is None:
            continue
        with handle:
            count = _count_lines(handle)
        if count >= need:
            return rotated[index:], count - need, 0
        need -= count
    return rotated, 0, 0


class _Window:
    """--since / --until over entries in time order."""

    def __init__(self, since: float | None, until: float | None) -> None:
        self.since, self.until = since, until
        self.over = False  # an entry after `until` was seen: nothing later can be wanted

    def wants(self, entry: LogEntry) -> bool:
        if self.since is None and self.until is None:
            return True
        stamp = parse_rfc3339(entry.time)
        if self.until is not None and stamp > self.until:
            self.over = True
            return False
        return self.since is None or stamp >= self.since


async def read_logs(path: Path, *, tail: int | None = None, since: float | None = None, until: float | None = None,
                    follow: bool = False, finished: Callable[[], bool] = lambda: True) -> AsyncIterator[LogEntry]:
    """A log with its rotated files, oldest first: the last `tail` lines (None: all), within since/until, then
    followed (across rotations) until `finished()` and the live file is drained."""
    try:
        current: BinaryIO | None = open(path, "rb")
    except FileNotFoundError:
        current = None
    live = os.fstat(current.fileno()).st_ino if current is not None else None
    # opened first: a rotation since then made our live file `<log>.1`, which must not be read twice
    rotated = [p for p in rotated_logs(path) if live is None or p.suffix == ".gz" or p.stat().st_ino != live]
    window = _Window(since, until)
    try:
        files, skip, offset = _start(current, rotated, tail)
        for name in files:
            handle = _open_rotated(name)
            if handle is None:
                continue
            with handle:
                for number, raw in enumerate(itertools.islice(_lines(handle), skip, None)):
                    entry = parse_line(raw)
                    if entry is not None and window.wants(entry):
                        yield entry
                    if window.over:
                        return
                    if number % 1024 == 1023:
                        await asyncio.sleep(0)  # a long rotated file: let the loop serve others
            skip = 0
        if current is not None:
            async for entry in _follow(current, path, offset, window, follow, finished):
                yield entry
    finally:
        if current is not None:
            current.close()


async def read_log(path: Path, *, offset: int = 0, follow: bool = False,
                   finished: Callable[[], bool] = lambda: True) -> AsyncIterator[LogEntry]:
    """The live file from `offset` (where an attach joined it), followed across rotations when asked."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        async for entry in _follow(handle, path, offset, _Window(None, None), follow, finished):
            yield entry


def _lines(handle: BinaryIO | gzip.GzipFile) -> Iterator[bytes]:
    """Complete lines of a rotated file (its last may lack a newline: the stream's end)."""
    pending = b""
    while block := handle.read(_CHUNK):
        pending += block
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


def _rotated_away(handle: BinaryIO, path: Path) -> bool:
    """Whether the writer has moved on to a new live file."""
    try:
        return path.stat().st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False  # between the rename and the new file (max-file 1 unlinks it): look again later


def _successor(handle: BinaryIO, path: Path) -> BinaryIO | None:
    """The file written after the one `handle` holds, which the writer has rotated to `<log>.K`: `<log>.K-1`, or
    the live file (also when ours was dropped or compressed); None while the live file is being replaced."""
    ours = os.fstat(handle.fileno()).st_ino
    for _ in range(_RETRIES):
        index = _rotated_index(path, ours)
        newer = path if index <= 1 else Path(f"{path}.{index - 1}")
        try:
            opened = open(newer, "rb")
        except FileNotFoundError:
            continue
        if _rotated_index(path, ours) == index:  # no rotation in between: `newer` really is the next one
            return opened
        opened.close()
    return None


def _rotated_index(path: Path, inode: int) -> int:
    """K where `<log>.K` is the file with this inode; 0 when no uncompressed rotated file is."""
    for index in itertools.count(1):
        try:
            if Path(f"{path}.{index}").stat().st_ino == inode:
                return index
        except FileNotFoundError:
            if not Path(f"{path}.{index}.gz").exists():
                return 0
    raise AssertionError("unreachable")


async def _follow(handle: BinaryIO, path: Path, offset: int, window: _Window, follow: bool,
                  finished: Callable[[], bool]) -> AsyncIterator[LogEntry]:
    """Entries of the live file from `offset`; when following, on into each new live file after a rotation."""
    handle.seek(offset)
    pending = b""
    opened: list[BinaryIO] = []
    try:
        while True:
            block = handle.read(_CHUNK)
            if block:
                pending += block
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    entry = parse_line(raw)
                    if entry is not None and window.wants(entry):
                        yield entry
                    if window.over:
                        return
                await asyncio.sleep(0)
                continue
            if not follow:
                return
            if _rotated_away(handle, path):  # this file is complete: go on with the next newer one
                newer = _successor(handle, path)
                if newer is None:
                    await asyncio.sleep(POLL_SECONDS)
                    continue
                handle = newer
                opened.append(handle)
                pending = b""
                continue
            if finished():
                # one last read: the writer flushed everything before the exit was reported
                if handle.read(1):
                    handle.seek(-1, os.SEEK_CUR)
                    continue
                return
            await asyncio.sleep(POLL_SECONDS)
    finally:
        for extra in opened:
            extra.close()
