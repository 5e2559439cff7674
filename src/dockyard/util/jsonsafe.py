"""JSON from clients, decoded the way Go's encoding/json would accept it, never raising anything but
InvalidParameter: strict UTF-8, no NaN/Infinity literals, no number beyond float64, bounded nesting."""

from __future__ import annotations

import json
import math
from typing import Any

from dockyard.errors import InvalidParameter

MAX_DEPTH = 100  # Go allows 10000; Python's recursion limit does not, and no Docker client nests this deep


def _float(text: str) -> float:
    """A JSON float literal; one that overflows float64 is refused (Go: "cannot unmarshal number 1e999")."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} overflows float64")
    return value


def _constant(text: str) -> Any:
    """NaN, Infinity and -Infinity are not JSON."""
    raise ValueError(f"invalid character {text[0]!r} looking for beginning of value")


def loads(data: bytes | str, what: str = "invalid JSON", depth_check: bool = True) -> Any:
    """Decode `data`; InvalidParameter("<what>: <reason>") for anything Go's decoder would refuse, and for
    nesting deeper than MAX_DEPTH (checked on the result unless the caller walks it itself)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameter(f"{what}: invalid UTF-8 in JSON text") from None
    else:
        text = data
    try:
        value = json.loads(text, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise InvalidParameter(f"{what}: exceeded max depth") from None
    except ValueError as exc:
        raise InvalidParameter(f"{what}: {exc}") from None
    if depth_check and isinstance(value, (dict, list)):
        check_depth(value, what)
    return value


def check_depth(value: Any, what: str = "invalid JSON", depth: int = 0) -> None:
    """InvalidParameter when containers nest deeper than MAX_DEPTH below `depth` (iterative)."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if level >= MAX_DEPTH:
            raise InvalidParameter(f"{what}: exceeded max depth")
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, level + 1))


def bad_string(text: str) -> str | None:
    """Why a decoded string cannot be kept (a NUL byte, a lone surrogate), or None when it is fine."""
    if "\x00" in text:
        return "NUL byte in string"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "lone surrogate in string"
    return None
