"""Helpers shared by the volume tests: checked CLI output and cleanup of the volumes a test made."""

from __future__ import annotations

import json
import subprocess

PREFIX = "dytv"
ANONYMOUS_LABEL = "com.docker.volume.anonymous"


def out(result: subprocess.CompletedProcess) -> str:
    """stdout of a command that must succeed."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout.decode()


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


def mounts_under(path: str) -> list[str]:
    """Mount points at or below `path` in the host's mount table."""
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(path)]


def inspect(daemon, ref: str) -> dict:
    return json.loads(out(daemon.docker("inspect", ref)))[0]
