"""Requests answered as dockerd answers them (issue 13, item 6), through the API and the real clients."""

from __future__ import annotations

from daemon_harness import Daemon


def test_json_fields_match_case_insensitively_as_in_go(clean: Daemon) -> None:
    """A client that sends `image`, `cmd`, `hostconfig` gets what `Image`, `Cmd`, `HostConfig` would give."""
    cid = clean.api("POST", "/containers/create", {"image": "busybox", "cmd": ["echo", "lower"],
                                                   "labels": {"Keep": "Case"},
                                                   "hostconfig": {"networkmode": "none", "memory": 64 << 20}})["Id"]
    doc = clean.api("GET", f"/containers/{cid}/json")
    assert doc["Config"]["Cmd"] == ["echo", "lower"] and doc["Config"]["Labels"]["Keep"] == "Case"
    assert doc["HostConfig"]["NetworkMode"] == "none" and doc["HostConfig"]["Memory"] == 64 << 20
    clean.api("DELETE", f"/containers/{cid}")
