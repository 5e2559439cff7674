"""daemon.json `registry-mirrors` with a "host=reg" entry serves pulls of a registry that does not resolve."""

from __future__ import annotations

import json

from daemon_harness import destroy, new_daemon


def test_pull_of_unresolvable_registry_comes_from_mirror(clean, reg):
    source = f"{reg.host}/x/y:mirrored"
    assert clean.cli("tag", "busybox", source).returncode == 0
    try:
        pushed = clean.cli("push", source, timeout=120)
        assert pushed.returncode == 0, pushed.stderr
    finally:
        clean.cli("rmi", source)
    daemon = new_daemon()
    try:
        daemon.base.mkdir(parents=True, exist_ok=True)
        daemon.config_file().write_text(json.dumps({"registry-mirrors": [f"nowhere.invalid=http://{reg.host}"]}))
        daemon.start()
        pulled = daemon.cli("pull", "nowhere.invalid/x/y:mirrored", timeout=120)
        assert pulled.returncode == 0, (pulled.stdout, pulled.stderr)
        image = daemon.api("GET", "/images/nowhere.invalid/x/y:mirrored/json")
        assert image["RepoTags"] == ["nowhere.invalid/x/y:mirrored"]
        missing = daemon.cli("pull", "nowhere.invalid/x/y:absent", timeout=120)
        assert missing.returncode != 0 and b"nowhere.invalid" in missing.stderr, (missing.stdout, missing.stderr)
    finally:
        destroy(daemon)
