"""Volumes through the Docker SDK for Python: create, run with volumes=..., prune; API shapes and errors."""

from __future__ import annotations

import tempfile

import pytest

from volume_helpers import ANONYMOUS_LABEL, PREFIX, remove_test_volumes, volumes


@pytest.fixture
def client(sdk, clean):
    yield sdk
    remove_test_volumes(clean)


def test_sdk_create_run_and_prune(client, clean):
    docker = pytest.importorskip("docker")
    volume = client.volumes.create(name=PREFIX + "sdk", driver="local", labels={"app": "web"})
    assert volume.name == PREFIX + "sdk" and volume.attrs["Labels"] == {"app": "web"}
    assert client.volumes.get(PREFIX + "sdk").attrs["Mountpoint"].endswith(f"/volumes/{PREFIX}sdk/_data")
    with tempfile.TemporaryDirectory(prefix="dyt-sdk-") as host:
        output = client.containers.run("busybox", ["sh", "-c", "echo v > /v/f; echo h > /h/f; cat /v/f /h/f"],
                                       volumes={PREFIX + "sdk": {"bind": "/v", "mode": "rw"},
                                                host: {"bind": "/h", "mode": "rw"}}, remove=True)
        assert output == b"v\nh\n"
        with open(f"{host}/f") as handle:
            assert handle.read() == "h\n"
    again = client.containers.run("busybox", "cat /v/f", volumes=[f"{PREFIX}sdk:/v:ro"], remove=True)
    assert again == b"v\n"
    container = client.containers.create("busybox", "true", volumes=["/scratch"])
    anon = container.attrs["Mounts"][0]["Name"]
    container.remove()
    assert [v.name for v in client.volumes.list(filters={"label": "app=web"})] == [PREFIX + "sdk"]
    pruned = client.volumes.prune()
    assert anon in (pruned["VolumesDeleted"] or []) and PREFIX + "sdk" not in (pruned["VolumesDeleted"] or [])
    assert isinstance(pruned["SpaceReclaimed"], int)
    client.volumes.get(PREFIX + "sdk").remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(PREFIX + "sdk")


def test_api_shapes_and_errors(clean):
    status, body = clean.request("POST", "/volumes/create", {"Name": "a"})
    assert status == 400 and b"too short" in body
    status, body = clean.request("POST", "/volumes/create", {"Name": PREFIX + "x", "Driver": "nfs-plugin"})
    assert status == 404 and b'plugin \\"nfs-plugin\\" not found' in body
    status, body = clean.request("POST", "/volumes/create", {"Name": PREFIX + "x", "DriverOpts": {"type": "nfs"}})
    assert status == 400 and b'missing required option: \\"device\\"' in body
    assert clean.request("DELETE", f"/volumes/{PREFIX}nothere")[0] == 404
    assert clean.request("DELETE", f"/volumes/{PREFIX}nothere?force=1")[0] == 204
    status, body = clean.request("GET", f"/volumes/{PREFIX}nothere")
    assert status == 404 and body == f'{{"message": "get {PREFIX}nothere: no such volume"}}\n'.encode()
    assert clean.request("GET", '/volumes?filters={"colour":["red"]}')[0] == 400
    assert clean.request("POST", '/volumes/prune?filters={"until":["1h"]}')[0] == 400
    first = clean.api("POST", "/volumes/create", {})
    assert len(first["Name"]) == 64 and first["Scope"] == "local" and first["Options"] is None
    same = clean.api("POST", "/volumes/create", {"Name": first["Name"], "Labels": {"x": "y"}})
    assert same == first, "creating an existing volume answers the existing one"
    listing = clean.api("GET", "/volumes")
    assert listing["Warnings"] is None and first["Name"] in {v["Name"] for v in listing["Volumes"]}
    assert volumes(clean)[first["Name"]]["Labels"] == {ANONYMOUS_LABEL: ""}  # dockerd: nameless is anonymous
    clean.api("DELETE", f"/volumes/{first['Name']}")
    df = clean.api("GET", "/system/df?type=volume")
    assert set(df) == {"Volumes"}
    assert clean.request("GET", "/system/df?type=bogus")[0] == 400


def test_nameless_volumes_are_anonymous_and_prune_follows_the_api_version(clean):
    """dockerd: a volume created without a name carries com.docker.volume.anonymous; prune before API 1.42
    removes every unused volume, from 1.42 on only anonymous ones unless all=true."""
    label = {"dyt-prune-version": "1"}
    selector = '{"label":["dyt-prune-version=1"]}'
    try:
        for version, named_goes in (("1.41", True), ("1.45", False)):
            named = clean.api("POST", "/volumes/create", {"Name": PREFIX + "named", "Labels": label})["Name"]
            nameless = clean.api("POST", "/volumes/create", {"Labels": label})
            assert nameless["Labels"] == {**label, ANONYMOUS_LABEL: ""}, nameless
            pruned = clean.api("POST", f"/v{version}/volumes/prune?filters={selector}")["VolumesDeleted"] or []
            assert nameless["Name"] in pruned and (named in pruned) == named_goes, (version, pruned)
            clean.request("DELETE", f"/volumes/{named}")
    finally:
        for volume in clean.api("GET", f"/volumes?filters={selector}")["Volumes"] or []:
            clean.request("DELETE", f"/volumes/{volume['Name']}")
