"""run/create flags for restart policies, healthchecks, --init and --runtime, turned into the create body."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError
from dockyard.cli.flags import Flag

SELF_HEALING_FLAGS = [
    Flag("restart", "", "string", help="Restart policy to apply when a container exits (default \"no\")"),
    Flag("health-cmd", "", "string", help="Command to run to check health"),
    Flag("health-interval", "", "string", help="Time between running the check (ms|s|m|h) (default 0s)"),
    Flag("health-timeout", "", "string", help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
    Flag("health-start-period", "", "string",
         help="Start period for the container to initialize before starting health-retries countdown "
              "(ms|s|m|h) (default 0s)"),
    Flag("health-start-interval", "", "string",
         help="Time between running the check during the start period (ms|s|m|h) (default 0s)"),
    Flag("health-retries", "", "int", help="Consecutive failures needed to report unhealthy"),
    Flag("no-healthcheck", "", help="Disable any container-specified HEALTHCHECK"),
    Flag("init", "", help="Run an init inside the container that forwards signals and reaps processes"),
    Flag("runtime", "", "string", help="Runtime to use for this container"),
]
_DURATIONS = (("health_interval", "Interval"), ("health_timeout", "Timeout"),
              ("health_start_period", "StartPeriod"), ("health_start_interval", "StartInterval"))


def restart_policy(text: str) -> dict[str, Any]:
    """docker's ParseRestartPolicy: "name[:max-retries]"."""
    name, sep, count = text.partition(":")
    if not sep:
        return {"Name": name, "MaximumRetryCount": 0}
    if not count.isdigit():
        raise CommandError("invalid restart policy format: maximum retry count must be an integer", 125)
    return {"Name": name, "MaximumRetryCount": int(count)}


def _nanoseconds(flag: str, text: str) -> int:
    """A Go duration flag in nanoseconds; docker's errors."""
    from dockyard.util.humanize import parse_duration
    try:
        seconds = parse_duration(text)
    except ValueError as bad:
        raise CommandError(f'invalid argument "{text}" for "--{flag}" flag: {bad}', 125) from None
    if seconds < 0:
        raise CommandError(f"--{flag} cannot be negative", 125)
    return int(round(seconds * 1e9))


def healthcheck(o: dict[str, Any]) -> dict[str, Any] | None:
    """Config.Healthcheck from the --health-* flags (None when none is given)."""
    check: dict[str, Any] = {}
    for dest, key in _DURATIONS:
        if o.get(dest):
            check[key] = _nanoseconds(dest.replace("_", "-"), o[dest])
    if o.get("health_retries") is not None:
        check["Retries"] = o["health_retries"]
    if o.get("no_healthcheck"):
        if check or o.get("health_cmd"):
            raise CommandError("--no-healthcheck conflicts with --health-* options", 125)
        return {"Test": ["NONE"]}
    if o.get("health_cmd"):
        check["Test"] = ["CMD-SHELL", o["health_cmd"]]
    return check or None


def apply_self_healing(o: dict[str, Any], config: dict[str, Any]) -> None:
    """Put the restart policy, healthcheck, init and runtime flags into a create body."""
    host = config["HostConfig"]
    if o.get("restart"):
        host["RestartPolicy"] = restart_policy(o["restart"])
    check = healthcheck(o)
    if check is not None:
        config["Healthcheck"] = check
    if o.get("init"):
        host["Init"] = True
    if o.get("runtime"):
        host["Runtime"] = o["runtime"]
