"""Docker's detach keys: the "ctrl-p,ctrl-q" syntax and a scanner that spots the sequence in input."""

from __future__ import annotations

from dockyard.errors import InvalidParameter

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_SPECIALS = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(text: str | None) -> bytes:
    """Docker's detach-key syntax ("ctrl-p,ctrl-q", "a,ctrl-@") to the byte sequence; "" disables."""
    spec = DEFAULT_DETACH_KEYS if text is None else text
    out = bytearray()
    for key in filter(None, (k.strip() for k in spec.split(","))):
        low = key.lower()
        if len(key) == 1 and key.isascii():  # Go counts bytes: one multi-byte character is not a key
            out.append(ord(key))
        elif low.startswith("ctrl-") and len(low) == 6 and ("a" <= low[5] <= "z" or low[5] in _CTRL_SPECIALS):
            out.append(ord(low[5]) - ord("a") + 1 if "a" <= low[5] <= "z" else _CTRL_SPECIALS[low[5]])
        else:
            raise InvalidParameter(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


class DetachScanner:
    """Finds the detach sequence in a client's input, holding back bytes that may start it."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to forward, and whether the sequence was completed (the rest is dropped then)."""
        if not self.keys or (not self.held and self.keys[:1] not in data):
            return data, False
        out = bytearray()
        for byte in data:
            candidate = self.held + bytes([byte])
            while candidate and not self.keys.startswith(candidate):
                out.append(candidate[0])
                candidate = candidate[1:]
            if candidate == self.keys:
                return bytes(out), True
            self.held = candidate
        return bytes(out), False
