"""Timestamps as Docker writes and reads them (RFC 3339 with nanoseconds, unix seconds with fractions)."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta, timezone

from dockyard.errors import InvalidParameter
from dockyard.util.humanize import parse_duration

ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$"
)


def format_ns(ns: int) -> str:
    """RFC 3339 in UTC with nine fraction digits, e.g. 2024-01-02T03:04:05.123456789Z."""
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{frac:09d}Z"


def now_rfc3339() -> str:
    """The current time in RFC 3339 with nanoseconds."""
    return format_ns(time.time_ns())


def parse_rfc3339(text: str) -> float:
    """Unix seconds from an RFC 3339 timestamp (any fraction length, Z or offset)."""
    match = _RFC3339.match(text)
    if not match:
        raise InvalidParameter(f"parsing time {text!r}: invalid timestamp")
    year, month, day, hour, minute, second, frac, zone = match.groups()
    tz = timezone.utc
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    base = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz)
    return base.timestamp() + (int(frac.ljust(9, "0")) / 1e9 if frac else 0.0)


def parse_timestamp(text: str) -> float:
    """Unix seconds from what docker accepts for since/until: "1700000000.5", RFC 3339, or a Go duration ago."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise InvalidParameter(f'failed to parse value as time or duration: "{text[:64]}"')
        return seconds
    if _RFC3339.match(value):
        return parse_rfc3339(value)
    try:
        return time.time() - parse_duration(value)
    except ValueError:
        raise InvalidParameter(f'failed to parse value as time or duration: "{text}"') from None


def unix_seconds(rfc3339: str) -> int:
    """Whole unix seconds of an RFC 3339 timestamp (0 for docker's zero time)."""
    if rfc3339 == ZERO_TIME:
        return 0
    return int(parse_rfc3339(rfc3339))
