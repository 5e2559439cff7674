"""Docker's json-file log format: one {"log","stream","time"} object per line, written by the shim."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Docker's log copier cuts lines longer than its 16 KiB buffer into partial messages.
MAX_LINE = 16 * 1024


def rfc3339nano(ns: int | None = None) -> str:
    """Go's time.RFC3339Nano in UTC (trailing zeros of the fraction trimmed, as Docker writes it)."""
    if ns is None:
        ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    fraction = f"{frac:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


def encode_entry(stream: str, data: bytes, stamp: str) -> bytes:
    """One json-file line (with its trailing newline) for a chunk of output."""
    text = data.decode("utf-8", errors="replace")
    obj = {"log": text, "stream": stream, "time": stamp}
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True)
class Rotation:
    """dockerd's max-size / max-file / compress for a log file: rotate once it holds `max_size` bytes (0: never),
    keeping `max_file` files in all (`<log>.1` the newest rotated one, gzipped as `<log>.1.gz` when `compress`)."""

    max_size: int = 0
    max_file: int = 1
    compress: bool = False

    def to_json(self) -> dict[str, Any]:
        """The shim's launch option."""
        return {"max_size": self.max_size, "max_file": self.max_file, "compress": self.compress}

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> Rotation:
        """The launch option back (none given: never rotate)."""
        return cls(**value) if value else cls()


class JsonLogWriter:
    """Appends entries to a json-file log, keeping a partial-line buffer per stream; rotates as dockerd's LogFile
    does: before an entry, once the file holds max-size bytes (so no line is ever split between files)."""

    def __init__(self, path: Path, rotation: Rotation = Rotation()) -> None:
        self.path = path
        self.rotation = rotation
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        self._pending: dict[str, bytes] = {}

    def feed(self, stream: str, data: bytes) -> None:
        """Log every complete line in `data`; keep the rest until more arrives or the stream ends."""
        buf = self._pending.get(stream, b"") + data
        stamp = rfc3339nano()
        out: list[bytes] = []
        start = 0
        while True:
            nl = buf.find(b"\n", start, start + MAX_LINE)
            if nl >= 0:
                out.append(encode_entry(stream, buf[start:nl + 1], stamp))
                start = nl + 1
            elif len(buf) - start >= MAX_LINE:
                out.append(encode_entry(stream, buf[start:start + MAX_LINE], stamp))
                start += MAX_LINE
            else:
                break
        self._pending[stream] = buf[start:]
        self._write(out)

    def end(self, stream: str) -> None:
        """The stream closed: log its last partial line, without a newline."""
        rest = self._pending.pop(stream, b"")
        if rest:
            self._write([encode_entry(stream, rest, rfc3339nano())])

    def _write(self, entries: list[bytes]) -> None:
        """Append entries, as many whole ones in one write as fit before the next rotation, so followers see whole
        lines."""
        limit = self.rotation.max_size
        batch: list[bytes] = []
        for entry in entries:
            if limit and self.size >= limit:
                self._append(batch)
                batch = []
                self._rotate()
            batch.append(entry)
            self.size += len(entry)
        self._append(batch)

    def _append(self, entries: list[bytes]) -> None:
        view = memoryview(b"".join(entries))
        while view:
            view = view[os.write(self.fd, view):]

    def _rotate(self) -> None:
        """dockerd's rotate: shift `<log>.N` up (the oldest dropped), the full file becomes `<log>.1` (gzipped when
        asked: readers fall back from `.1` to `.1.gz`, which is complete before `.1` goes), a new empty file follows.
        With max-file 1 the full file is only unlinked: a reader still holding it finishes it. A file system that
        refuses (full, read-only) costs the rotation, never the container: writing goes on in the same file."""
        name, keep, suffix = str(self.path), self.rotation.max_file, ".gz" if self.rotation.compress else ""
        try:
            if keep < 2:
                os.unlink(name)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{name}.{keep - 1}{suffix}")
                for index in range(keep - 1, 1, -1):
                    with contextlib.suppress(FileNotFoundError):
                        os.rename(f"{name}.{index - 1}{suffix}", f"{name}.{index}{suffix}")
                os.rename(name, f"{name}.1")
            fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        except OSError as failed:
            print(f"log rotation of {name} failed, logging on in the same file: {failed}", file=sys.stderr)
            self.size = 0  # try again after another max-size
            return
        os.close(self.fd)
        self.fd, self.size = fd, 0
        if keep >= 2 and self.rotation.compress:
            try:
                _gzip_file(f"{name}.1")
            except OSError as failed:  # `.1` stays, uncompressed; readers take it as it is
                print(f"compressing {name}.1 failed: {failed}", file=sys.stderr)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{name}.1.gz.tmp")

    def close(self) -> None:
        """Flush every stream's partial line, fsync and close the file."""
        for stream in list(self._pending):
            self.end(stream)
        if stat.S_ISREG(os.fstat(self.fd).st_mode):  # /dev/null (the none log driver) cannot be synced
            os.fsync(self.fd)
        os.close(self.fd)


def _gzip_file(name: str) -> None:
    """`name` compressed to `name.gz` (written aside and renamed, so a reader never opens half of it), then removed."""
    with open(name, "rb") as source, open(f"{name}.gz.tmp", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
            shutil.copyfileobj(source, packed)
    os.rename(f"{name}.gz.tmp", f"{name}.gz")
    os.unlink(name)
