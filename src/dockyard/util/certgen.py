"""Make a CA and the server and client certificates a TLS daemon needs (docker's openssl recipe, in one step).

Files are the names docker uses: `ca.pem`/`ca-key.pem`, `server-cert.pem`/`server-key.pem`, and for the
client `cert.pem`/`key.pem` (with a copy of `ca.pem`), so a client directory can be DOCKER_CERT_PATH as is.
Private keys are written 0600, created with that mode (never world-readable for an instant).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = datetime.timedelta(days=1)
KEY_MODE, CERT_MODE = 0o600, 0o644


@dataclass
class Issued:
    """A certificate and its private key, both PEM."""

    cert: bytes
    key: bytes


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(common_name: str = "Dockyard CA", days: int = 365) -> Issued:
    """A self-signed CA that may sign certificates but no further CAs."""
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - DAY).not_valid_after(now + days * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def issue(ca: Issued, common_name: str, server_names: list[str] | None = None, days: int = 365) -> Issued:
    """A certificate signed by `ca`: for a server when `server_names` (DNS names and IP addresses) is given,
    otherwise for a client."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = serialization.load_pem_private_key(ca.key, password=None)
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names is not None else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
               .issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - DAY)
               .not_valid_after(now + days * DAY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                              critical=False))
    if server_names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in server_names]),
                                        critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def _general_name(name: str) -> x509.GeneralName:
    """An IP address SAN for an address, a DNS SAN otherwise."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def write_pem(path: Path, data: bytes, mode: int) -> None:
    """Write a PEM file created with `mode` (0600 for keys): a new file renamed into place, never an old one
    reused with its old mode."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def create_all(folder: Path, server_names: list[str], client_name: str = "client", days: int = 365) -> dict[str, Path]:
    """Make (or reuse, when `ca.pem` and `ca-key.pem` exist) a CA in `folder`, a server certificate for
    `server_names`, and a client certificate in `folder/client`; returns the files written by role."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = folder / "ca.pem", folder / "ca-key.pem"
    if ca_cert.exists() and ca_key.exists():
        ca = Issued(ca_cert.read_bytes(), ca_key.read_bytes())
    else:
        ca = make_ca(days=days)
        write_pem(ca_key, ca.key, KEY_MODE)
        write_pem(ca_cert, ca.cert, CERT_MODE)
    server = issue(ca, server_names[0] if server_names else "localhost", server_names, days)
    write_pem(folder / "server-key.pem", server.key, KEY_MODE)
    write_pem(folder / "server-cert.pem", server.cert, CERT_MODE)
    client_dir = folder / "client"
    client_dir.mkdir(exist_ok=True, mode=0o700)
    client = issue(ca, client_name, None, days)
    write_pem(client_dir / "key.pem", client.key, KEY_MODE)
    write_pem(client_dir / "cert.pem", client.cert, CERT_MODE)
    write_pem(client_dir / "ca.pem", ca.cert, CERT_MODE)
    return {"ca": ca_cert, "ca-key": ca_key, "server-cert": folder / "server-cert.pem",
            "server-key": folder / "server-key.pem", "client-cert": client_dir / "cert.pem",
            "client-key": client_dir / "key.pem", "client-ca": client_dir / "ca.pem"}
