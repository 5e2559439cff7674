"""The oras Python SDK pushes artifacts to `dockyard registry serve` and pulls them back."""

from __future__ import annotations

import os

import pytest
import requests


oras_client = pytest.importorskip("oras.client")


@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_oras_push_and_pull_an_artifact(shared_reg, tmp_path, chunked):
    payload = os.urandom(300_000)
    src = tmp_path / "src"
    src.mkdir()
    (src / "artifact.bin").write_bytes(payload)
    (src / "notes.txt").write_text("hello from oras\n")
    client = oras_client.OrasClient(hostname=shared_reg.host, insecure=True)
    target = f"{shared_reg.host}/oras/artifact:{'chunked' if chunked else 'mono'}"
    cwd = os.getcwd()
    os.chdir(src)  # oras names layers by the paths given, relative ones keep the titles plain
    try:
        resp = client.push(target=target, files=["artifact.bin", "notes.txt"], do_chunked=chunked,
                           chunk_size=64 << 10, quiet=True)
    finally:
        os.chdir(cwd)
    assert resp.status_code == 201, resp.text
    manifest = requests.get(f"{shared_reg.url}/v2/oras/artifact/manifests/{target.rsplit(':', 1)[1]}",
                            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
    titles = sorted(l["annotations"]["org.opencontainers.image.title"] for l in manifest["layers"])
    assert titles == ["artifact.bin", "notes.txt"]
    out = tmp_path / "out"
    files = client.pull(target=target, outdir=str(out))
    assert sorted(os.path.basename(f) for f in files) == ["artifact.bin", "notes.txt"]
    assert (out / "artifact.bin").read_bytes() == payload
    assert (out / "notes.txt").read_text() == "hello from oras\n"
    assert target.rsplit(":", 1)[1] in client.get_tags(f"{shared_reg.host}/oras/artifact")
