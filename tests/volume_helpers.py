"""Helpers shared by the volume tests: the volumes of a daemon and cleanup of those a test made."""

from __future__ import annotations


PREFIX = "dytv"
ANONYMOUS_LABEL = "com.docker.volume.anonymous"


def volumes(daemon) -> dict[str, dict]:
    """Every volume of the daemon by name."""
    return {v["Name"]: v for v in daemon.api("GET", "/volumes")["Volumes"]}


def remove_test_volumes(daemon) -> None:
    """Remove the containers, then every named test volume and every anonymous volume."""
    daemon.remove_all_containers()
    for name, volume in volumes(daemon).items():
        if name.startswith(PREFIX) or ANONYMOUS_LABEL in (volume["Labels"] or {}):
            status, body = daemon.request("DELETE", f"/volumes/{name}")
            assert status == 204, (name, status, body)
