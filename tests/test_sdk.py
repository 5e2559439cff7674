"""Issue 2's acceptance through the Docker SDK for Python."""

from __future__ import annotations

import pytest


def test_run_returns_output(sdk):
    assert sdk.containers.run("busybox", "echo hi", remove=True) == b"hi\n"


def test_lists_and_logs_and_wait(sdk):
    assert any("busybox:latest" in image.tags for image in sdk.images.list())
    container = sdk.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2; exit 4"], detach=True)
    assert container.wait(timeout=30)["StatusCode"] == 4
    assert container.logs() == b"one\ntwo\n"
    assert container.logs(stdout=True, stderr=False) == b"one\n"
    ids = [c.id for c in sdk.containers.list(all=True)]
    assert container.id in ids
    container.remove()


def test_run_nonzero_raises(sdk):
    docker = pytest.importorskip("docker")
    with pytest.raises(docker.errors.ContainerError) as info:
        sdk.containers.run("busybox", "sh -c 'echo bad >&2; exit 2'", remove=True)
    assert info.value.exit_status == 2


def test_unknown_image_and_container(sdk):
    docker = pytest.importorskip("docker")
    with pytest.raises(docker.errors.ImageNotFound):
        sdk.images.get("nosuch:image")
    with pytest.raises(docker.errors.NotFound):
        sdk.containers.get("nosuchcontainer")
