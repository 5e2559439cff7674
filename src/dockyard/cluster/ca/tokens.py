"""Join tokens in swarmkit's format (`ca/config.go` GenerateJoinToken): SWMTKN-1-<CA digest>-<secret>, both in base
36, zero-padded to 50 and 25 characters."""

from __future__ import annotations

import hmac
import secrets

from dockyard.errors import InvalidParameter

TOKEN_PREFIX = "SWMTKN-1-"
DIGEST_LEN = 50
SECRET_LEN = 25
SECRET_BYTES = 16
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(number: int, width: int) -> str:
    """`number` in base 36 (Go's big.Int Text(36)), left-padded with zeros to `width`."""
    text = ""
    while number:
        number, digit = divmod(number, 36)
        text = _DIGITS[digit] + text
    return (text or "0").rjust(width, "0")


def new_token(ca_digest_hex: str) -> str:
    """A fresh join token bound to the root CA's digest."""
    secret = int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big")
    return f"{TOKEN_PREFIX}{base36(int(ca_digest_hex, 16), DIGEST_LEN)}-{base36(secret, SECRET_LEN)}"


def token_matches(token: str, expected: str) -> bool:
    """Constant-time comparison of a presented token with a stored one."""
    return hmac.compare_digest(token.encode(), expected.encode())


def parse_token(token: str) -> tuple[str, str]:
    """(CA digest as 64 hex digits, secret) of a join token; swarmkit's "invalid join token" otherwise."""
    parts = token.split("-")
    if (len(parts) != 4 or f"{parts[0]}-{parts[1]}-" != TOKEN_PREFIX or len(parts[2]) != DIGEST_LEN
            or len(parts[3]) != SECRET_LEN or not all(c in _DIGITS for c in parts[2] + parts[3])):
        raise InvalidParameter("invalid join token")
    return f"{int(parts[2], 36):064x}", parts[3]
