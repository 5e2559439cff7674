"""Log drivers as dockerd has them (issue 13, item 6): json-file by default, local, none; unknown drivers
and options refused at create in dockerd's words."""

from __future__ import annotations

import json

from daemon_harness import Daemon
from helpers import unique


def test_unknown_drivers_and_options_are_refused_at_create(clean: Daemon, need_docker_cli: None) -> None:
    result = clean.docker("run", "--rm", "--log-driver", "nosuch", "busybox", "true")
    assert result.returncode == 125 and b"logger: no log driver named 'nosuch' is registered" in result.stderr
    result = clean.docker("create", "--log-opt", "colour=red", "busybox", "true")
    assert result.returncode == 1 and b"unknown log opt 'colour' for json-file log driver" in result.stderr
    result = clean.docker("create", "--log-driver", "local", "--log-opt", "tag=x", "busybox", "true")
    assert result.returncode == 1 and b"unknown log opt 'tag' for local log driver" in result.stderr


def test_empty_or_null_driver_is_json_file(clean: Daemon) -> None:
    for log_config in ({"Type": "", "Config": {}}, None, {"Type": None}):
        cid = clean.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"],
                                                       "HostConfig": {"LogConfig": log_config}})["Id"]
        assert clean.api("GET", f"/containers/{cid}/json")["HostConfig"]["LogConfig"] == \
            {"Type": "json-file", "Config": {}}, log_config
        clean.api("DELETE", f"/containers/{cid}")


def test_local_driver_keeps_logs(clean: Daemon, need_docker_cli: None) -> None:
    name = unique("local-log")
    run = clean.docker("run", "--name", name, "--network", "none", "--log-driver", "local",
                       "--log-opt", "max-size=1m", "busybox", "echo", "kept")
    assert (run.returncode, run.stdout) == (0, b"kept\n"), run.stderr
    assert clean.docker("logs", name).stdout == b"kept\n"
    log_config = json.loads(clean.docker("inspect", name).stdout)[0]["HostConfig"]["LogConfig"]
    assert log_config == {"Type": "local", "Config": {"max-size": "1m"}}
    clean.docker("rm", name)


def test_none_driver_keeps_nothing_but_attach_still_shows_output(clean: Daemon, need_docker_cli: None) -> None:
    name = unique("no-log")
    run = clean.docker("run", "--name", name, "--network", "none", "--log-driver", "none", "busybox",
                       "sh", "-c", "sleep 0.5; echo shown; echo also >&2")
    assert run.returncode == 0 and run.stdout == b"shown\n" and run.stderr == b"also\n", run
    logs = clean.docker("logs", name)
    assert logs.returncode == 1 and b"configured logging driver does not support reading" in logs.stderr
    status, _ = clean.request("GET", f"/containers/{name}/logs?stdout=1")
    assert status == 501
    cid = json.loads(clean.docker("inspect", name).stdout)[0]["Id"]
    assert (clean.data_root / "containers" / cid / f"{cid}-json.log").stat().st_size == 0
    clean.docker("rm", name)
