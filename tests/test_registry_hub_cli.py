"""The hub with the real docker CLI through our daemon: login by password and by token, namespaces, teams,
private repositories, docker search, and a daemon whose default registry is the hub."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from daemon_harness import destroy, new_daemon
from dockerd_harness import private_dockerd
from hub_fixtures import PASSWORDS, hub_registry, registry_cli

pytestmark = pytest.mark.usefixtures("need_docker_cli")
DENIED_PULL = ("pull access denied for {}, repository does not exist or may require 'docker login': "
               "denied: requested access to the resource is denied")


@pytest.fixture
def hub():
    yield from hub_registry()


class Docker:
    """The docker CLI against a daemon with a docker config of the test's own."""

    def __init__(self, daemon, config: Path) -> None:
        self.daemon = daemon
        self.env = {**daemon.env(), "DOCKER_CONFIG": str(config)}

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], env=self.env, input=stdin, capture_output=True, text=True,
                              timeout=180)

    def login(self, host: str, user: str, secret: str) -> subprocess.CompletedProcess:
        return self("login", "-u", user, "--password-stdin", host, stdin=secret + "\n")


def test_login_push_namespaces_teams_private_and_search(clean, hub, tmp_path):
    docker = Docker(clean, tmp_path / "docker-config")
    host = hub.host
    mine, theirs, org = f"{host}/alice/busybox:1", f"{host}/bob/busybox:1", f"{host}/acme/app:1"
    made = [mine, theirs, org, f"{host}/acme/app:2", f"{host}/library/busybox:latest"]
    try:
        for name in made:
            assert docker("tag", "busybox", name).returncode == 0
        bad = docker.login(host, "alice", "wrong-password")
        assert bad.returncode != 0
        ok = docker.login(host, "alice", PASSWORDS["alice"])
        assert ok.returncode == 0 and "Login Succeeded" in ok.stdout, ok.stderr
        pushed = docker("push", mine)
        assert pushed.returncode == 0 and "digest: sha256:" in pushed.stdout, pushed.stderr
        refused = docker("push", theirs)
        assert refused.returncode != 0
        assert "denied: requested access to the resource is denied" in refused.stderr, refused.stderr
        assert docker("push", org).returncode == 0, "an organisation's owner pushes to it"
        assert docker("logout", host).returncode == 0

        docker("rmi", mine)
        anonymous = docker("pull", mine)
        assert anonymous.returncode != 0, "alice/busybox is private (the default)"
        assert DENIED_PULL.format(f"{host}/alice/busybox") in anonymous.stderr, anonymous.stderr

        token = registry_cli(hub.data, "token", "create", "carol", "--label", "laptop", "--scope", "repo:write")
        token = token.strip()
        assert token.startswith("dyh_pat_")
        assert docker.login(host, "carol", token + "x").returncode != 0
        ok = docker.login(host, "carol", token)
        assert ok.returncode == 0 and "Login Succeeded" in ok.stdout, ok.stderr
        docker("rmi", org)
        pulled = docker("pull", org)
        assert pulled.returncode == 0, ("carol's team reads acme/app", pulled.stderr)
        refused = docker("push", f"{host}/acme/app:2")
        assert refused.returncode != 0 and "denied" in refused.stderr, refused.stderr
        assert docker("pull", mine).returncode != 0, "carol is no member of alice's repositories"
        token_id = registry_cli(hub.data, "token", "ls", "carol").splitlines()[1].split()[0]
        registry_cli(hub.data, "token", "revoke", "carol", token_id)
        docker("rmi", org)
        assert docker("pull", org).returncode != 0, "a revoked token no longer works"
        assert docker("logout", host).returncode == 0

        assert docker.login(host, "boss", PASSWORDS["boss"]).returncode == 0
        assert docker("push", f"{host}/library/busybox:latest").returncode == 0, "admins own library/"
        login = requests.post(f"{hub.url}/v2/users/login", json={"username": "alice", "password": PASSWORDS["alice"]})
        jwt = {"Authorization": "Bearer " + login.json()["token"]}
        r = requests.patch(f"{hub.url}/v2/repositories/alice/busybox/", headers=jwt,
                           json={"is_private": False, "description": "Busybox, the Swiss army knife"})
        assert r.status_code == 200 and r.json()["is_private"] is False, r.text
        images = requests.get(f"{hub.url}/v2/repositories/alice/busybox/tags/1/images/", headers=jwt).json()
        assert len(images) == 1 and images[0]["os"] == "linux" and images[0]["config"]["cmd"] == ["sh"]
        assert [layer["instruction"] for layer in images[0]["layers"]] == ["ADD file:busybox-static in /"]
        assert images[0]["size"] == images[0]["layers"][0]["size"] > 0
        assert [h["empty_layer"] for h in images[0]["history"]] == [False, True]
        bob = {"Authorization": "Bearer " + requests.post(
            f"{hub.url}/v2/users/login", json={"username": "bob", "password": PASSWORDS["bob"]}).json()["token"]}
        assert requests.post(f"{hub.url}/v2/repositories/alice/busybox/stars/", headers=bob).status_code == 204
        found = docker("search", f"{host}/busybox")
        assert found.returncode == 0, found.stderr
        lines = found.stdout.splitlines()
        assert lines[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], lines
        rows = {line.split()[0]: line for line in lines[1:]}
        assert set(rows) == {"busybox", "alice/busybox"}, "acme/app is private: not shown to anonymous"
        assert rows["busybox"].split()[-1] == "[OK]" and rows["busybox"].split()[-2] == "0"
        assert "Busybox, the Swiss army knife" in rows["alice/busybox"]
        assert rows["alice/busybox"].split()[-1] == "1", rows["alice/busybox"]
        docker("logout", host)
        docker("rmi", mine)
        assert docker("pull", mine).returncode == 0, "public now: anonymous pulls work"
    finally:
        for name in made:
            docker("rmi", name)


def test_default_registry_is_the_hub(clean, hub, tmp_path):
    docker = Docker(clean, tmp_path / "docker-config")
    official = f"{hub.host}/library/alpine:latest"
    assert docker("tag", "busybox", official).returncode == 0
    try:
        assert docker.login(hub.host, "boss", PASSWORDS["boss"]).returncode == 0
        assert docker("push", official).returncode == 0
        registry_cli(hub.data, "repo", "set", "library/alpine", "--description", "alpine, as busybox")
    finally:
        docker("rmi", official)
    daemon = new_daemon()
    try:
        daemon.base.mkdir(parents=True, exist_ok=True)
        daemon.config_file().write_text(json.dumps({"default-registry": hub.host}))
        daemon.start()
        own = Docker(daemon, tmp_path / "other-config")
        pulled = own("pull", "alpine")
        assert pulled.returncode == 0, (pulled.stdout, pulled.stderr)
        assert "docker.io/library/alpine:latest" in pulled.stdout
        assert own("image", "inspect", "alpine:latest").returncode == 0
        ran = own("run", "--rm", "alpine", "echo", "from the hub")
        assert ran.stdout == "from the hub\n", ran.stderr
        found = own("search", "alpine")
        assert found.returncode == 0 and "alpine, as busybox" in found.stdout, (found.stdout, found.stderr)
        assert own("tag", "alpine", "alice/mine:1").returncode == 0
        assert own("push", "alice/mine:1").returncode != 0, "not logged in"
        ok = own("login", "-u", "alice", "--password-stdin", stdin=PASSWORDS["alice"] + "\n")
        assert ok.returncode == 0 and "Login Succeeded" in ok.stdout, ok.stderr
        pushed = own("push", "alice/mine:1")
        assert pushed.returncode == 0 and "digest: sha256:" in pushed.stdout, pushed.stderr
        mine = requests.get(f"{hub.url}/v2/repositories/alice/mine/tags/1/", auth=("alice", PASSWORDS["alice"]))
        assert mine.status_code == 200 and mine.json()["last_updater_username"] == "alice", mine.text
        audit = requests.get(f"{hub.url}/v2/auditlogs/library/", auth=("boss", PASSWORDS["boss"])).json()
        pulls = [e for e in audit["logs"] if e["action"] == "repo.pull" and e["name"] == "library/alpine"]
        assert pulls and pulls[0]["actor"] == "anonymous", audit
        repo = requests.get(f"{hub.url}/v2/repositories/library/alpine/").json()
        assert repo["pull_count"] == len(pulls) and repo["is_private"] is False, repo
    finally:
        destroy(daemon)


def test_debian_dockerd_against_the_hub(hub, tmp_path):
    """The reference engine's own registry client: token flow, denied push, private pull."""
    with private_dockerd() as env:
        def docker(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
            return subprocess.run(["docker", *args], env=env, input=stdin, capture_output=True, text=True,
                                  timeout=180)
        archive = tmp_path / "bb.tar"
        subprocess.run([sys.executable, "-m", "dockyard.tools.busybox_image", "--output", str(archive)], check=True,
                       capture_output=True)
        assert docker("load", "-i", str(archive)).returncode == 0
        mine, theirs = f"{hub.host}/alice/dockerd:1", f"{hub.host}/bob/dockerd:1"
        for name in (mine, theirs):
            docker("tag", "busybox:latest", name)
        ok = docker("login", "-u", "alice", "--password-stdin", hub.host, stdin=PASSWORDS["alice"] + "\n")
        assert ok.returncode == 0 and "Login Succeeded" in ok.stdout, ok.stderr
        pushed = docker("push", mine)
        assert pushed.returncode == 0 and "digest: sha256:" in pushed.stdout, pushed.stderr
        refused = docker("push", theirs)
        assert refused.returncode != 0
        assert "denied: requested access to the resource is denied" in refused.stdout + refused.stderr, refused
        docker("logout", hub.host)
        docker("rmi", mine)
        anonymous = docker("pull", mine)
        assert anonymous.returncode != 0, "private"
        assert DENIED_PULL.format(f"{hub.host}/alice/dockerd") in anonymous.stderr, anonymous.stderr
        token = registry_cli(hub.data, "token", "create", "alice", "--scope", "repo:read").strip()
        assert docker("login", "-u", "alice", "--password-stdin", hub.host, stdin=token + "\n").returncode == 0
        assert docker("pull", mine).returncode == 0, "a read token pulls"
        refused = docker("push", f"{hub.host}/alice/dockerd:1")
        assert refused.returncode != 0 and "denied" in refused.stdout + refused.stderr, "but does not push"
