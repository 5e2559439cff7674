"""`dockyard registry serve --tls-cert/--tls-key` answers https with a self-signed certificate."""

from __future__ import annotations

import hashlib
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from helpers import free_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 made with openssl; returns (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def _open(url: str, context: ssl.SSLContext, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """One https request; returns (status, headers, body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return response.status, response.headers, response.read()


@pytest.fixture
def tls_registry() -> Iterator[tuple[str, ssl.SSLContext]]:
    """A TLS registry on a free port and a client context trusting its certificate."""
    root = Path(tempfile.mkdtemp(prefix="dy-registry-tls-"))
    cert, key = _self_signed(root)
    port = free_port()
    with open(root / "server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dockyard.entry", "registry", "serve", "--addr",
                                 f"127.0.0.1:{port}", "--root", str(root / "data"), "--tls-cert", str(cert),
                                 "--tls-key", str(key)], stdout=log, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (root / "server.log").read_text()
            try:
                _open(f"{base}/v2/", context)
                break
            except OSError:
                assert time.monotonic() < deadline, "TLS registry did not come up"
                time.sleep(0.05)
        yield base, context
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(root)


def test_https_base_and_blob_roundtrip(tls_registry):
    base, context = tls_registry
    status, headers, _ = _open(f"{base}/v2/", context)
    assert status == 200 and headers.get("Docker-Distribution-API-Version") == "registry/2.0"
    blob = b"over tls\n" * 100
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    status, headers, _ = _open(f"{base}/v2/tls/test/blobs/uploads/?digest={digest}", context, "POST", blob,
                               {"Content-Type": "application/octet-stream"})
    assert status == 201 and headers["Docker-Content-Digest"] == digest
    status, _, body = _open(f"{base}/v2/tls/test/blobs/{digest}", context)
    assert status == 200 and body == blob


def test_plain_client_refuses_untrusted_certificate(tls_registry):
    base, _context = tls_registry
    with pytest.raises(OSError) as caught:
        _open(f"{base}/v2/", ssl.create_default_context())
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value), caught.value
