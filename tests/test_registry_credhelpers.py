"""dockyard login/push/pull/logout through docker credential helpers (credsStore and credHelpers)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from registry_fixtures import secured_registry

HELPER = '''#!{python}
"""A fake docker-credential helper keeping credentials in a JSON file."""
import json, sys
from pathlib import Path
store = Path({store!r})
creds = json.loads(store.read_text()) if store.exists() else {{}}
data = sys.stdin.read()
action = sys.argv[1]
if action == "store":
    entry = json.loads(data)
    creds[entry["ServerURL"]] = entry
elif action == "get":
    if data.strip() not in creds:
        print("credentials not found in native keychain")
        sys.exit(1)
    json.dump(creds[data.strip()], sys.stdout)
elif action == "erase":
    creds.pop(data.strip(), None)
store.write_text(json.dumps(creds))
'''


@pytest.fixture
def secured(tmp_path):
    yield from secured_registry(tmp_path)


@pytest.fixture
def helper_store(clean, tmp_path, monkeypatch):
    """Install docker-credential-fake on PATH; restore the client config.json afterwards."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    store = tmp_path / "creds.json"
    script = bin_dir / "docker-credential-fake"
    script.write_text(HELPER.format(python=sys.executable, store=str(store)))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = clean.base / "docker-config" / "config.json"
    before = config.read_bytes() if config.exists() else None
    try:
        yield store, config
    finally:
        if before is None:
            config.unlink(missing_ok=True)
        else:
            config.write_bytes(before)


def _configure(config: Path, **fields: object) -> None:
    """Set top-level fields in the client config file."""
    config.parent.mkdir(parents=True, exist_ok=True)
    doc = json.loads(config.read_text()) if config.exists() else {}
    doc.update(fields)
    config.write_text(json.dumps(doc))


def test_creds_store_login_push_logout(clean, secured, helper_store):
    store, config = helper_store
    _configure(config, credsStore="fake")
    name = f"{secured.host}/helper/busybox:creds"
    assert clean.cli("tag", "busybox", name).returncode == 0
    try:
        ok = clean.cli("login", "-u", "carol", "--password-stdin", secured.host, input=b"pw\n")
        assert ok.returncode == 0 and b"Login Succeeded" in ok.stdout, ok.stderr
        assert json.loads(store.read_text())[secured.host] == {"ServerURL": secured.host, "Username": "carol",
                                                                "Secret": "pw"}
        assert json.loads(config.read_text())["auths"][secured.host] == {}
        pushed = clean.cli("push", name, timeout=120)
        assert pushed.returncode == 0, pushed.stderr
        assert clean.cli("logout", secured.host).returncode == 0
        assert secured.host not in json.loads(store.read_text())
        denied = clean.cli("push", name, timeout=120)
        assert denied.returncode != 0
    finally:
        clean.cli("rmi", name)


def test_cred_helpers_entry_wins_over_creds_store(clean, secured, helper_store):
    store, config = helper_store
    _configure(config, credsStore="absent-helper", credHelpers={secured.host: "fake"})
    name = f"{secured.host}/helper/busybox:pick"
    assert clean.cli("tag", "busybox", name).returncode == 0
    try:
        ok = clean.cli("login", "-u", "carol", "--password-stdin", secured.host, input=b"pw\n")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(store.read_text())[secured.host]["Username"] == "carol"
        assert clean.cli("push", name, timeout=120).returncode == 0
        clean.cli("rmi", name)
        pulled = clean.cli("pull", "-q", name, timeout=120)
        assert pulled.returncode == 0 and pulled.stdout.strip().decode() == name, pulled.stderr
        found = clean.cli("search", f"{secured.host}/helper")
        assert found.returncode == 0 and b"helper/busybox" in found.stdout, found.stderr
        other = clean.cli("pull", "-q", "127.0.0.2:1/none/x:y", timeout=60)
        assert b"docker-credential-absent-helper" in other.stderr, other.stderr
    finally:
        clean.cli("rmi", name)
