"""Content digests ("sha256:<hex>"): hashing, validation, chain ids and short ids."""

from __future__ import annotations

import hashlib
import re
from typing import BinaryIO, Iterable

from dockyard.errors import InvalidParameter

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
CHUNK = 1 << 20


def digest_bytes(data: bytes) -> str:
    """The sha256 digest of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    """True when `text` is a well-formed sha256 digest."""
    return bool(_DIGEST.match(text))


def validate_digest(text: str) -> str:
    """Return `text` when it is a sha256 digest, else raise InvalidParameter."""
    if not is_digest(text):
        raise InvalidParameter(f"invalid digest {text!r}")
    return text


def hex_of(digest: str) -> str:
    """The hex part of a validated digest."""
    return validate_digest(digest).split(":", 1)[1]


def short_id(digest_or_id: str) -> str:
    """Docker's 12-character truncated id, without the algorithm prefix."""
    return digest_or_id.split(":", 1)[-1][:12]


def chain_ids(diff_ids: Iterable[str]) -> list[str]:
    """Chain ids of a layer stack (OCI image spec): chain(n) = sha256(chain(n-1) + " " + diff_id(n))."""
    chains: list[str] = []
    for diff_id in diff_ids:
        validate_digest(diff_id)
        chains.append(diff_id if not chains else digest_bytes(f"{chains[-1]} {diff_id}".encode()))
    return chains


class HashingReader:
    """A file-like reader that hashes and counts every byte read through it."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        """Read from the inner stream, hashing what passes."""
        data = self._inner.read(n)
        self._hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read (and hash) the rest of the inner stream."""
        while self.read(CHUNK):
            pass

    @property
    def digest(self) -> str:
        """The digest of everything read so far."""
        return "sha256:" + self._hash.hexdigest()
