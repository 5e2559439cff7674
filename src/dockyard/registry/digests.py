"""Registry digests: sha256 and sha512, parsed, validated and computed incrementally."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from dockyard.registry.errors import DigestInvalid

ALGORITHMS = {"sha256": 64, "sha512": 128}
_FORM = re.compile(r"([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)\Z")
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    """A validated digest: algorithm and lower-case hex."""

    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def parse(text: str) -> Digest:
    """Parse "sha256:<64 hex>" or "sha512:<128 hex>"; DigestInvalid for anything else."""
    m = _FORM.match(text or "")
    if not m:
        raise DigestInvalid(f"invalid digest {text!r}", {"digest": text})
    algorithm, hex_ = m.group(1), m.group(2)
    if algorithm not in ALGORITHMS:
        raise DigestInvalid(f"unsupported digest algorithm {algorithm!r}", {"digest": text})
    if len(hex_) != ALGORITHMS[algorithm] or not re.fullmatch(r"[0-9a-f]+", hex_):
        raise DigestInvalid(f"invalid digest {text!r}", {"digest": text})
    return Digest(algorithm, hex_)


def of_bytes(data: bytes, algorithm: str = "sha256") -> Digest:
    """The digest of `data` with `algorithm`."""
    return Digest(algorithm, hashlib.new(algorithm, data).hexdigest())


def of_file(path: Path, algorithm: str) -> Digest:
    """The digest of a whole file, read in 1 MiB pieces."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            hasher.update(chunk)
    return Digest(algorithm, hasher.hexdigest())
