"""Build runnable multi-layer images (busybox + extra layers) and push them to a registry over the HTTP API."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def file_digest(path: Path) -> str:
    """sha256 digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


@dataclass
class Layer:
    """A layer blob on disk: its media type and the digest of its uncompressed tar (diff id)."""

    path: Path
    media_type: str
    diff_id: str

    @property
    def digest(self) -> str:
        """Digest of the blob as stored."""
        return file_digest(self.path)


def busybox_base(workdir: Path) -> tuple[dict, Layer]:
    """The busybox test image's config and its single plain-tar layer."""
    archive = workdir / "busybox.tar"
    subprocess.run([sys.executable, "-m", "dockyard.tools.busybox_image", "--output", str(archive)], check=True,
                   capture_output=True)
    with tarfile.open(archive) as tar:
        entry = json.load(tar.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = json.load(tar.extractfile(entry["Config"]))  # type: ignore[arg-type]
        layer = workdir / "busybox-layer.tar"
        layer.write_bytes(tar.extractfile(entry["Layers"][0]).read())  # type: ignore[union-attr]
    archive.unlink()
    return config, Layer(layer, LAYER_TAR, file_digest(layer))


def data_layer(path: Path, name: str, payload: bytes) -> Layer:
    """A plain tar layer holding one file /data/<name>."""
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo(f"data/{name}")
        info.size, info.mode, info.mtime = len(payload), 0o644, 1_700_000_000
        tar.addfile(info, io.BytesIO(payload))
    return Layer(path, LAYER_TAR, file_digest(path))


def image_config(base: dict, layers: list[Layer]) -> bytes:
    """The base config with its rootfs and history listing `layers`."""
    config = dict(base)
    config["rootfs"] = {"type": "layers", "diff_ids": [l.diff_id for l in layers]}
    config["history"] = [{"created_by": f"layer {i}"} for i in range(len(layers))]
    return json.dumps(config).encode()


def upload(base_url: str, repo: str, path_or_bytes: Path | bytes, digest: str) -> None:
    """Monolithic upload (POST then PUT ?digest=) unless the blob is already there."""
    if requests.head(f"{base_url}/v2/{repo}/blobs/{digest}").status_code == 200:
        return
    r = requests.post(f"{base_url}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    url = location if location.startswith("http") else base_url + location
    if isinstance(path_or_bytes, Path):
        with open(path_or_bytes, "rb") as body:
            r = requests.put(url, params={"digest": digest}, data=body)
    else:
        r = requests.put(url, params={"digest": digest}, data=path_or_bytes)
    assert r.status_code == 201, r.text


def push(base_url: str, repo: str, tag: str, config: bytes, layers: list[Layer]) -> str:
    """Push blobs and an OCI manifest; returns the manifest digest."""
    descriptors = []
    for layer in layers:
        digest = layer.digest
        upload(base_url, repo, layer.path, digest)
        descriptors.append({"mediaType": layer.media_type, "digest": digest, "size": layer.path.stat().st_size})
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    upload(base_url, repo, config, config_digest)
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                       "layers": descriptors}).encode()
    r = requests.put(f"{base_url}/v2/{repo}/manifests/{tag}", data=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"]
