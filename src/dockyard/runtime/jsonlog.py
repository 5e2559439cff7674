"""Docker's json-file log format: one {"log","stream","time"} object per line, written by the shim."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

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


class JsonLogWriter:
    """Appends entries to a json-file log, keeping a partial-line buffer per stream."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
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
        """Append entries in one write so followers see whole lines."""
        view = memoryview(b"".join(entries))
        while view:
            view = view[os.write(self.fd, view):]

    def close(self) -> None:
        """Flush every stream's partial line, fsync and close the file."""
        for stream in list(self._pending):
            self.end(stream)
        if stat.S_ISREG(os.fstat(self.fd).st_mode):  # /dev/null (the none log driver) cannot be synced
            os.fsync(self.fd)
        os.close(self.fd)
