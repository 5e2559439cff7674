"""Go's strconv.ParseBool, which docker applies to boolean options, flags and log options."""

from __future__ import annotations

GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_bool(text: str) -> bool:
    """True or False as Go reads `text`; ValueError with Go's text otherwise."""
    if text in GO_TRUE:
        return True
    if text in GO_FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
