"""Swarm identities without a daemon: join tokens parsed as swarmkit's, node certificates issued by the root CA and
read back, the mutual TLS they make between a swarm listener context and a node's client context, renewal timing, a
listener context that follows renewals, and a root rotation's cross-signed certificates working with old and new
roots alike."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from dockyard.cluster.ca import rotation
from dockyard.cluster.ca.nodecert import (TEST_HOUR_ENV, LiveServerContext, NodeCerts, identity_of, issue,
                                          min_expiry_ns, new_key_and_csr)
from dockyard.cluster.ca.renewal import renew_delay
from dockyard.cluster.ca.root import RootCA, issuer_info, load_certs
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
    assert identity_of(handshake(server, worker.client_context())).node_id == "w"
    with pytest.raises(ssl.SSLError):
        handshake(server, stranger.client_context())  # neither side trusts the other's root


def connect(server: ssl.SSLContext, client: ssl.SSLContext,
            hostname: str | None = "swarm-manager") -> tuple[ssl.SSLObject, ssl.SSLObject, ssl.MemoryBIO,
                                                            ssl.MemoryBIO]:
    """A TLS handshake in memory: the client's and the server's ends, the server's incoming and the client's
    outgoing buffers."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_client = client.wrap_bio(c_in, c_out, server_hostname=hostname)
    tls_server = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (tls_client, tls_server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    return tls_client, tls_server, s_in, c_out


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> bytes | None:
    """Run a TLS handshake in memory; the certificate the server saw."""
    tls_client, tls_server, s_in, c_out = connect(server, client)
    tls_client.write(b"x")  # TLS 1.3: the client certificate is checked once data flows
    s_in.write(c_out.read())
    assert tls_server.read(1) == b"x"
    return tls_server.getpeercert(binary_form=True)


def node(tmp_path: Path, name: str, role: str, root: RootCA, trust: str | None = None, intermediates: str = "",
         lifetime_ns: int = DAY_NS) -> NodeCerts:
    """A node's files: a certificate from `root` (with `intermediates`), trusting `trust` (default: `root`)."""
    certs = NodeCerts(tmp_path / name)
    key, csr = new_key_and_csr()
    certs.save(key, issue(root, csr, name, role, "c", "127.0.0.1", lifetime_ns, intermediates),
               trust or root.cert_pem)
    return certs


def test_expiry_below_the_minimum_gets_the_default_and_renewal_falls_between_half_and_four_fifths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = RootCA.create()
    short = node(tmp_path, "a", "worker", root, lifetime_ns=30 * 60 * 10**9)  # below swarmkit's 1h minimum
    leaf = short.leaf()
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(hours=2160 + 1)
    monkeypatch.setenv(TEST_HOUR_ENV, "10")  # tests' hour: 10 s of backdate, 10 s minimum
    assert min_expiry_ns() == 10 * 10**9
    quick = node(tmp_path, "b", "worker", root, lifetime_ns=20 * 10**9)
    leaf = quick.leaf()
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(seconds=30)
    start = leaf.not_valid_before_utc
    for _ in range(50):
        delay = renew_delay(quick.cert.read_text(), start)
        assert 15 <= delay <= 24
    assert renew_delay(quick.cert.read_text(), start + datetime.timedelta(seconds=40)) == 0


def test_listener_context_follows_a_renewal(tmp_path: Path) -> None:
    root = RootCA.create()
    manager, worker = node(tmp_path, "m", "manager", root), node(tmp_path, "w", "worker", root)
    live = LiveServerContext(manager.server_context)
    before = manager.leaf().serial_number

    def served_serial() -> int:
        tls_client = connect(live.front, worker.client_context())[0]
        return x509.load_der_x509_certificate(tls_client.getpeercert(binary_form=True)).serial_number
    assert served_serial() == before
    node(tmp_path, "m", "manager", root)  # renewed in place
    live.reload()
    assert served_serial() == manager.leaf().serial_number != before


def test_rotation_cross_signs_the_new_root_and_both_generations_interoperate(tmp_path: Path) -> None:
    old = RootCA.create()
    value = {"CACert": old.cert_pem, "JoinTokens": {"Worker": new_token(old.digest()),
                                                    "Manager": new_token(old.digest())}}
    keys = {"dek": "00", "ca_key": old.key_pem}
    assert rotation.plan(value, keys, {"ForceRotate": 0}) == (value, keys)  # nothing asked
    value, keys = rotation.plan(value, keys, {"ForceRotate": 1})
    new = RootCA(value["RootRotation"]["CACert"], keys[rotation.ROTATION_KEY])
    assert value["LastForcedRotation"] == 1 and value["CACert"] == old.cert_pem
    assert rotation.desired_issuer(value) == issuer_info(new.cert())
    signing, intermediates = rotation.signer(value, keys)
    assert signing == new and intermediates == value["RootRotation"]["CrossSignedCACert"]
    cross = load_certs(intermediates)[0]
    assert cross.subject == new.cert().subject and cross.public_key() == new.cert().public_key()
    cross.verify_directly_issued_by(old.cert())

    # mid-rotation: a renewed node (new key, cross-signed chain) and a node still on the old root talk both ways
    renewed = node(tmp_path, "r", "manager", new, old.cert_pem, intermediates)
    waiting = node(tmp_path, "o", "manager", old)
    assert renewed.tls_info() == {"TrustRoot": old.cert_pem, **issuer_info(new.cert())}
    assert waiting.tls_info() == old.tls_info()
    assert not rotation.converged(value, {"Description": {"TLSInfo": waiting.tls_info()}})
    assert rotation.converged(value, {"Description": {"TLSInfo": renewed.tls_info()}})
    handshake(renewed.server_context(), waiting.client_context())
    handshake(waiting.server_context(), renewed.client_context())

    # finished: the new root alone is trusted; the renewed chain still verifies, an old-root certificate does not
    done, done_keys = rotation.finish(value, keys)
    assert done["CACert"] == new.cert_pem and "RootRotation" not in done and done_keys["ca_key"] == new.key_pem
    for role in ("Worker", "Manager"):
        assert parse_token(done["JoinTokens"][role])[0] == new.digest()
        assert done["JoinTokens"][role] != value["JoinTokens"][role]
    renewed.save_root(new.cert_pem)
    handshake(renewed.server_context(), renewed.client_context())
    with pytest.raises(ssl.SSLError):
        handshake(renewed.server_context(), waiting.client_context())
    assert rotation.signer(done, done_keys) == (new, "")


def test_a_given_root_is_checked_as_swarmkit_does() -> None:
    old, other = RootCA.create(), RootCA.create()
    value, keys = {"CACert": old.cert_pem}, {"ca_key": old.key_pem}
    expected = {
        ("", other.key_pem): "if a signing CA key is provided, the signing CA cert must also be provided",
        (other.cert_pem, ""): "there must be at least one valid, reachable external CA corresponding to the desired "
                              "CA certificate",
        (other.cert_pem, old.key_pem): "certificate key mismatch",
        (other.cert_pem + other.cert_pem, other.key_pem): "the desired CA certificate cannot contain multiple "
                                                          "certificates",
    }
    for (cert, key), text in expected.items():
        with pytest.raises(InvalidParameter, match=f"^rpc error: code = InvalidArgument desc = {text}$"):
            rotation.plan(value, keys, {"SigningCACert": cert, "SigningCAKey": key})
    started, started_keys = rotation.plan(value, keys, {"SigningCACert": other.cert_pem,
                                                        "SigningCAKey": other.key_pem})
    assert started["RootRotation"]["CACert"] == other.cert_pem and started_keys["rotation_ca_key"] == other.key_pem
    back, back_keys = rotation.plan(started, started_keys, {"SigningCACert": old.cert_pem,
                                                            "SigningCAKey": old.key_pem})
    assert "RootRotation" not in back and "rotation_ca_key" not in back_keys
