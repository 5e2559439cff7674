"""Image service against real stores: load, list/filters, inspect, history, tag, rmi, import, save, prune."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from dockyard.content.store import ContentStore
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.images.service import ImageService
from dockyard.metadata.db import MetadataDB
from dockyard.snapshots.overlay import Snapshotter
from dockyard.tools.busybox_image import build_archive
from helpers import sha, tar_files

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="layer unpacking needs root")


class Events:
    """Records published events."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, dict]] = []

    def publish(self, type_: str, action: str, actor_id: str, attributes: dict | None = None) -> None:
        self.seen.append((type_, action, actor_id, attributes or {}))

    def actions(self) -> list[str]:
        return [action for _t, action, _a, _attrs in self.seen]


class Env:
    """A service over fresh stores plus a settable fake usage check."""

    def __init__(self, root: Path) -> None:
        self.db = MetadataDB(root / "metadata.db")
        self.content = ContentStore(root / "content")
        self.snapshots = Snapshotter(root / "snapshots", self.db)
        self.events = Events()
        self.service = ImageService(root, self.db, self.content, self.snapshots, self.events)
        self.users: dict[str, list[tuple[str, bool]]] = {}
        self.service.set_usage_check(lambda image_id: self.users.get(image_id, []))


@pytest.fixture(scope="module")
def busybox_archive() -> bytes:
    out = io.BytesIO()
    build_archive(out)
    return out.getvalue()


@pytest.fixture
def env(tmp_path: Path, busybox_archive: bytes) -> Iterator[Env]:
    environment = Env(tmp_path)
    assert list(environment.service.load(io.BytesIO(busybox_archive), False)) == [
        {"stream": "Loaded image: busybox:latest\n"}]
    yield environment
    environment.db.close()


def busybox_id(env: Env) -> str:
    return env.service.resolve("busybox").id


def test_load_list_inspect(env: Env) -> None:
    rows = env.service.list(False, {}, False)
    assert len(rows) == 1 and env.service.count() == 1
    row = rows[0]
    assert row["RepoTags"] == ["busybox:latest"] and row["Id"].startswith("sha256:")
    assert row["Created"] == 1704067200 and row["Size"] > 1_000_000
    info = env.service.inspect("busybox")
    assert info["Id"] == row["Id"] and info["Os"] == "linux" and info["Architecture"] == "amd64"
    assert info["Config"]["Cmd"] == ["sh"] and info["Config"]["Env"][0].startswith("PATH=")
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    assert info["GraphDriver"]["Name"] == "overlay2"
    assert env.events.seen[-1] == ("image", "load", row["Id"], {"name": "busybox:latest"})


def test_busybox_rootfs(env: Env, tmp_path: Path) -> None:
    image = env.service.resolve("busybox")
    env.snapshots.prepare_container("c", image.chain_id)
    target = tmp_path / "rootfs"
    env.snapshots.mount_container("c", target)
    try:
        assert os.stat(target / "tmp").st_mode & 0o7777 == 0o1777
        assert os.stat(target / "bin" / "ls").st_ino == os.stat(target / "bin" / "busybox").st_ino
        assert "nobody:x:65534:65534:nobody:/home:/bin/false" in (target / "etc" / "passwd").read_text()
        result = subprocess.run(["chroot", str(target), "/bin/sh", "-c", "echo hi | wc -c"],
                                capture_output=True, text=True, check=True)
        assert result.stdout.strip() == "3"
    finally:
        env.snapshots.unmount(target)
        env.snapshots.remove_container("c")


def test_resolve_forms_and_errors(env: Env) -> None:
    image_id = busybox_id(env)
    for name in ("busybox:latest", "docker.io/library/busybox", image_id, image_id[7:], image_id[7:19],
                 "sha256:" + image_id[7:19]):
        assert env.service.resolve(name).id == image_id
    with pytest.raises(NotFound, match="^No such image: nosuch:latest$"):
        env.service.resolve("nosuch")
    with pytest.raises(InvalidParameter, match=r"repository name \(library/Busybox\) must be lowercase"):
        env.service.resolve("Busybox")
    with pytest.raises(InvalidParameter, match="^invalid reference format$"):
        env.service.resolve("bad::ref")


def test_history(env: Env) -> None:
    rows = env.service.history("busybox")
    assert [r["Id"] for r in rows] == [busybox_id(env), "<missing>"]
    assert rows[0]["Tags"] == ["busybox:latest"] and rows[0]["Size"] == 0
    assert rows[1]["Size"] == env.service.resolve("busybox").size and "ADD" in rows[1]["CreatedBy"]


def test_tag(env: Env) -> None:
    env.service.tag("busybox", "localhost:5000/team/bb", "v1")
    env.service.tag("busybox", "other:two", "")
    image = env.service.resolve("localhost:5000/team/bb:v1")
    assert sorted(image.repo_tags) == ["busybox:latest", "localhost:5000/team/bb:v1", "other:two"]
    assert ("image", "tag", image.id, {"name": "other:two"}) in env.events.seen
    assert env.service.inspect("other:two")["Metadata"]["LastTagTime"] != "0001-01-01T00:00:00Z"
    with pytest.raises(InvalidParameter):
        env.service.tag("busybox", "x@sha256:" + "a" * 64, "")
    with pytest.raises(InvalidParameter):
        env.service.tag("busybox", "x", "bad tag")


def test_rmi_untag_then_delete(env: Env) -> None:
    image_id = busybox_id(env)
    chain = env.service.resolve("busybox").chain_id
    env.service.tag("busybox", "second", "")
    assert env.service.remove("second", False, True) == [{"Untagged": "second:latest"}]
    result = env.service.remove("busybox", False, True)
    assert result == [{"Untagged": "busybox:latest"}, {"Deleted": image_id}, {"Deleted": chain}]
    assert env.service.count() == 0 and not env.snapshots.has_layer(chain)
    assert list(env.content.digests()) == []
    assert env.events.actions()[-3:] == ["untag", "untag", "delete"]


def test_rmi_conflicts(env: Env) -> None:
    image_id = busybox_id(env)
    short = image_id[7:19]
    env.users[image_id] = [("0123456789abcdef", False)]
    with pytest.raises(Conflict) as caught:
        env.service.remove("busybox", False, True)
    assert caught.value.message == ('conflict: unable to remove repository reference "busybox" (must force) - '
                                    f"container 0123456789ab is using its referenced image {short}")
    with pytest.raises(Conflict, match=rf"^conflict: unable to delete {short} \(must be forced\) - image is "
                                       "being used by stopped container 0123456789ab$"):
        env.service.remove(short, False, True)
    env.users[image_id] = [("0123456789abcdef", True)]
    with pytest.raises(Conflict, match=rf"^conflict: unable to delete {short} \(cannot be forced\) - image is "
                                       "being used by running container 0123456789ab$"):
        env.service.remove(short, True, True)
    # forcing by name only untags; the image stays (dangling) for its container
    assert env.service.remove("busybox", True, True) == [{"Untagged": "busybox:latest"}]
    assert env.service.list(False, {"dangling": ["true"]}, False)[0]["Id"] == image_id


def test_rmi_by_id_with_tags_in_two_repositories(env: Env) -> None:
    image_id = busybox_id(env)
    env.service.tag("busybox", "another", "")
    with pytest.raises(Conflict, match="must be forced\\) - image is referenced in multiple repositories"):
        env.service.remove(image_id, False, True)
    result = env.service.remove(image_id, True, True)
    assert {"Untagged": "another:latest"} in result and {"Untagged": "busybox:latest"} in result
    assert {"Deleted": image_id} in result and env.service.count() == 0


def import_image(env: Env, files: dict[str, bytes], repo: str | None, changes: list[str], **kw) -> str:
    return env.service.import_(io.BytesIO(tar_files(files)), repo, kw.get("tag"), changes, kw.get("message", ""))


def test_import_with_changes(env: Env) -> None:
    changes = ['CMD ["/bin/app", "-v"]', "ENV A=1 B=two", "ENV A 3", "LABEL team=core tier=web",
               "EXPOSE 80 53/udp", "WORKDIR /srv", "USER nobody", "ENTRYPOINT run it", "VOLUME /data",
               "STOPSIGNAL SIGINT"]
    data = tar_files({"srv/app": b"payload"})
    image_id = env.service.import_(io.BytesIO(gzip.compress(data)), "imported", "v2", changes, "first import")
    info = env.service.inspect("imported:v2")
    assert info["Id"] == image_id and info["Comment"] == "first import"
    config = info["Config"]
    assert config["Cmd"] == ["/bin/app", "-v"] and config["Entrypoint"] == ["/bin/sh", "-c", "run it"]
    assert config["Env"] == ["B=two", "A=3"] and config["Labels"] == {"team": "core", "tier": "web"}
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}} and config["Volumes"] == {"/data": {}}
    assert (config["WorkingDir"], config["User"], config["StopSignal"]) == ("/srv", "nobody", "SIGINT")
    assert info["RootFS"]["Layers"] == [sha(data)]
    assert env.service.history(image_id)[0]["Comment"] == "first import"
    assert ("image", "import", image_id, {"name": "imported:v2"}) in env.events.seen
    with pytest.raises(InvalidParameter, match="^run is not a valid change command$"):
        import_image(env, {"a": b""}, None, ["RUN echo"])


def test_import_untagged_default_comment(env: Env) -> None:
    image_id = import_image(env, {"a": b"1"}, None, [])
    assert env.service.resolve(image_id).repo_tags == []
    assert env.service.inspect(image_id)["Comment"] == "Imported from -"


def test_list_filters(env: Env) -> None:
    bb = busybox_id(env)
    labelled = import_image(env, {"x": b"1"}, "app", ["LABEL env=prod tier=web"])
    first = import_image(env, {"y": b"2"}, "app", [], tag="old")
    dangling = import_image(env, {"z": b"3"}, None, [])

    def ids(filters: dict) -> set[str]:
        return {row["Id"] for row in env.service.list(False, filters, False)}

    assert ids({}) == {bb, labelled, first, dangling}
    assert ids({"dangling": ["true"]}) == {dangling}
    assert ids({"dangling": ["false"]}) == {bb, labelled, first}
    assert ids({"label": ["env=prod"]}) == {labelled}
    assert ids({"label": ["env"], "reference": ["app"]}) == {labelled}
    assert ids({"label": ["env=dev"]}) == set()
    assert ids({"reference": ["app:*"]}) == {labelled, first}
    assert ids({"reference": ["busy*"]}) == {bb}
    assert ids({"before": ["app:latest"]}) == {bb}
    assert ids({"since": ["busybox"]}) >= {labelled, first, dangling}
    with pytest.raises(InvalidParameter, match="^invalid filter 'nope'$"):
        env.service.list(False, {"nope": ["1"]}, False)
    with pytest.raises(InvalidParameter):
        env.service.list(False, {"dangling": ["maybe"]}, False)


def test_save_load_round_trip(env: Env, busybox_archive: bytes) -> None:
    image_id = busybox_id(env)
    out = io.BytesIO()
    env.service.save(["busybox"], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        layer = tar.extractfile(manifest[0]["Layers"][0]).read()  # type: ignore[union-attr]
    assert {"oci-layout", "index.json", "manifest.json", "repositories"} <= names
    assert manifest[0]["RepoTags"] == ["busybox:latest"] and manifest[0]["Config"] == f"blobs/sha256/{image_id[7:]}"
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "docker.io/library/busybox:latest"
    with tarfile.open(fileobj=io.BytesIO(busybox_archive)) as original:
        assert original.extractfile(manifest[0]["Layers"][0]).read() == layer  # type: ignore[union-attr]
    env.service.remove("busybox", False, True)
    assert list(env.service.load(io.BytesIO(out.getvalue()), True)) == [{"stream": "Loaded image: busybox:latest\n"}]
    assert busybox_id(env) == image_id
    by_id = io.BytesIO()
    env.service.save([image_id[7:19]], by_id)
    with tarfile.open(fileobj=io.BytesIO(by_id.getvalue())) as tar:
        assert json.load(tar.extractfile("manifest.json"))[0]["RepoTags"] is None  # type: ignore[arg-type]


def legacy_archive(layer: bytes, config: dict, tag: str) -> bytes:
    """docker < 25 layout: <v1id>/layer.tar, <v1id>/json, <config hex>.json, manifest.json, repositories."""
    config_bytes = json.dumps(config).encode()
    config_hex = sha(config_bytes)[7:]
    v1 = hashlib.sha256(b"v1" + layer).hexdigest()
    repo, _, tag_name = tag.partition(":")
    files = {
        f"{v1}/VERSION": b"1.0", f"{v1}/json": b'{"id":"%s"}' % v1.encode(), f"{v1}/layer.tar": layer,
        f"{config_hex}.json": config_bytes,
        "manifest.json": json.dumps([{"Config": f"{config_hex}.json", "RepoTags": [tag],
                                      "Layers": [f"{v1}/layer.tar"]}]).encode(),
        "repositories": json.dumps({repo: {tag_name: v1}}).encode(),
    }
    return tar_files(files)


def layer_config(layer_diff: str) -> dict:
    return {"architecture": "amd64", "os": "linux", "created": "2023-05-01T10:00:00.5Z",
            "config": {"Cmd": ["/hello"]}, "rootfs": {"type": "layers", "diff_ids": [layer_diff]}}


def test_load_legacy_layout(env: Env) -> None:
    layer = tar_files({"hello": b"world"})
    config = layer_config(sha(layer))
    progress = list(env.service.load(io.BytesIO(legacy_archive(layer, config, "legacy:1")), False))
    assert progress == [{"stream": "Loaded image: legacy:1\n"}]
    image = env.service.resolve("legacy:1")
    assert image.id == sha(json.dumps(config).encode()) and image.config["config"]["Cmd"] == ["/hello"]
    assert (env.snapshots.lower_dirs(image.chain_id)[0] / "hello").read_bytes() == b"world"
    # blobs not belonging to an image (v1 json, VERSION) are not kept
    assert set(env.content.digests()) == env.service.records.get(image.id).blobs() | env.service.records.get(
        busybox_id(env)).blobs()


def test_load_oci_layout_with_gzip_and_nested_index(env: Env) -> None:
    layer = tar_files({"oci": b"layout"})
    layer_gz = gzip.compress(layer, mtime=0)
    config = json.dumps(layer_config(sha(layer))).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": sha(layer_gz), "size": len(layer_gz)}]}).encode()
    inner = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                       "digest": sha(manifest), "size": len(manifest),
                                       "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(inner), "size": len(inner),
        "annotations": {"io.containerd.image.name": "registry.example.com/oci/app:3"}}]}).encode()
    files = {f"blobs/sha256/{sha(b)[7:]}": b for b in (layer_gz, config, manifest, inner)}
    files.update({"index.json": index, "oci-layout": b'{"imageLayoutVersion":"1.0.0"}'})
    assert list(env.service.load(io.BytesIO(tar_files(files)), False)) == [
        {"stream": "Loaded image: registry.example.com/oci/app:3\n"}]
    image = env.service.resolve("registry.example.com/oci/app:3")
    assert image.id == sha(config)
    assert (env.snapshots.lower_dirs(image.chain_id)[0] / "oci").read_bytes() == b"layout"
    assert env.service.records.get(image.id).manifest_digest == sha(manifest)
    saved = io.BytesIO()
    env.service.save(["registry.example.com/oci/app:3"], saved)
    with tarfile.open(fileobj=io.BytesIO(saved.getvalue())) as tar:
        assert tar.extractfile(f"blobs/sha256/{sha(layer_gz)[7:]}").read() == layer_gz  # type: ignore[union-attr]


def test_load_bad_archive_changes_nothing(env: Env) -> None:
    before = set(env.content.digests())
    layer = tar_files({"a": b"1"})
    config = layer_config(sha(b"a different layer"))
    with pytest.raises(InvalidParameter, match="digest mismatch"):
        list(env.service.load(io.BytesIO(legacy_archive(layer, config, "broken:1")), False))
    tampered = {f"blobs/sha256/{'0' * 64}": b"not what the name says", "index.json": b'{"manifests": []}'}
    with pytest.raises(InvalidParameter):
        list(env.service.load(io.BytesIO(tar_files(tampered)), False))
    with pytest.raises(InvalidParameter):
        list(env.service.load(io.BytesIO(tar_files({"../escape": b"x"})), False))
    assert set(env.content.digests()) == before and env.service.count() == 1
    assert list((env.content.root / "ingest").iterdir()) == []


def test_load_retags_existing_name(env: Env) -> None:
    old = busybox_id(env)
    layer = tar_files({"new": b"1"})
    progress = list(env.service.load(io.BytesIO(legacy_archive(layer, layer_config(sha(layer)),
                                                                "busybox:latest")), False))
    assert progress[0]["stream"] == (f"The image busybox:latest already exists, renaming the old one with ID "
                                     f"{old} to empty string\n")
    assert env.service.list(False, {"dangling": ["true"]}, False)[0]["Id"] == old


def test_prune(env: Env) -> None:
    bb = busybox_id(env)
    dangling = import_image(env, {"d": b"1"}, None, [])
    used = import_image(env, {"u": b"2"}, None, [])
    tagged = import_image(env, {"t": b"3"}, "keep", [])
    env.users[used] = [("c" * 64, False)]
    report = env.service.prune({})
    assert report["ImagesDeleted"][0] == {"Deleted": dangling} and report["SpaceReclaimed"] == 1
    assert {row["Id"] for row in env.service.list(False, {}, False)} == {bb, used, tagged}
    env.users[bb] = [("b" * 64, True)]
    report = env.service.prune({"dangling": ["false"]})
    assert {"Untagged": "keep:latest"} in report["ImagesDeleted"] and {"Deleted": tagged} in report["ImagesDeleted"]
    assert {row["Id"] for row in env.service.list(False, {}, False)} == {bb, used}
    assert env.events.seen[-1] == ("image", "prune", "", {"reclaimed": "1"})
    with pytest.raises(InvalidParameter):
        env.service.prune({"reference": ["x"]})


# ----- over HTTP, against the session daemon (busybox loaded by dockyard.tools.busybox_image) -----------------


def test_http_routes(clean) -> None:  # type: ignore[no-untyped-def]
    from urllib.parse import quote

    daemon = clean
    bb = daemon.api("GET", "/images/busybox/json")["Id"]
    status, archive = daemon.request("GET", "/images/busybox/get")
    assert status == 200 and json.load(tarfile.open(fileobj=io.BytesIO(archive)).extractfile("manifest.json"))
    status, body = daemon.request("POST", "/images/load?quiet=1", archive, {"Content-Type": "application/x-tar"})
    assert status == 200 and json.loads(body.splitlines()[-1]) == {"stream": "Loaded image: busybox:latest\n"}
    assert daemon.api("GET", "/images/busybox/json")["Id"] == bb

    changes = quote('CMD ["/x"]')
    status, body = daemon.request("POST", f"/images/create?fromSrc=-&repo=httpimp&tag=1&changes={changes}",
                                  tar_files({"x": b"#!"}), {"Content-Type": "application/x-tar"})
    assert status == 200
    image_id = json.loads(body.splitlines()[-1])["status"]
    try:
        assert daemon.api("GET", "/images/httpimp:1/json")["Config"]["Cmd"] == ["/x"]
        assert daemon.api("GET", "/images/httpimp:1/history")[0]["Id"] == image_id
        assert daemon.request("POST", "/images/httpimp:1/tag?repo=localhost:5000/a/b&tag=2")[0] == 201
        listed = daemon.api("GET", "/images/json?filters=" + quote(json.dumps({"reference": ["localhost:5000/*/*"]})))
        assert [row["Id"] for row in listed] == [image_id]
        status, saved = daemon.request("GET", "/images/get?names=localhost:5000/a/b:2&names=busybox")
        with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
            tags = [entry["RepoTags"] for entry in json.load(tar.extractfile("manifest.json"))]  # type: ignore[arg-type]
        assert status == 200 and tags == [["localhost:5000/a/b:2"], ["busybox:latest"]]
        assert daemon.api("DELETE", "/images/localhost:5000/a/b:2") == [{"Untagged": "localhost:5000/a/b:2"}]
    finally:
        removed = daemon.api("DELETE", f"/images/{image_id}?force=1")
    assert {"Deleted": image_id} in removed
    status, body = daemon.request("DELETE", "/images/nosuch")
    assert status == 404 and json.loads(body) == {"message": "No such image: nosuch:latest"}
    status, body = daemon.request("GET", "/images/json?filters=" + quote('{"bogus":["1"]}'))
    assert status == 400 and json.loads(body) == {"message": "invalid filter 'bogus'"}


def test_docker_cli_save_load(clean, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    daemon = clean
    before = daemon.api("GET", "/images/busybox/json")["Id"]
    saved = daemon.docker("save", "-o", str(tmp_path / "bb.tar"), "busybox")
    assert saved.returncode == 0, saved.stderr
    loaded = daemon.docker("load", "-i", str(tmp_path / "bb.tar"))
    assert loaded.returncode == 0 and b"Loaded image: busybox:latest" in loaded.stdout
    assert daemon.api("GET", "/images/busybox/json")["Id"] == before
