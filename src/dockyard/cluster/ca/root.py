"""The swarm root CA (ECDSA P-256, as swarmkit makes it) and what `/swarm` shows of it."""

from __future__ import annotations

import base64
import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT_LIFETIME = datetime.timedelta(days=20 * 365)  # swarmkit's RootCAExpiration
ROOT_CN = "swarm-ca"


@dataclass(frozen=True)
class RootCA:
    """A root certificate (PEM) and its private key (PEM, only on managers)."""

    cert_pem: str
    key_pem: str

    @classmethod
    def create(cls) -> RootCA:
        """A new self-signed root, valid from an hour ago (clock skew) for 20 years."""
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
                .sign(key, hashes.SHA256()))
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cls(cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode())

    def digest(self) -> str:
        """sha256 of the certificate's PEM (swarmkit's RootCA.Digest), hex."""
        return hashlib.sha256(self.cert_pem.encode()).hexdigest()

    def tls_info(self) -> dict[str, str]:
        """TLSInfo: the trust root and the issuer's subject and public key (DER, base64 as Go's []byte)."""
        cert = x509.load_pem_x509_certificate(self.cert_pem.encode())
        public = cert.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
        return {"TrustRoot": self.cert_pem,
                "CertIssuerSubject": base64.b64encode(cert.subject.public_bytes()).decode(),
                "CertIssuerPublicKey": base64.b64encode(public).decode()}
