"""Our registry with real clients (skopeo, Debian's dockerd) and our daemon with our registry and distribution's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import requests

from dockerd_harness import private_dockerd
from registry_fixtures import distribution_registry
from test_interop_dockerd import dockerd  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("need_docker_cli")


@pytest.fixture(scope="module")
def distribution():
    yield from distribution_registry()


def run(cmd: list[str], env: dict[str, str] | None = None, data: bytes | None = None) -> str:
    result = subprocess.run(cmd, env=env, input=data, capture_output=True, timeout=240)
    assert result.returncode == 0, (cmd, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout.decode()


def test_skopeo_copies_in_and_out(shared_reg, tmp_path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    archive = tmp_path / "bb.tar"
    run([sys.executable, "-m", "dockyard.tools.busybox_image", "--output", str(archive)])
    run(["skopeo", "copy", "--dest-tls-verify=false", f"docker-archive:{archive}",
         f"docker://{shared_reg.host}/skopeo/busybox:v1"])
    run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
         f"docker://{shared_reg.host}/skopeo/busybox:v1", f"docker://{shared_reg.host}/skopeo/copy:v2"])
    run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{shared_reg.host}/skopeo/copy:v2",
         f"oci:{tmp_path}/out:v2"])
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v2"
    assert json.loads(run(["skopeo", "list-tags", "--tls-verify=false", f"docker://{shared_reg.host}/skopeo/busybox"]))[
        "Tags"] == ["v1"]


@pytest.mark.parametrize("which", ["shared_reg", "distribution"], ids=["ours", "distribution"])
def test_docker_cli_push_and_pull_through_our_daemon(clean, which, request):
    registry = request.getfixturevalue(which)
    name = f"{registry.host}/cli/busybox:{which}"
    assert clean.docker("tag", "busybox", name).returncode == 0
    pushed = clean.docker("push", name, timeout=120)
    assert pushed.returncode == 0, pushed.stderr
    assert b"digest: sha256:" in pushed.stdout
    clean.docker("rmi", name)
    pulled = clean.docker("pull", name, timeout=120)
    assert pulled.returncode == 0, pulled.stderr
    assert b"Downloaded newer image" in pulled.stdout or b"Image is up to date" in pulled.stdout
    ran = clean.docker("run", "--rm", name, "echo", "pulled back")
    assert ran.stdout == b"pulled back\n", ran.stderr
    clean.docker("rmi", name)


def test_pull_progress_lines_are_per_layer(clean, shared_reg):
    name = f"{shared_reg.host}/progress/busybox:p"
    clean.docker("tag", "busybox", name)
    assert clean.docker("push", name, timeout=120).returncode == 0
    image_id = clean.api("GET", f"/images/{name}/json")["Id"]
    clean.docker("rmi", name)
    clean.docker("rmi", "busybox")
    try:
        status, body = clean.request("POST", f"/images/create?fromImage={shared_reg.host}/progress/busybox&tag=p")
        assert status == 200
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        statuses = [(line.get("status"), line.get("id")) for line in lines]
        assert statuses[0] == ("Pulling from progress/busybox", "p")
        # another test's image may still hold the busybox layer: then it "Already exists", as in docker
        pulled = {i for s, i in statuses if s == "Pull complete"}
        layer_ids = pulled | {i for s, i in statuses if s == "Already exists"}
        assert layer_ids and all(len(i) == 12 for i in layer_ids)
        if pulled:
            assert any(line.get("progressDetail", {}).get("total")
                       for line in lines if line.get("status") == "Downloading")
        assert clean.api("GET", f"/images/{name}/json")["Id"] == image_id
    finally:
        clean.docker("tag", image_id, "busybox:latest")
        clean.docker("rmi", name)


def test_debian_dockerd_pushes_to_and_pulls_from_ours(shared_reg, tmp_path):
    with private_dockerd("--insecure-registry", shared_reg.host) as env:
        archive = tmp_path / "bb.tar"
        run([sys.executable, "-m", "dockyard.tools.busybox_image", "--output", str(archive)])
        run(["docker", "load", "-i", str(archive)], env)
        name = f"{shared_reg.host}/dockerd/busybox:t"
        run(["docker", "tag", "busybox:latest", name], env)
        assert "digest: sha256:" in run(["docker", "push", name], env)
        run(["docker", "rmi", name, "busybox:latest"], env)
        run(["docker", "pull", name], env)
        assert requests.get(f"{shared_reg.url}/v2/dockerd/busybox/tags/list").json()["tags"] == ["t"]
