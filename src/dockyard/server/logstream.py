"""Log responses as dockerd writes them (`WriteLogStream`): the query's streams, tail and times, and each entry
framed for stdcopy (raw with a TTY), with its timestamp and its details (`k=v,k=v ` URL-escaped) in front."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import AsyncIterator

from dockyard.errors import InvalidParameter
from dockyard.server.attach import STREAM_IDS
from dockyard.server.backends import LogLine
from dockyard.server.routing import Request
from dockyard.util.stdcopy import frame


@dataclass(frozen=True)
class LogQuery:
    """What a logs request asks for."""

    streams: frozenset[str]
    tail: int | None
    since: float | None
    until: float | None
    follow: bool
    timestamps: bool
    details: bool

    @classmethod
    def of(cls, req: Request) -> LogQuery:
        """The query of a logs request (400 without stdout or stderr, or with a bad tail)."""
        streams = frozenset(name for name in ("stdout", "stderr") if req.arg_bool(name))
        if not streams:
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        tail = req.arg("tail") or "all"
        if tail != "all" and not tail.lstrip("-").isdigit():
            raise InvalidParameter(f"invalid value for \"tail\": {tail!r}")
        return cls(streams, None if tail == "all" else int(tail), req.arg_time("since") or None,
                   req.arg_time("until") or None, req.arg_bool("follow"), req.arg_bool("timestamps"),
                   req.arg_bool("details"))


def details_prefix(attrs: dict[str, str]) -> bytes:
    """Log attributes as dockerd puts them before a line: sorted `key=value` pairs, URL-escaped, then a space."""
    pairs = [f"{urllib.parse.quote_plus(k)}={urllib.parse.quote_plus(v)}" for k, v in sorted(attrs.items())]
    return ",".join(pairs).encode() + b" "


async def log_body(entries: AsyncIterator[tuple[dict[str, str], LogLine]], query: LogQuery,
                   tty: bool) -> AsyncIterator[bytes]:
    """The response body for (details, entry) pairs."""
    async for attrs, entry in entries:
        if entry.stream not in query.streams:
            continue
        data = entry.data
        if query.details:
            data = details_prefix(attrs) + data
        if query.timestamps:
            data = entry.time.encode() + b" " + data
        yield data if tty else frame(STREAM_IDS[entry.stream], data)
