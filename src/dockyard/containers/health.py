"""Healthchecks as docker runs them (daemon/health.go), plus Dockyard's opt-in restart of unhealthy containers.

A container opts in to being restarted when it turns unhealthy with the restart policy `on-unhealthy`
(which otherwise behaves as `always`) or, keeping any other policy, the label
`dockyard.restart-on-unhealthy=true`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from dockyard.containers.record import ContainerRecord, ContainerState
from dockyard.errors import DockyardError, InvalidParameter
from dockyard.util.timeutil import now_rfc3339, parse_rfc3339

log = logging.getLogger(__name__)

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
UNHEALTHY_LABEL = "dockyard.restart-on-unhealthy"
UNHEALTHY_POLICY = "on-unhealthy"

Probe = Callable[[ContainerRecord, list[str], float], Awaitable[tuple[int, str]]]


def validate_healthcheck(check: Any) -> None:
    """Docker's create-time checks of Config.Healthcheck."""
    if check is None:
        return
    if not isinstance(check, dict):
        raise InvalidParameter("json: cannot unmarshal into Go struct field Config.Healthcheck "
                               "of type container.HealthConfig")
    test = check.get("Test")
    if test is not None and not (isinstance(test, list) and all(isinstance(t, str) for t in test)):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HealthConfig.Test of type []string")
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        value = check.get(key) or 0
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidParameter(f"json: cannot unmarshal into Go struct field HealthConfig.{key} "
                                   "of type time.Duration")
        if value != 0 and value < 1_000_000:
            raise InvalidParameter(f"{key} in Healthcheck cannot be less than 1ms")
    retries = check.get("Retries") or 0
    if not isinstance(retries, int) or isinstance(retries, bool):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HealthConfig.Retries of type int")
    if retries < 0:
        raise InvalidParameter("Retries in Healthcheck cannot be negative")


def probe_command(config: dict[str, Any]) -> list[str] | None:
    """The probe's argv from Config.Healthcheck.Test (CMD, CMD-SHELL), or None when there is no check."""
    test = (config.get("Healthcheck") or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD" and len(test) > 1:
        return list(test[1:])
    if test[0] == "CMD-SHELL" and len(test) > 1:
        shell = list(config.get("Shell") or ["/bin/sh", "-c"])
        return shell + [" ".join(test[1:])]
    log.warning("ignoring healthcheck with unknown test %r", test)
    return None


def restarts_when_unhealthy(doc: ContainerRecord) -> bool:
    """Whether the container opted in to being restarted when it turns unhealthy."""
    policy = (doc.host_config.get("RestartPolicy") or {}).get("Name")
    labels = doc.config.get("Labels") or {}
    return policy == UNHEALTHY_POLICY or labels.get(UNHEALTHY_LABEL, "").lower() in ("1", "true", "yes")


def go_duration(ns: int) -> str:
    """A duration as Go prints it for the common cases ("30s", "1.5s", "500ms")."""
    if ns % SECOND == 0:
        return f"{ns // SECOND}s"
    if ns >= SECOND:
        return f"{ns / SECOND:g}s"
    return f"{ns / 1_000_000:g}ms"


def _setting(check: dict[str, Any], key: str, default: int) -> int:
    """A duration or count of the healthcheck; 0 means the default."""
    return check.get(key) or default


class HealthMonitor:
    """Runs one probe loop per running container that has a healthcheck and keeps State.Health."""

    def __init__(self, save: Callable[[ContainerRecord], Awaitable[None]], publish: Callable[..., None],
                 probe: Probe, on_unhealthy: Callable[[ContainerRecord], Awaitable[None]]) -> None:
        self._save = save
        self._publish = publish
        self._probe = probe
        self._on_unhealthy = on_unhealthy
        self._tasks: dict[str, asyncio.Task] = {}

    def watch(self, doc: ContainerRecord) -> None:
        """The container (re)started: status `starting`, streak 0, and probe on schedule."""
        self.unwatch(doc.id)
        argv = probe_command(doc.config)
        if argv is None:
            return
        _health(doc.state).update(Status="starting", FailingStreak=0)
        self._tasks[doc.id] = asyncio.create_task(self._loop(doc, argv))

    def unwatch(self, container_id: str) -> None:
        """The container stopped (or is gone): no more probes."""
        task = self._tasks.pop(container_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def close(self) -> None:
        """Stop every probe loop (daemon shutdown)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _interval(self, doc: ContainerRecord, check: dict[str, Any]) -> float:
        """Docker's getInterval: the start interval while starting within the start period."""
        started = parse_rfc3339(doc.state.started_at)
        start_period = _setting(check, "StartPeriod", DEFAULT_START_PERIOD) / SECOND
        if time.time() - started < start_period and _health(doc.state)["Status"] == "starting":
            return _setting(check, "StartInterval", DEFAULT_START_INTERVAL) / SECOND
        return _setting(check, "Interval", DEFAULT_INTERVAL) / SECOND

    async def _loop(self, doc: ContainerRecord, argv: list[str]) -> None:
        check = doc.config["Healthcheck"]
        timeout_ns = _setting(check, "Timeout", DEFAULT_TIMEOUT)
        while True:
            await asyncio.sleep(self._interval(doc, check))
            begun = time.time()
            start = now_rfc3339()
            try:
                code, output = await self._probe(doc, argv, timeout_ns / SECOND)
            except asyncio.TimeoutError:
                code, output = -1, f"Health check exceeded timeout ({go_duration(timeout_ns)})"
            except (DockyardError, OSError) as failed:
                code, output = -1, str(failed)
            result = {"Start": start, "End": now_rfc3339(), "ExitCode": code, "Output": output[:MAX_OUTPUT]}
            became = self._record(doc, check, result, begun)
            await self._save(doc)
            if became is not None:
                self._publish(doc, f"health_status: {became}")
                if became == "unhealthy" and restarts_when_unhealthy(doc):
                    log.info("container %s is unhealthy: restarting it", doc.id[:12])
                    await self._on_unhealthy(doc)
                    return

    @staticmethod
    def _record(doc: ContainerRecord, check: dict[str, Any], result: dict[str, Any], begun: float) -> str | None:
        """Docker's handleProbeResult; returns the new status when it changed."""
        health = _health(doc.state)
        old = health["Status"]
        health["Log"] = (health.get("Log") or [])[-(MAX_LOG_ENTRIES - 1):] + [result]
        if result["ExitCode"] == 0:
            health.update(FailingStreak=0, Status="healthy")
        else:
            start_period = _setting(check, "StartPeriod", DEFAULT_START_PERIOD) / SECOND
            in_start_period = begun - parse_rfc3339(doc.state.started_at) < start_period
            if not (old == "starting" and in_start_period):
                health["FailingStreak"] += 1
                if health["FailingStreak"] >= _setting(check, "Retries", DEFAULT_RETRIES):
                    health["Status"] = "unhealthy"
        return health["Status"] if health["Status"] != old else None


def _health(state: ContainerState) -> dict[str, Any]:
    """State.Health (Status, FailingStreak, Log), made with an empty log for a container that has none yet."""
    if state.health is None:
        state.health = {"Log": []}
    return state.health
