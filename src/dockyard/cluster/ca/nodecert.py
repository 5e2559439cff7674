"""Node certificates (swarmkit's `ca/certificates.go`): a node's key and CSR, the certificate the root CA issues for
it (`CN=<node id>`, `OU=swarm-manager|swarm-worker`, `O=<cluster id>`, SANs: the role, the node id and the advertised
IP), the identity read back from a peer's certificate, the node's files under `<swarm-dir>/certificates` and the TLS
contexts of the swarm listener (one that follows the files as they are renewed) and of its clients."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dockyard.cluster.ca.root import RootCA, load_certs, tls_info
from dockyard.errors import Forbidden, InvalidParameter
from dockyard.util.atomic import write_atomic
from dockyard.util.tls import client_context, server_context

MANAGER_ROLE = "swarm-manager"
WORKER_ROLE = "swarm-worker"
ROLE_OF = {"manager": MANAGER_ROLE, "worker": WORKER_ROLE}
DEFAULT_EXPIRY_NS = 2160 * 3600 * 10**9  # swarmkit's DefaultNodeCertExpiration (90 days)
TEST_HOUR_ENV = "DOCKYARD_TEST_CERT_HOUR"  # tests only: seconds that stand for swarmkit's hour-long constants


def cert_hour() -> datetime.timedelta:
    """swarmkit's CertBackdate and MinNodeCertExpiration (one hour); tests shorten it with DOCKYARD_TEST_CERT_HOUR
    (seconds) so certificates expire, and are renewed, within a test."""
    return datetime.timedelta(seconds=float(os.environ.get(TEST_HOUR_ENV) or 3600))


def min_expiry_ns() -> int:
    """The shortest NodeCertExpiry a swarm accepts (swarmkit's MinNodeCertExpiration)."""
    return int(cert_hour().total_seconds() * 10**9)


def new_key_and_csr() -> tuple[str, str]:
    """A fresh P-256 key (PEM) and a CSR for it (PEM); the CA sets the subject, so the CSR's is empty."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem.decode(), csr.public_bytes(serialization.Encoding.PEM).decode()


def issue(root: RootCA, csr_pem: str, node_id: str, role: str, cluster_id: str, ip: str,
          lifetime_ns: int, intermediates: str = "") -> str:
    """Sign a node certificate for the CSR's key (PEM, followed by `intermediates`); `role` is "manager" or
    "worker". Valid from a backdate (clock skew) until `lifetime_ns` from now, or 90 days when that is below the
    minimum (swarmkit's SigningPolicy)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as exc:
        raise InvalidParameter(f"invalid CSR: {exc}") from exc
    if not csr.is_signature_valid:
        raise InvalidParameter("invalid CSR: bad signature")
    ca_cert = root.cert()
    if lifetime_ns < min_expiry_ns():
        lifetime_ns = DEFAULT_EXPIRY_NS
    ou = ROLE_OF[role]
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, cluster_id),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                         x509.NameAttribute(NameOID.COMMON_NAME, node_id)])
    names: list[x509.GeneralName] = [x509.DNSName(ou), x509.DNSName(node_id)]
    if ip:
        names.append(x509.IPAddress(ipaddress.ip_address(ip)))
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - cert_hour())
            .not_valid_after(now + datetime.timedelta(microseconds=lifetime_ns // 1000))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.private_key().public_key()), critical=False)
            .sign(root.private_key(), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode() + intermediates


@dataclass(frozen=True)
class NodeIdentity:
    """Who a certificate says its holder is."""

    node_id: str
    role: str  # swarm-manager | swarm-worker
    cluster_id: str


def identity_of(der: bytes | None) -> NodeIdentity:
    """The identity in a peer's (already verified) certificate; 403 without one."""
    if not der:
        raise Forbidden("Permission denied: no client certificate presented")
    subject = x509.load_der_x509_certificate(der).subject

    def one(oid: x509.ObjectIdentifier) -> str:
        values = subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""
    return NodeIdentity(one(NameOID.COMMON_NAME), one(NameOID.ORGANIZATIONAL_UNIT_NAME),
                        one(NameOID.ORGANIZATION_NAME))


class NodeCerts:
    """A node's TLS material: `<swarm-dir>/certificates/` (0700) with swarm-node.key (0600), swarm-node.crt and
    swarm-root-ca.crt, as swarmkit names them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def key(self) -> Path:
        return self.directory / "swarm-node.key"

    @property
    def cert(self) -> Path:
        return self.directory / "swarm-node.crt"

    @property
    def ca(self) -> Path:
        return self.directory / "swarm-root-ca.crt"

    def exists(self) -> bool:
        """Whether the node has its certificate."""
        return self.cert.exists() and self.key.exists() and self.ca.exists()

    def save(self, key_pem: str, cert_pem: str, ca_pem: str) -> None:
        """Store the node's key, certificate (chain) and trust root."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        for path, text in ((self.key, key_pem), (self.cert, cert_pem), (self.ca, ca_pem)):
            write_atomic(path, text.encode(), mode=0o600)

    def save_root(self, ca_pem: str) -> None:
        """Trust a new root (a rotation finished)."""
        write_atomic(self.ca, ca_pem.encode(), mode=0o600)

    def root(self) -> str:
        """The trust root (PEM)."""
        return self.ca.read_text()

    def leaf(self) -> x509.Certificate:
        """This node's certificate (the first of its chain)."""
        return load_certs(self.cert.read_text())[0]

    def tls_info(self) -> dict[str, str]:
        """TLSInfo as the node reports it: its trust root, and the issuer of its certificate (the intermediate of
        its chain that signed it, else the root)."""
        chain = self.cert.read_text()
        leaf, *intermediates = load_certs(chain)
        root = self.root()
        for issuer in intermediates:
            if _signed_by(leaf, issuer):
                return tls_info(root, issuer.public_bytes(serialization.Encoding.PEM).decode())
        return tls_info(root, root)

    def server_context(self, extra_roots: str = "") -> ssl.SSLContext:
        """The swarm listener's context: this node's certificate; a client certificate is optional at the TLS level
        but must chain to the swarm root (or the root a rotation moves to) when given (the routes demand one where
        it matters)."""
        context = server_context(self.cert, self.key)
        context.load_verify_locations(cafile=str(self.ca))
        if extra_roots:
            context.load_verify_locations(cadata=extra_roots)
        context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def client_context(self, extra_roots: str = "") -> ssl.SSLContext:
        """A client context presenting this node's certificate, trusting only the swarm root (and the root a
        rotation moves to)."""
        context = client_context(self.ca, self.cert, self.key)
        if extra_roots:
            context.load_verify_locations(cadata=extra_roots)
        return context

    def identity(self) -> NodeIdentity:
        """Who this node's certificate says it is."""
        return identity_of(self.leaf().public_bytes(serialization.Encoding.DER))


def _signed_by(leaf: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer` signed `leaf`."""
    try:
        leaf.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class LiveServerContext:
    """A listener's TLS context that follows renewals: each handshake switches to the newest context (the SNI
    step, which runs for every client hello), so new connections get the renewed certificate and trust roots while
    established ones go on."""

    def __init__(self, build: Callable[[], ssl.SSLContext]) -> None:
        self.build = build
        self.current = build()
        self.front = self.current
        self.front.sni_callback = self._pick

    def _pick(self, connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _context: ssl.SSLContext) -> None:
        """Serve this handshake with the newest context."""
        if connection.context is not self.current:
            connection.context = self.current

    def reload(self) -> None:
        """Build the context again from the node's files."""
        self.current = self.build()
