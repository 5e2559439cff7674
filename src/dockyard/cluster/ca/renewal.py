"""A node's certificate over time (swarmkit's `ca/renewer.go`): renewed at a random point between 50% and 80% of
its validity, or at once when the manager says certificates now come from another issuer (a root rotation); the
node's trust roots follow what its manager tells it. The TLS contexts built from the files follow each change, so
new connections use the renewed certificate without a restart while established ones go on."""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import ssl
from typing import Any, Awaitable, Callable

from cryptography.hazmat.primitives import serialization

from dockyard.cluster.ca.nodecert import LiveServerContext, NodeCerts, new_key_and_csr
from dockyard.cluster.ca.root import load_certs
from dockyard.errors import DockyardError, SystemError_
from dockyard.util.aio import wait_within

log = logging.getLogger(__name__)

RENEW_LOW, RENEW_HIGH = 0.5, 0.8  # swarmkit's CertLowerRotationRange, CertUpperRotationRange
RETRY_FIRST, RETRY_MAX = 5.0, 3600.0  # a failed renewal is tried again after 5 s, 10 s, 20 s... at most an hour

Obtain = Callable[[str], Awaitable[tuple[str, str]]]  # a CSR -> (certificate chain, trust root), both PEM


def renew_delay(chain_pem: str, now: datetime.datetime | None = None) -> float:
    """Seconds until the certificate should be renewed: a random point between 50% and 80% of its validity
    (0 when that has passed, or when it expired)."""
    leaf = load_certs(chain_pem)[0]
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    at = start + (end - start) * random.uniform(RENEW_LOW, RENEW_HIGH)
    return max(0.0, (at - (now or datetime.datetime.now(datetime.timezone.utc))).total_seconds())


class NodeTLS:
    """A node's live TLS material: the files, the contexts made from them, the TLSInfo it reports, and the loop
    that renews its certificate."""

    def __init__(self, certs: NodeCerts) -> None:
        self.certs = certs
        self.next_root = ""  # the root a rotation moves to, trusted beside the current one
        self._client: ssl.SSLContext | None = None
        self._listener: LiveServerContext | None = None
        self._due = asyncio.Event()

    def client_context(self) -> ssl.SSLContext:
        """The context for connections to managers (made again after every change)."""
        if self._client is None:
            self._client = self.certs.client_context(self.next_root)
        return self._client

    def server_context(self) -> ssl.SSLContext:
        """The swarm listener's context; its handshakes follow every change."""
        if self._listener is None:
            self._listener = LiveServerContext(lambda: self.certs.server_context(self.next_root))
        return self._listener.front

    def _reload(self) -> None:
        """New connections use the files as they are now."""
        self._client = None
        if self._listener is not None:
            self._listener.reload()

    def tls_info(self) -> dict[str, str]:
        """TLSInfo as this node reports it."""
        return self.certs.tls_info()

    def heard(self, advice: dict[str, Any]) -> None:
        """What the manager said: the root to trust (saved when it changed), the root a rotation moves to, and the
        issuer this node's certificate should have (another one: renew now)."""
        root, next_root = str(advice.get("RootCA") or ""), str(advice.get("NextRootCA") or "")
        changed = next_root != self.next_root
        if root and root != self.certs.root():
            self.certs.save_root(root)
            log.info("swarm trust root updated")
            changed = True
        self.next_root = next_root
        if changed:
            self._reload()
        issuer: dict[str, str] = advice.get("CertIssuer") or {}
        mine = self.tls_info()
        if any(mine.get(key) != value for key, value in issuer.items()):
            self._due.set()

    async def run(self, obtain: Obtain, changed: Callable[[], Awaitable[None]] | None = None) -> None:
        """Renew the certificate whenever it is due (or asked for), until cancelled; failures are tried again with
        a growing delay."""
        failures = 0
        while True:
            delay = (min(RETRY_MAX, RETRY_FIRST * 2 ** (failures - 1)) if failures
                     else renew_delay(self.certs.cert.read_text()))
            try:
                await wait_within(self._due.wait(), delay)
            except asyncio.TimeoutError:
                pass
            self._due.clear()
            try:
                await self.renew(obtain)
            except DockyardError as exc:
                failures += 1
                log.warning("swarm certificate renewal failed: %s", exc.message)
                continue
            failures = 0
            if changed is not None:
                await changed()

    async def renew(self, obtain: Obtain) -> None:
        """A new key, its certificate from the manager, and the files and contexts replaced."""
        key_pem, csr = new_key_and_csr()
        chain, root = await obtain(csr)
        leaf = load_certs(chain)[0]
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        if leaf.public_key() != key.public_key():
            raise SystemError_("the renewed certificate is not for the key that asked for it")
        self.certs.save(key_pem, chain, root)
        self._reload()
        log.info("swarm node certificate renewed: serial %x, valid until %s", leaf.serial_number,
                 leaf.not_valid_after_utc.isoformat())
