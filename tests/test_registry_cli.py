"""dockyard login/push/pull/search/logout against our registry with basic and token auth."""

from __future__ import annotations

import json

import pytest

from registry_fixtures import secured_registry


@pytest.fixture(params=["basic", "token"])
def secured(request, tmp_path):
    yield from secured_registry(tmp_path, "--auth", request.param)


def test_login_push_pull_search_logout(clean, secured):
    config = clean.base / "docker-config" / "config.json"
    name = f"{secured.host}/team/busybox:cli"
    assert clean.cli("tag", "busybox", name).returncode == 0
    denied = clean.cli("push", name, timeout=120)
    assert denied.returncode != 0
    bad = clean.cli("login", "-u", "carol", "--password-stdin", secured.host, input=b"nope\n")
    assert bad.returncode != 0
    ok = clean.cli("login", "-u", "carol", "--password-stdin", secured.host, input=b"pw\n")
    assert ok.returncode == 0 and b"Login Succeeded" in ok.stdout, ok.stderr
    assert secured.host in json.loads(config.read_text())["auths"]
    pushed = clean.cli("push", name, timeout=120)
    assert pushed.returncode == 0 and b"digest: sha256:" in pushed.stdout, pushed.stderr
    clean.cli("rmi", name)
    pulled = clean.cli("pull", "-q", name, timeout=120)
    assert pulled.returncode == 0 and pulled.stdout.strip().decode() == name, pulled.stderr
    found = clean.cli("search", f"{secured.host}/team")
    assert found.returncode == 0 and b"team/busybox" in found.stdout, found.stderr
    assert clean.cli("logout", secured.host).returncode == 0
    assert secured.host not in json.loads(config.read_text())["auths"]
    clean.cli("rmi", name)
