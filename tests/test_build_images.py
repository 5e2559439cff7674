"""A build's intermediate images behave as docker's: hidden from `images`, shown by `-a`, pruned by `rmi`."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.usefixtures("need_docker_cli")


def image_ids(daemon, *args: str) -> set[str]:
    result = daemon.docker("images", "-q", *args)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.decode().split())


def test_intermediate_images_hidden_then_pruned(clean, tmp_path):
    before = image_ids(clean, "-a")
    dangling_before = image_ids(clean, "-f", "dangling=true")
    (tmp_path / "Dockerfile").write_text('FROM busybox\nRUN echo one > /one\nENV X=1\nCMD ["cat", "/one"]\n')
    built = subprocess.run(["docker", "build", "-q", "-t", "layered:1", str(tmp_path)],
                           env={**clean.env(), "DOCKER_BUILDKIT": "0"}, capture_output=True, timeout=120)
    assert built.returncode == 0, built.stderr
    final = built.stdout.decode().strip().removeprefix("sha256:")[:12]
    assert image_ids(clean) - before == {final}
    assert len(image_ids(clean, "-a") - before) == 3  # RUN and ENV steps, then CMD
    assert image_ids(clean, "-f", "dangling=true") == dangling_before
    parent = clean.docker("inspect", "-f", "{{.Parent}}", "layered:1").stdout.decode().strip()
    assert parent.removeprefix("sha256:")[:12] in image_ids(clean, "-a")
    removed = clean.docker("rmi", "layered:1").stdout.decode()
    assert removed.count("Deleted: sha256:") >= 3
    assert image_ids(clean, "-a") == before
