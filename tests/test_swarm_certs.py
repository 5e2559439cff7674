"""Swarm identities without a daemon: join tokens parsed as swarmkit's, node certificates issued by the root CA and
read back, and the mutual TLS they make between a swarm listener context and a node's client context."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from dockyard.cluster.ca.nodecert import NodeCerts, identity_of, issue, new_key_and_csr
from dockyard.cluster.ca.root import RootCA
from dockyard.cluster.ca.tokens import new_token, parse_token
from dockyard.errors import Forbidden, InvalidParameter

DAY_NS = 86_400 * 10**9


def test_tokens_carry_the_ca_digest() -> None:
    root = RootCA.create()
    digest, secret = parse_token(new_token(root.digest()))
    assert digest == root.digest() and len(secret) == 25
    for bad in ("x", "SWMTKN-1-abc-def", "SWMTKN-2-" + "0" * 50 + "-" + "0" * 25, new_token(root.digest()) + "0"):
        with pytest.raises(InvalidParameter, match="^invalid join token$"):
            parse_token(bad)


def test_node_certificate_names_node_role_and_cluster(tmp_path: Path) -> None:
    root = RootCA.create()
    key, csr = new_key_and_csr()
    pem = issue(root, csr, "node1", "worker", "cluster1", "10.1.2.3", DAY_NS)
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert cert.subject.rfc4514_string() == "CN=node1,OU=swarm-worker,O=cluster1"
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["swarm-worker", "node1"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=23) < lifetime <= datetime.timedelta(days=1)
    certs = NodeCerts(tmp_path / "certificates")
    certs.save(key, pem, root.cert_pem)
    assert (certs.directory.stat().st_mode & 0o777) == 0o700 and (certs.key.stat().st_mode & 0o777) == 0o600
    identity = certs.identity()
    assert (identity.node_id, identity.role, identity.cluster_id) == ("node1", "swarm-worker", "cluster1")
    with pytest.raises(Forbidden):
        identity_of(None)
    with pytest.raises(InvalidParameter, match="invalid CSR"):
        issue(root, "junk", "n", "worker", "c", "", DAY_NS)


def test_contexts_trust_only_the_swarm_root(tmp_path: Path) -> None:
    root, other = RootCA.create(), RootCA.create()
    manager, worker, stranger = (NodeCerts(tmp_path / name) for name in ("m", "w", "s"))
    for certs, ca, role in ((manager, root, "manager"), (worker, root, "worker"), (stranger, other, "worker")):
        key, csr = new_key_and_csr()
        certs.save(key, issue(ca, csr, certs.directory.name, role, "c", "127.0.0.1", DAY_NS), ca.cert_pem)
    server = manager.server_context()
    assert server.verify_mode == ssl.CERT_OPTIONAL

    def handshake(client: ssl.SSLContext) -> bytes | None:
        """Run a TLS handshake in memory; the certificate the server saw."""
        c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        tls_client = client.wrap_bio(c_in, c_out, server_hostname="swarm-manager")
        tls_server = server.wrap_bio(s_in, s_out, server_side=True)
        for _ in range(10):
            for side in (tls_client, tls_server):
                try:
                    side.do_handshake()
                except ssl.SSLWantReadError:
                    pass
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        tls_client.write(b"x")  # TLS 1.3: the client certificate is checked once data flows
        s_in.write(c_out.read())
        assert tls_server.read(1) == b"x"
        return tls_server.getpeercert(binary_form=True)

    assert identity_of(handshake(worker.client_context())).node_id == "w"
    with pytest.raises(ssl.SSLError):
        handshake(stranger.client_context())  # neither side trusts the other's root
