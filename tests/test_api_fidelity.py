"""Requests answered as dockerd answers them (issue 13, item 6), through the API and the real clients."""

from __future__ import annotations

import json

import pytest

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


def test_load_of_a_bad_archive_reports_the_error_in_the_stream(clean: Daemon, need_docker_cli: None) -> None:
    """dockerd answers POST /images/load with 200 and puts what is wrong with the archive in the JSON stream
    (`error`, `errorDetail`); the docker CLI prints it and exits 1."""
    status, raw = clean.request("POST", "/images/load", b"this is no tar archive" * 40,
                                headers={"Content-Type": "application/x-tar"})
    assert status == 200, (status, raw)
    last = json.loads(raw.splitlines()[-1])
    assert last["error"] and last["errorDetail"] == {"message": last["error"]}, raw
    result = clean.docker("load", input=b"this is no tar archive" * 40)
    assert result.returncode == 1 and last["error"] in result.stderr.decode(), result.stderr


def test_attach_to_a_stopped_container_replays_its_log(sdk, clean: Daemon) -> None:  # type: ignore[no-untyped-def]
    """dockerd attaches to a stopped container (the CLI is the one that refuses): logs=1 replays the log and
    the stream ends; a paused container is refused with dockerd's words."""
    docker = pytest.importorskip("docker")
    stopped = sdk.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2"], detach=True, network_mode="none")
    try:
        assert stopped.wait()["StatusCode"] == 0
        # read on the raw socket: docker-py loses what arrives together with the 101 head (with dockerd too)
        sock, head = clean.hijack(f"/containers/{stopped.id}/attach?logs=1&stream=1&stdout=1&stderr=1")
        with sock:
            assert head.startswith(b"HTTP/1.1 101 ")
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        assert received == b"\x01\0\0\0\0\0\0\x04one\n\x02\0\0\0\0\0\0\x04two\n"  # then the stream ends
        assert stopped.attach(logs=False, stream=False) == b""
    finally:
        stopped.remove(force=True)
    paused = sdk.containers.run("busybox", ["sleep", "30"], detach=True, network_mode="none")
    try:
        paused.pause()
        with pytest.raises(docker.errors.APIError) as refused:
            paused.attach(logs=True, stream=False)
        assert refused.value.status_code == 409 and "is paused, unpause the container before attach" in str(refused.value)
    finally:
        paused.remove(force=True)


def test_runtime_and_realtime_fields_are_shown(clean: Daemon) -> None:
    """HostConfig.Runtime names the runtime (the default's name when none was asked, as dockerd records
    "runc"); CpuRealtimePeriod and CpuRealtimeRuntime are always in inspect; an unknown runtime is refused."""
    cid = clean.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})["Id"]
    host = clean.api("GET", f"/containers/{cid}/json")["HostConfig"]
    assert (host["Runtime"], host["CpuRealtimePeriod"], host["CpuRealtimeRuntime"]) == ("dockyard", 0, 0)
    assert clean.api("GET", "/info")["DefaultRuntime"] == "dockyard"
    clean.api("POST", f"/containers/{cid}/start")
    assert clean.api("POST", f"/containers/{cid}/wait")["StatusCode"] == 0
    clean.api("DELETE", f"/containers/{cid}")
    status, raw = clean.request("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Runtime": "nosuch"}})
    assert status == 400 and b"unknown or invalid runtime name: nosuch" in raw
