"""A manager's certificate authority over the cluster store (swarmkit's CA server and root rotation reconciler):
signs node certificates with the current signer and `CAConfig.NodeCertExpiry`, keeps each node's reported TLSInfo,
tells nodes (in their heartbeat answers) which root to trust and which issuer their certificate should have, renews
the manager's own certificate, and finishes a root rotation once every node's certificate comes from the new root."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from dockyard.cluster.ca import rotation
from dockyard.cluster.ca.nodecert import issue
from dockyard.cluster.ca.renewal import NodeTLS
from dockyard.cluster.store.backend import ClusterStore, Fence, NotLeader, OutOfSequence, Record
from dockyard.errors import DockyardError, Unavailable
from dockyard.util.aio import cancel_and_wait
from dockyard.util.timeutil import now_rfc3339

log = logging.getLogger(__name__)

CLUSTER, NODES = "cluster", "nodes"
TICK = 0.5  # how often the manager looks at its own certificate and at a rotation's progress


class ClusterCA:
    """Certificates for the swarm's nodes, on the store of an unlocked manager."""

    def __init__(self, store: ClusterStore, fence: Callable[[], Fence | None], keys: dict[str, str],
                 save_keys: Callable[[dict[str, str]], None]) -> None:
        self.store = store
        self.fence = fence
        self.keys = keys
        self.save_keys = save_keys  # persists the key file (the DEK and the CA keys)

    def cluster(self) -> Record:
        """The cluster record."""
        record = self.store.find(CLUSTER, "default")
        if record is None:
            raise Unavailable("the swarm has no cluster object")
        return record

    def sign(self, csr: str, node_id: str, role: str, ip: str) -> str:
        """A certificate chain for a node, from the current signer, valid for the spec's NodeCertExpiry."""
        record = self.cluster()
        root, intermediates = rotation.signer(record.value, self.keys)
        expiry = int(record.value["Spec"].get("CAConfig", {}).get("NodeCertExpiry") or 0)
        return issue(root, csr, node_id, role, record.id, ip, expiry, intermediates)

    def renew(self, csr: str, node_id: str) -> dict[str, str]:
        """A node's new certificate (its role and address as the store has them) and the root to trust."""
        node = self.store.get(NODES, node_id)
        if node is None:
            raise Unavailable(f"node {node_id} is not a member of this swarm")
        chain = self.sign(csr, node_id, node.value["Spec"].get("Role") or "worker",
                          str((node.value.get("Status") or {}).get("Addr") or ""))
        return {"Certificate": chain, "CACert": self.cluster().value["CACert"]}

    def joined_tls_info(self) -> dict[str, str]:
        """TLSInfo of a node that just got a certificate from the current signer."""
        return rotation.cluster_tls_info(self.cluster().value)

    def advice(self) -> dict[str, Any]:
        """What a node hears with each heartbeat: the root to trust, the root a rotation moves to (trusted beside
        it), and the issuer its certificate should have (a different one makes it renew at once)."""
        value = self.cluster().value
        return {"RootCA": value["CACert"], "NextRootCA": (value.get("RootRotation") or {}).get("CACert", ""),
                "CertIssuer": rotation.desired_issuer(value)}

    async def record_tls(self, node_id: str, tls: dict[str, str]) -> None:
        """Keep the TLSInfo a node reports in its description (written only when it changed)."""
        for _ in range(5):
            record = self.store.get(NODES, node_id)
            fence = self.fence()
            if record is None or fence is None or record.value["Description"].get("TLSInfo") == tls:
                return
            value = {**record.value, "Description": {**record.value["Description"], "TLSInfo": tls},
                     "UpdatedAt": now_rfc3339()}
            try:
                await self.store.update(NODES, node_id, value, version=record.version, fence=fence)
                return
            except OutOfSequence:
                continue

    async def reconcile(self) -> None:
        """Finish a root rotation once every node's certificate comes from the new root."""
        record = self.cluster()
        fence = self.fence()
        if not record.value.get("RootRotation") or fence is None:
            return
        if not all(rotation.converged(record.value, node.value) for node in self.store.list(NODES)):
            return
        value, keys = rotation.finish(record.value, self.keys)
        value["UpdatedAt"] = now_rfc3339()
        await self.store.update(CLUSTER, record.id, value, version=record.version, name="default", fence=fence)
        self.keys.clear()
        self.keys.update(keys)
        self.save_keys(keys)
        log.info("swarm root CA rotation completed")

    async def run(self, tls: NodeTLS, node_id: str) -> None:
        """The manager's own certificate (renewed on schedule, or at once when a rotation wants a new issuer) and
        the rotation's progress; runs until cancelled."""
        async def obtain(csr: str) -> tuple[str, str]:
            answer = self.renew(csr, node_id)
            return answer["Certificate"], answer["CACert"]

        async def changed() -> None:
            await self.record_tls(node_id, tls.tls_info())
        renewing = asyncio.create_task(tls.run(obtain, changed), name="swarm-cert-renewal")
        try:
            while True:
                try:
                    tls.heard(self.advice())
                    await changed()
                    await self.reconcile()
                except (NotLeader, OutOfSequence) as exc:
                    log.info("swarm CA: %s", exc.message)
                except DockyardError as exc:
                    log.warning("swarm CA: %s", exc.message)
                await asyncio.sleep(TICK)
        finally:
            await cancel_and_wait(renewing)
