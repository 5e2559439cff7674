"""The hub's JSON API (Docker Hub's shapes), tokens and scopes, sign-up, and its index across concurrent pushes,
restarts and online GC."""

from __future__ import annotations

import base64
import http.server
import json
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from helpers import free_port
from hub_fixtures import OCI_INDEX, PASSWORDS, Hub, hub_login, hub_registry, push_image, push_index, registry_cli


@pytest.fixture
def hub():
    yield from hub_registry()


def test_repository_tags_pagination_visibility_stars_audit(hub):
    base = hub.url
    for i in range(12):
        push_image(hub, "alice", "alice/app", f"v{i:02d}", f"layer {i}".encode())
    amd, amd_size = push_image(hub, "alice", "alice/app", "amd", b"amd64 layer")
    arm, arm_size = push_image(hub, "alice", "alice/app", "arm", b"arm64 layer!", arch="arm64")
    multi = push_index(hub, "alice", "alice/app", "multi", [(amd, amd_size, "amd64"), (arm, arm_size, "arm64")])
    alice, bob = hub_login(hub, "alice"), hub_login(hub, "bob")

    assert requests.get(f"{base}/v2/repositories/alice/app/").status_code == 404, "private: hidden from anonymous"
    assert requests.get(f"{base}/v2/repositories/alice/app/", headers=bob).status_code == 404
    repo = requests.get(f"{base}/v2/repositories/alice/app/", headers=alice).json()
    assert {k: repo[k] for k in ("name", "namespace", "user", "is_private", "star_count", "pull_count",
                                 "repository_type", "status_description")} == {
        "name": "app", "namespace": "alice", "user": "alice", "is_private": True, "star_count": 0, "pull_count": 0,
        "repository_type": "image", "status_description": "active"}
    assert repo["permissions"] == {"read": True, "write": True, "admin": True}
    assert repo["last_updated"].endswith("Z") and repo["date_registered"].endswith("Z")

    page1 = requests.get(f"{base}/v2/repositories/alice/app/tags/", params={"page_size": 5, "ordering": "name"},
                         headers=alice).json()
    assert page1["count"] == 15 and page1["previous"] is None and len(page1["results"]) == 5
    assert "page=2" in page1["next"] and page1["next"].startswith(base)
    page3 = requests.get(page1["next"].replace("page=2", "page=3"), headers=alice).json()
    assert len(page3["results"]) == 5 and page3["next"] is None and "page=2" in page3["previous"]
    assert [t["name"] for t in page1["results"]] == ["amd", "arm", "multi", "v00", "v01"]
    tag = requests.get(f"{base}/v2/repositories/alice/app/tags/multi/", headers=alice).json()
    assert tag["digest"] == multi and tag["last_updater_username"] == "alice" and tag["v2"] is True
    assert [(i["os"], i["architecture"], i["digest"]) for i in tag["images"]] == [
        ("linux", "amd64", amd), ("linux", "arm64", arm)]
    assert tag["full_size"] == len(b"amd64 layer"), "the amd64 image's compressed size"
    assert requests.get(f"{base}/v2/repositories/alice/app/tags/", params={"page_size": 101},
                        headers=alice).status_code == 400

    listing = requests.get(f"{base}/v2/repositories/alice/", headers=alice).json()
    assert [r["name"] for r in listing["results"]] == ["app"]
    assert requests.get(f"{base}/v2/repositories/alice/").json()["count"] == 0
    assert requests.get(f"{base}/v2/search/repositories/", params={"query": "app"}).json()["count"] == 0
    r = requests.patch(f"{base}/v2/repositories/alice/app/", headers=bob, json={"is_private": False})
    assert r.status_code == 404
    r = requests.patch(f"{base}/v2/repositories/alice/app/", headers=alice,
                       json={"is_private": False, "description": "<script>alert(1)</script> app"})
    assert r.status_code == 200 and r.json()["is_private"] is False
    found = requests.get(f"{base}/v2/search/repositories/", params={"query": "alert"}).json()
    assert [(x["repo_name"], x["is_official"], x["repo_owner"]) for x in found["results"]] == [
        ("alice/app", False, "alice")]
    assert found["results"][0]["short_description"] == "<script>alert(1)</script> app"
    assert requests.get(f"{base}/v2/search/repositories/", params={"query": "%"}).json()["count"] == 0

    assert requests.post(f"{base}/v2/repositories/alice/app/stars/").status_code == 401
    assert requests.post(f"{base}/v2/repositories/alice/app/stars/", headers=bob).status_code == 204
    assert requests.post(f"{base}/v2/repositories/alice/app/stars/", headers=bob).status_code == 204
    seen = requests.get(f"{base}/v2/repositories/alice/app/", headers=bob).json()
    assert seen["star_count"] == 1 and seen["has_starred"] is True
    assert seen["permissions"] == {"read": True, "write": False, "admin": False}
    assert requests.get(f"{base}/v1/search", params={"q": "alice"}).json()["results"][0]["star_count"] == 1
    assert requests.delete(f"{base}/v2/repositories/alice/app/stars/", headers=bob).status_code == 204
    assert requests.get(f"{base}/v2/repositories/alice/app/").json()["star_count"] == 0

    r = requests.get(f"{base}/v2/alice/app/manifests/v03", headers=hub.bearer(None, "alice/app", "pull"))
    assert r.status_code == 200
    assert requests.head(f"{base}/v2/alice/app/manifests/v03").status_code == 200
    assert requests.get(f"{base}/v2/repositories/alice/app/").json()["pull_count"] == 1, "GETs count, HEADs not"
    for reference in ("multi", amd):
        r = requests.get(f"{base}/v2/alice/app/manifests/{reference}", headers={"Accept": OCI_INDEX})
        assert r.status_code == 200
    assert requests.get(f"{base}/v2/repositories/alice/app/").json()["pull_count"] == 2, \
        "an index and then its platform's manifest: one pull"

    assert requests.get(f"{base}/v2/auditlogs/alice/").status_code == 401
    assert requests.get(f"{base}/v2/auditlogs/alice/", headers=bob).status_code == 403
    logs = requests.get(f"{base}/v2/auditlogs/alice/", headers=alice, params={"page_size": 100}).json()["logs"]
    actions = [(e["action"], e["actor"], e["data"]["tag"]) for e in logs]
    assert actions[0] == ("repo.pull", "anonymous", "multi")
    assert ("repo.pull", "anonymous", "v03") in actions
    assert ("repo.push", "alice", "multi") in actions and ("repo.update", "alice", "description,private") in actions

    assert requests.delete(f"{base}/v2/repositories/alice/app/tags/v00/", headers=bob).status_code == 403
    assert requests.delete(f"{base}/v2/repositories/alice/app/tags/v00/", headers=alice).status_code == 204
    assert "v00" not in requests.get(f"{base}/v2/alice/app/tags/list", headers=hub.bearer(None, "alice/app",
                                                                                         "pull")).json()["tags"]
    assert requests.get(f"{base}/v2/repositories/alice/app/tags/").json()["count"] == 14
    assert requests.delete(f"{base}/v2/repositories/alice/app/", headers=alice).status_code == 202
    assert requests.get(f"{base}/v2/repositories/alice/app/", headers=alice).status_code == 404
    assert requests.get(f"{base}/v2/alice/app/tags/list", headers=hub.bearer("alice", "alice/app")).status_code == 404


def test_tokens_scopes_passwords_and_login(hub):
    base = hub.url
    push_image(hub, "alice", "alice/secret", "v1", b"private layer")
    alice = hub_login(hub, "alice")
    assert requests.post(f"{base}/v2/users/login", json={"username": "alice", "password": "nope"}).status_code == 401
    created = {}
    for scope in ("repo:read", "repo:public_read", "repo:write"):
        r = requests.post(f"{base}/v2/access-tokens", headers=alice, json={"token_label": scope, "scopes": [scope]})
        assert r.status_code == 201 and r.json()["token"].startswith("dyh_pat_") and r.json()["scopes"] == [scope]
        created[scope] = r.json()
    listed = requests.get(f"{base}/v2/access-tokens", headers=alice).json()
    assert listed["count"] == 3 and listed["active_count"] == 3
    assert all("token" not in t for t in listed["results"]), "a secret is shown only once"

    def grant(scope: str) -> list[str]:
        r = requests.get(f"{base}/auth/token", params={"scope": "repository:alice/secret:pull,push"},
                         auth=("alice", created[scope]["token"]))
        assert r.status_code == 200, r.text
        claims = r.json()["token"].split(".")[1]
        return json.loads(base64.urlsafe_b64decode(claims + "=="))["access"][0]["actions"]

    assert grant("repo:read") == ["pull"]
    assert grant("repo:public_read") == [], "public_read does not reach private repositories"
    assert grant("repo:write") == ["pull", "push"]
    assert requests.get(f"{base}/auth/token", params={"scope": "repository:alice/secret:pull"},
                        auth=("bob", created["repo:read"]["token"])).status_code == 401, "a token is its user's"
    assert requests.delete(f"{base}/v2/access-tokens/{created['repo:read']['uuid']}", headers=alice).status_code == 204
    assert requests.get(f"{base}/auth/token", params={"scope": "repository:alice/secret:pull"},
                        auth=("alice", created["repo:read"]["token"])).status_code == 401, "revoked"
    login = requests.post(f"{base}/v2/users/login",
                          json={"username": "alice", "password": created["repo:write"]["token"]})
    pat = {"Authorization": "Bearer " + login.json()["token"]}
    assert requests.get(f"{base}/v2/repositories/alice/secret/", headers=pat).status_code == 200
    assert requests.patch(f"{base}/v2/repositories/alice/secret/", headers=pat,
                          json={"is_private": False}).status_code == 403, "a write token's login is no admin"
    assert requests.post(f"{base}/v2/access-tokens", headers=pat, json={"scopes": ["repo:admin"]}).status_code == 403
    assert requests.get(f"{base}/v2/access-tokens", auth=("alice", created["repo:write"]["token"])).status_code == 403
    public = requests.post(f"{base}/v2/users/login",
                           json={"username": "alice", "password": created["repo:public_read"]["token"]})
    public = {"Authorization": "Bearer " + public.json()["token"]}
    assert requests.get(f"{base}/v2/repositories/alice/secret/", headers=public).status_code == 404
    assert requests.get(f"{base}/v2/repositories/alice/", headers=public).json()["count"] == 0
    registry_token = hub.bearer("alice", "alice/secret")
    assert requests.get(f"{base}/v2/repositories/alice/secret/", headers=registry_token).status_code == 401

    assert (hub.data / "hub.db").stat().st_mode & 0o777 == 0o600
    raw = (hub.data / "hub.db").read_bytes() + b"".join(p.read_bytes() for p in hub.data.glob("hub.db-*"))
    for secret in [*PASSWORDS.values(), created["repo:write"]["token"]]:
        assert secret.encode() not in raw
    with sqlite3.connect(hub.data / "hub.db") as conn:
        hashes = [row[0] for row in conn.execute("SELECT password FROM users")]
    assert all(h.startswith("scrypt$32768$8$1$") for h in hashes)
    orgs = registry_cli(hub.data, "org", "ls").splitlines()
    assert [line.split() for line in orgs] == [["NAME", "OWNERS", "MEMBERS", "TEAMS"],
                                               ["acme", "alice", "carol", "readers"]]
    users = registry_cli(hub.data, "user", "ls")
    assert users.split()[:4] == ["NAME", "ADMIN", "EMAIL", "CREATED"] and "boss" in users
    registry_cli(hub.data, "user", "passwd", "bob", stdin="bob-new-pass\n")
    assert requests.post(f"{base}/v2/users/login", json={"username": "bob", "password": "bob-new-pass"}).ok
    registry_cli(hub.data, "user", "rm", "bob")
    gone = requests.post(f"{base}/v2/users/login", json={"username": "bob", "password": "bob-new-pass"})
    assert gone.status_code == 401


@pytest.mark.parametrize("enabled", [True, False], ids=["signup", "no-signup"])
def test_signup(enabled):
    for hub in hub_registry(*(["--signup"] if enabled else [])):
        r = requests.post(f"{hub.url}/v2/users/signup", json={"username": "dave", "password": "dave-pass-1"})
        if not enabled:
            assert r.status_code == 403 and "disabled" in r.json()["detail"]
            continue
        assert r.status_code == 201, r.text
        assert requests.post(f"{hub.url}/v2/users/signup",
                             json={"username": "dave", "password": "other-pass"}).status_code == 409
        assert requests.post(f"{hub.url}/v2/users/signup",
                             json={"username": "library", "password": "other-pass"}).status_code == 400
        assert requests.post(f"{hub.url}/v2/users/signup",
                             json={"username": "acme", "password": "other-pass"}).status_code == 409
        r = requests.get(f"{hub.url}/auth/token", params={"scope": "repository:dave/x:pull,push"},
                         auth=("dave", "dave-pass-1"))
        assert r.status_code == 200


def _index_view(hub: Hub, repo: str) -> dict[str, str]:
    """tag -> digest as the hub API (the index) tells it."""
    r = requests.get(f"{hub.url}/v2/repositories/{repo}/tags/", params={"page_size": 100},
                     auth=("boss", PASSWORDS["boss"]))
    assert r.status_code == 200, r.text
    return {t["name"]: t["digest"] for t in r.json()["results"]}


def _storage_view(hub: Hub, repo: str) -> dict[str, str]:
    """tag -> digest as the registry API (storage) tells it."""
    headers = hub.bearer("boss", repo, "pull")
    tags = requests.get(f"{hub.url}/v2/{repo}/tags/list", headers=headers).json()["tags"]
    return {t: requests.head(f"{hub.url}/v2/{repo}/manifests/{t}",
                             headers={**headers, "Accept": "application/vnd.oci.image.manifest.v1+json"}
                             ).headers["Docker-Content-Digest"] for t in tags}


def test_index_across_concurrent_pushes_restart_rebuild_and_gc(hub):
    repos = [f"alice/r{i}" for i in range(4)] + ["alice/shared"]

    def one(i: int) -> None:
        push_image(hub, "alice", f"alice/r{i % 4}", f"t{i}", f"content {i}".encode())
        push_image(hub, "alice", "alice/shared", "latest", f"racing {i}".encode())

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(one, range(20)))
    before = {repo: _index_view(hub, repo) for repo in repos}
    assert before == {repo: _storage_view(hub, repo) for repo in repos}
    assert sum(len(v) for v in before.values()) == 21

    hub.halt()
    hub.start()
    assert {repo: _index_view(hub, repo) for repo in repos} == before, "kept across a restart"

    hub.halt()
    with sqlite3.connect(hub.data / "hub.db") as conn:
        conn.execute("DELETE FROM tags")
        conn.execute("DELETE FROM repositories")
        conn.execute("DELETE FROM meta WHERE key = 'index_version'")
    hub.start()
    assert {repo: _index_view(hub, repo) for repo in repos} == before, "rebuilt from storage"

    r = requests.delete(f"{hub.url}/v2/alice/r0/manifests/{before['alice/r0']['t0']}",
                        headers=hub.bearer("alice", "alice/r0", "delete"))
    assert r.status_code == 202
    for tag in before["alice/r1"]:
        r = requests.delete(f"{hub.url}/v2/alice/r1/manifests/{tag}", headers=hub.bearer("alice", "alice/r1", "delete"))
        assert r.status_code == 202
    assert "t0" not in _index_view(hub, "alice/r0")
    assert _index_view(hub, "alice/r1") == {}
    gc = subprocess.run([sys.executable, "-m", "dockyard.entry", "registry", "gc", "--grace", "0", "--root",
                         str(hub.data)], capture_output=True, text=True, timeout=120)
    assert gc.returncode == 0, gc.stderr
    assert requests.get(f"{hub.url}/v2/repositories/alice/r1/", auth=("boss", PASSWORDS["boss"])).status_code == 404
    for repo in ("alice/r0", "alice/r2", "alice/r3", "alice/shared"):
        assert _index_view(hub, repo) == _storage_view(hub, repo)
    listed = requests.get(f"{hub.url}/v2/repositories/alice/", params={"ordering": "name"},
                          auth=("alice", PASSWORDS["alice"])).json()
    assert [r["name"] for r in listed["results"]] == ["r0", "r2", "r3", "shared"]


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Answers 500 to the first two POSTs, then 200; keeps every body."""

    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(500 if len(self.bodies) <= 2 else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        return


def test_webhook_on_push_retried_with_history(hub):
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        base, alice = hub.url, hub_login(hub, "alice")
        push_image(hub, "alice", "alice/hooked", "v1", b"before the hook")
        hooks = f"{base}/v2/repositories/alice/hooked/webhooks/"
        assert requests.post(hooks, headers=hub_login(hub, "bob"), json={"hook_url": "http://x/"}).status_code == 404
        assert requests.post(hooks, headers=alice, json={"hook_url": "file:///etc/passwd"}).status_code == 400
        r = requests.post(hooks, headers=alice,
                          json={"name": "ci", "hook_url": f"http://127.0.0.1:{receiver.server_port}/hook"})
        assert r.status_code == 201, r.text
        hook = r.json()["id"]
        dead = requests.post(hooks, headers=alice,
                             json={"name": "dead", "hook_url": f"http://127.0.0.1:{free_port()}/"})
        push_image(hub, "alice", "alice/hooked", "v2", b"after the hook")
        deadline = time.time() + 20
        while time.time() < deadline:
            seen = requests.get(f"{hooks}{hook}/", headers=alice).json()
            if seen["deliveries"] and seen["deliveries"][0]["state"] != "pending":
                break
            time.sleep(0.2)
        delivery = seen["deliveries"][0]
        assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("delivered", 3, 200), seen
        assert len(seen["deliveries"]) == 1, "one push, one delivery (v1 came before the hook)"
        assert len(_Receiver.bodies) == 3 and _Receiver.bodies[0] == _Receiver.bodies[2]
        body = _Receiver.bodies[-1]
        assert body["push_data"]["tag"] == "v2" and body["push_data"]["pusher"] == "alice"
        assert body["repository"]["repo_name"] == "alice/hooked" and body["repository"]["is_private"] is True
        failing = requests.get(f"{hooks}{dead.json()['id']}/", headers=alice).json()["deliveries"][0]
        assert failing["state"] == "pending" and failing["attempts"] >= 1 and failing["last_error"], failing
        assert requests.delete(f"{hooks}{dead.json()['id']}/", headers=alice).status_code == 204
        assert [h["name"] for h in requests.get(hooks, headers=alice).json()["results"]] == ["ci"]
        assert requests.delete(f"{base}/v2/repositories/alice/hooked/", headers=alice).status_code == 202
        push_image(hub, "alice", "alice/hooked", "v3", b"a new repository of the same name")
        assert requests.get(hooks, headers=alice).json()["results"] == [], "its webhooks went with it"
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_default_registry_setting(tmp_path):
    from dockyard.daemon.config import ConfigError, load
    from dockyard.distribution.endpoints import endpoints
    from dockyard.distribution.login import server_host
    config = tmp_path / "daemon.json"
    for bad in (5, "hub.example/library"):
        config.write_text(json.dumps({"default-registry": bad}))
        with pytest.raises(ConfigError, match="default-registry"):
            load(["--config-file", str(config)])
    config.write_text(json.dumps({"default-registry": "127.0.0.1:5000"}))
    raw = load(["--config-file", str(config)]).raw
    assert [(e.host, e.secure) for e in endpoints(server_host("https://index.docker.io/v1/"), raw)] == [
        ("127.0.0.1:5000", False)]
    assert [e.host for e in endpoints("docker.io", {})] == ["registry-1.docker.io"], "Docker Hub without it"
    assert [e.host for e in endpoints("quay.io", raw)] == ["quay.io"], "other registries stay themselves"


def test_collaborators(hub):
    push_image(hub, "alice", "alice/shared", "v1", b"shared with bob")
    alice, bob = hub_login(hub, "alice"), hub_login(hub, "bob")
    collaborators = f"{hub.url}/v2/repositories/alice/shared/collaborators/"

    def actions(user: str) -> list[str]:
        claims = hub.token(user, "repository:alice/shared:pull,push,delete").split(".")[1]
        return json.loads(base64.urlsafe_b64decode(claims + "=="))["access"][0]["actions"]

    assert actions("bob") == [] and requests.get(collaborators, headers=bob).status_code == 404
    r = requests.post(collaborators, headers=alice, json={"user": "bob", "permission": "read"})
    assert r.status_code == 200 and r.json()["results"] == [{"user": "bob", "permission": "read"}]
    assert actions("bob") == ["pull"]
    assert requests.get(f"{hub.url}/v2/repositories/alice/shared/", headers=bob).json()["collaborator_count"] == 1
    assert [r["name"] for r in requests.get(f"{hub.url}/v2/repositories/", headers=bob).json()["results"]] == [
        "shared"]
    requests.post(collaborators, headers=alice, json={"user": "bob", "permission": "write"})
    assert actions("bob") == ["pull", "push"]
    push_image(hub, "bob", "alice/shared", "v2", b"bob was here")
    assert requests.get(collaborators, headers=bob).status_code == 403, "only admins manage collaborators"
    assert requests.post(collaborators, headers=alice, json={"user": "nobody", "permission": "read"}).status_code == 404
    requests.post(collaborators, headers=alice, json={"user": "bob", "permission": "none"})
    assert actions("bob") == [] and requests.get(collaborators, headers=alice).json()["count"] == 0
