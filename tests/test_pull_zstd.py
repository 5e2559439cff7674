"""zstd-compressed layers: pushed to our registry over the HTTP API, pulled and unpacked through the daemon."""

from __future__ import annotations

import hashlib
import io
import json
import os

import pytest
import zstandard

from registry_images import Layer, busybox_base, data_layer, image_config, push
from dockyard.util.mediatypes import LAYER_ZSTD
from dockyard.util.tarsafe import decompressed

pytestmark = pytest.mark.usefixtures("need_docker_cli")


def zstd_layer(plain: Layer, frames: int = 1) -> Layer:
    """The same tar compressed with zstd (in `frames` independent frames, as some tools write)."""
    data = plain.path.read_bytes()
    step = -(-len(data) // frames)
    out = plain.path.with_suffix(".tar.zst")
    out.write_bytes(b"".join(zstandard.ZstdCompressor(level=3).compress(data[i:i + step])
                             for i in range(0, len(data), step)))
    return Layer(out, LAYER_ZSTD, plain.diff_id)


def test_decompressed_reads_multi_frame_zstd():
    payload = os.urandom(100_000) * 3
    blob = b"".join(zstandard.ZstdCompressor().compress(payload[i:i + 70_000]) for i in range(0, len(payload), 70_000))
    assert decompressed(io.BytesIO(blob)).read() == payload


def test_pull_image_with_zstd_layers(clean, shared_reg, tmp_path):
    base_config, base = busybox_base(tmp_path)
    payload = os.urandom(3 << 20) + b"compressible " * 100_000
    data = data_layer(tmp_path / "data.tar", "z.bin", payload)
    layers = [zstd_layer(base), zstd_layer(data, frames=3)]
    push(shared_reg.url, "zstd/image", "v1", image_config(base_config, layers), layers)
    name = f"{shared_reg.host}/zstd/image:v1"
    status, body = clean.request("POST", f"/images/create?fromImage={shared_reg.host}/zstd/image&tag=v1", timeout=120)
    assert status == 200 and b"errorDetail" not in body, body[-500:]
    try:
        ran = clean.docker("run", "--rm", name, "sha256sum", "/data/z.bin")
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.split()[0].decode() == hashlib.sha256(payload).hexdigest()
        history = json.loads(clean.docker("image", "inspect", name).stdout)[0]["RootFS"]["Layers"]
        assert history == [base.diff_id, data.diff_id]
    finally:
        clean.docker("rmi", name)


def test_pull_refuses_an_unknown_layer_type(clean, shared_reg, tmp_path):
    base_config, base = busybox_base(tmp_path)
    odd = Layer(base.path, "application/vnd.oci.image.layer.v1.tar+encrypted", base.diff_id)
    push(shared_reg.url, "zstd/odd", "v1", image_config(base_config, [odd]), [odd])
    status, body = clean.request("POST", f"/images/create?fromImage={shared_reg.host}/zstd/odd&tag=v1", timeout=120)
    assert status == 200 and b"unsupported layer media type application/vnd.oci.image.layer.v1.tar+encrypted" in body
    assert clean.request("GET", f"/images/{shared_reg.host}/zstd/odd:v1/json")[0] == 404
