"""The swarm root CA (ECDSA P-256, as swarmkit makes it), what `/swarm` and `/nodes` show of a certificate's issuer,
and the cross-signing of a new root by the current one (swarmkit's `CrossSignCACertificate`)."""

from __future__ import annotations

import base64
import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dockyard.errors import InvalidParameter

ROOT_LIFETIME = datetime.timedelta(days=20 * 365)  # swarmkit's RootCAExpiration
MIN_ROOT_LIFETIME = datetime.timedelta(days=365)  # a given root must stay valid this long (minRootExpiration)
ROOT_CN = "swarm-ca"
INVALID = "rpc error: code = InvalidArgument desc = "


def load_certs(pem: str) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle, in order."""
    return x509.load_pem_x509_certificates(pem.encode())


def issuer_info(cert: x509.Certificate) -> dict[str, str]:
    """The issuer fields of TLSInfo for certificates `cert` signs: its subject and public key (DER, base64 as Go
    renders []byte)."""
    public = cert.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"CertIssuerSubject": base64.b64encode(cert.subject.public_bytes()).decode(),
            "CertIssuerPublicKey": base64.b64encode(public).decode()}


def tls_info(trust_root: str, issuer_pem: str) -> dict[str, str]:
    """TLSInfo: the trust root (PEM) and the issuer of the certificates in use."""
    return {"TrustRoot": trust_root, **issuer_info(load_certs(issuer_pem)[0])}


def same_cert(a: str, b: str) -> bool:
    """Whether two PEM texts hold the same certificate (swarmkit compares normalized PEMs)."""
    return bool(a and b) and load_certs(a)[0] == load_certs(b)[0]


@dataclass(frozen=True)
class RootCA:
    """A root certificate (PEM) and its private key (PEM, only on managers)."""

    cert_pem: str
    key_pem: str

    @classmethod
    def create(cls) -> RootCA:
        """A new self-signed root, valid from an hour ago (clock skew) for 20 years; its key identifier lets a
        verifier tell it from another root of the same name (a rotation's old and new roots are both `swarm-ca`)."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ROOT_CN)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + ROOT_LIFETIME)
                .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                                             key_cert_sign=True, crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cls(cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode())

    @classmethod
    def given(cls, cert_pem: str, key_pem: str) -> RootCA:
        """A root handed in with `swarm ca --rotate --ca-cert --ca-key`, checked as swarmkit's NewRootCA does."""
        try:
            certs = load_certs(cert_pem)
        except ValueError as exc:
            raise InvalidParameter(f"{INVALID}invalid root certificates: {exc}") from exc
        if len(certs) != 1:
            raise InvalidParameter(f"{INVALID}the desired CA certificate cannot contain multiple certificates")
        cert = certs[0]
        try:
            cert.verify_directly_issued_by(cert)
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound) as exc:
            raise InvalidParameter(f"{INVALID}error while validating Root CA Certificate: {exc or 'not self-signed'}") \
                from exc
        if not constraints.ca:
            raise InvalidParameter(f"{INVALID}error while validating Root CA Certificate: certificate not a CA")
        try:
            key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise InvalidParameter(f"{INVALID}malformed private key: {exc}") from exc
        if key.public_key() != cert.public_key():
            raise InvalidParameter(f"{INVALID}certificate key mismatch")
        if cert.not_valid_after_utc < datetime.datetime.now(datetime.timezone.utc) + MIN_ROOT_LIFETIME:
            raise InvalidParameter(f"{INVALID}CA certificate expires too soon")
        return cls(cert_pem, key_pem)

    def cert(self) -> x509.Certificate:
        """The root certificate."""
        return load_certs(self.cert_pem)[0]

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The signing key."""
        key = serialization.load_pem_private_key(self.key_pem.encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def digest(self) -> str:
        """sha256 of the certificate's PEM (swarmkit's RootCA.Digest), hex."""
        return hashlib.sha256(self.cert_pem.encode()).hexdigest()

    def tls_info(self) -> dict[str, str]:
        """TLSInfo of a certificate this root issued directly: the trust root is the issuer."""
        return {"TrustRoot": self.cert_pem, **issuer_info(self.cert())}

    def cross_sign(self, other_pem: str) -> str:
        """`other_pem` (a CA certificate) signed by this root: same subject, key, validity and extensions, so
        certificates issued by the other root chain up to this one through it."""
        other = load_certs(other_pem)[0]
        builder = (x509.CertificateBuilder().subject_name(other.subject).issuer_name(self.cert().subject)
                   .public_key(other.public_key()).serial_number(other.serial_number)
                   .not_valid_before(other.not_valid_before_utc).not_valid_after(other.not_valid_after_utc))
        for extension in other.extensions:
            if not isinstance(extension.value, x509.AuthorityKeyIdentifier):
                builder = builder.add_extension(extension.value, extension.critical)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.private_key().public_key()),
                                        critical=False)
        return builder.sign(self.private_key(), hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
