"""Human units as Docker prints them (go-units HumanDuration/HumanSize/RAMInBytes, Go durations)."""

from __future__ import annotations

import re
import time

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
_RAM_RE = re.compile(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_RAM_MULT = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DUR_RE = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DUR_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _round_half_away(x: float) -> int:
    """Round like Go's time.Duration.Round: halves go away from zero."""
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: "Less than a second", "About a minute", "3 hours", "2 weeks" ..."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = _round_half_away(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def _scaled(n: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    """Divide n by base until it is below base (or units run out)."""
    i = 0
    while n >= base and i < len(units) - 1:
        n /= base
        i += 1
    return n, units[i]


def human_size_precision(n: float, precision: int) -> str:
    """go-units HumanSizeWithPrecision: decimal units, "%.*g%s"."""
    value, unit = _scaled(float(n), 1000.0, _DECIMAL)
    return f"{value:.{precision}g}{unit}"


def human_size(n: float) -> str:
    """go-units HumanSize: decimal units with 4 significant digits ("4.27MB")."""
    return human_size_precision(n, 4)


def bytes_size(n: float) -> str:
    """go-units BytesSize: binary units with 4 significant digits ("1.5KiB")."""
    value, unit = _scaled(float(n), 1024.0, _BINARY)
    return f"{value:.4g}{unit}"


def parse_size(text: str) -> int:
    """go-units RAMInBytes: "64m" -> 67108864; raises ValueError("invalid size: '...'")."""
    match = _RAM_RE.match(text)
    if not match:
        raise ValueError(f"invalid size: '{text}'")
    value = float(match.group(1))
    unit = (match.group(3) or "").lower()
    return int(value * _RAM_MULT.get(unit, 1))


_GO_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_DECIMAL_MULT = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


def from_human_size(text: str) -> int:
    """go-units FromHumanSize (SI units: "1k" is 1000), raising ValueError with its words."""
    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep < 0:
        raise ValueError(f"invalid size: '{text}'")
    number, suffix = (text[:sep + 1], text[sep + 1:]) if text[sep] != " " else (text[:sep], text[sep + 1:])
    if not _GO_FLOAT.fullmatch(number):
        raise ValueError(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    size = float(number)
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    unit = suffix.lower()
    if not unit or unit == "b":
        return int(size)
    if len(unit) > 3 or unit[0] not in _DECIMAL_MULT or (len(unit) == 2 and unit[1] != "b") or \
            (len(unit) == 3 and unit[1:] != "ib"):
        raise ValueError(f"invalid suffix: '{unit}'")
    return int(size * _DECIMAL_MULT[unit[0]])


def time_ago(unix_ts: float, now: float | None = None) -> str:
    """Docker's "2 hours ago" for a Unix timestamp."""
    current = time.time() if now is None else now
    return human_duration(current - unix_ts) + " ago"


_MAX_DURATION = ((1 << 63) - 1) / 1e9


def parse_duration(text: str) -> float:
    """Go time.ParseDuration ("1h30m", "300ms", "-1.5s") in seconds; ValueError like Go's."""
    s = text
    sign = 1.0
    if s[:1] in ("-", "+"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        match = _DUR_RE.match(s, pos)
        if not match:
            if re.match(r"(\d+\.?\d*|\.\d+)", s[pos:]):
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _DUR_UNIT[match.group(2)]
        pos = match.end()
        if not total <= _MAX_DURATION:  # Go's Duration is int64 nanoseconds (also catches inf and nan)
            raise ValueError(f'time: invalid duration "{text[:64]}"')
    return sign * total


def _decimal(n: int, unit: int) -> str:
    """n/unit with the fraction's trailing zeros dropped ("1.5", "2")."""
    whole, rest = divmod(n, unit)
    if not rest:
        return str(whole)
    return f"{whole}.{str(rest).zfill(len(str(unit)) - 1).rstrip('0')}"


def go_duration(ns: int) -> str:
    """Go's time.Duration.String: "0s", "750ms", "1.5s", "1m30s", "1h0m0s"."""
    if ns == 0:
        return "0s"
    sign, n = ("-" if ns < 0 else ""), abs(ns)
    if n < 1_000:
        return f"{sign}{n}ns"
    if n < 1_000_000:
        return f"{sign}{_decimal(n, 1_000)}µs"
    if n < 1_000_000_000:
        return f"{sign}{_decimal(n, 1_000_000)}ms"
    minutes, rest = divmod(n, 60_000_000_000)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}h" if hours else ""
    text += f"{minutes}m" if hours or minutes else ""
    return f"{sign}{text}{_decimal(rest, 1_000_000_000)}s"
