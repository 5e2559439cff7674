"""Keys that protect swarm data at rest: the cluster data key (DEK, AES-256-GCM) that encrypts secrets before they
reach the store, and the unlock key (KEK, `SWMKEY-1-<base64>`) that wraps the node's key file under autolock."""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dockyard.errors import InvalidParameter, Unauthorized
from dockyard.util.atomic import write_atomic

UNLOCK_PREFIX = "SWMKEY-1-"
NONCE_BYTES = 12


class InvalidUnlockKey(Unauthorized):
    """The unlock key does not open the key file (dockerd's 401)."""

    def __init__(self) -> None:
        super().__init__("swarm could not be unlocked: invalid key provided")


def new_key() -> bytes:
    """A random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def human_unlock_key(key: bytes) -> str:
    """swarmkit's HumanReadableKey: SWMKEY-1- and the key in unpadded base64."""
    return UNLOCK_PREFIX + base64.b64encode(key).decode().rstrip("=")


def parse_unlock_key(text: str) -> bytes:
    """swarmkit's ParseHumanReadableKey (400 for a malformed key)."""
    if not text.startswith(UNLOCK_PREFIX):
        raise InvalidParameter("invalid key string")
    body = text[len(UNLOCK_PREFIX):]
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParameter(f"invalid key string: {exc}") from exc


def seal(key: bytes, plaintext: bytes, context: str) -> str:
    """AES-256-GCM with a random nonce, `context` (the object id) as associated data; nonce + ciphertext, base64."""
    nonce = os.urandom(NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())).decode()


def unseal(key: bytes, sealed: str, context: str) -> bytes:
    """The plaintext of `seal`; InvalidTag when the key or the context is wrong."""
    raw = base64.b64decode(sealed)
    return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())


class KeyFile:
    """`<swarm-dir>/keys.json` (0600): the node's DEK and CA key, sealed with the unlock key when autolocked."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def locked(self) -> bool:
        """Whether the file is sealed with an unlock key."""
        return bool(json.loads(self.path.read_text()).get("locked"))

    def write(self, keys: dict[str, str], unlock_key: bytes | None) -> None:
        """Store the keys, sealed when an unlock key is given."""
        payload = json.dumps(keys).encode()
        stored: dict[str, Any] = {"locked": unlock_key is not None}
        stored["payload"] = (seal(unlock_key, payload, "swarm-keys") if unlock_key is not None
                             else base64.b64encode(payload).decode())
        write_atomic(self.path, json.dumps(stored).encode(), mode=0o600)

    def read(self, unlock_key: bytes | None = None) -> dict[str, str]:
        """The keys; InvalidUnlockKey when the file is sealed and the key does not open it."""
        stored = json.loads(self.path.read_text())
        if not stored.get("locked"):
            keys: dict[str, str] = json.loads(base64.b64decode(stored["payload"]))
            return keys
        if unlock_key is None:
            raise InvalidUnlockKey()
        try:
            keys = json.loads(unseal(unlock_key, stored["payload"], "swarm-keys"))
        except InvalidTag as exc:
            raise InvalidUnlockKey() from exc
        return keys
