"""`service` commands: create, ls, ps, inspect, logs, scale, update, rollback, rm — docker's flags (a common
subset), columns and exit codes; create/update/scale/rollback without `-d` wait for convergence as docker does."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any, Callable

import sys
import time

from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag
from dockyard.cli.swarmobjects import remove_each
from dockyard.client.transport import quote

NANO = 1_000_000_000
MODES = {"Global": "global", "ReplicatedJob": "replicated job", "GlobalJob": "global job"}
STABLE_FOR = 5.0
POLL = 0.2
SERVICE_HEADERS = {"ID": "ID", "Name": "NAME", "Mode": "MODE", "Replicas": "REPLICAS", "Image": "IMAGE",
                   "Ports": "PORTS"}
SERVICE_DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}"
TASK_HEADERS = {"ID": "ID", "Name": "NAME", "Image": "IMAGE", "Node": "NODE", "DesiredState": "DESIRED STATE",
                "CurrentState": "CURRENT STATE", "Error": "ERROR", "Ports": "PORTS"}
TASK_DEFAULT = ("table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t"
                "{{.Error}}\t{{.Ports}}")


def _image(spec: dict[str, Any]) -> str:
    """The image without a pinned digest, as `service ls` shows it."""
    return (spec["TaskTemplate"].get("ContainerSpec") or {}).get("Image", "").split("@")[0]


def _ports(service: dict[str, Any]) -> str:
    """`*:8080->80/tcp` for each published port."""
    ports = (service["Spec"].get("EndpointSpec") or {}).get("Ports") or []
    return ", ".join(f"*:{p.get('PublishedPort', 0)}->{p['TargetPort']}/{p.get('Protocol', 'tcp')}" for p in ports)


class ServiceContext:
    """One `service ls` row."""

    go_type = "*formatter.serviceContext"

    def __init__(self, service: dict[str, Any]) -> None:
        self._s = service

    def ID(self) -> str:
        return self._s["ID"][:12]

    def Name(self) -> str:
        return self._s["Spec"]["Name"]

    def Mode(self) -> str:
        mode = self._s["Spec"].get("Mode", {})
        return next((text for key, text in MODES.items() if key in mode), "replicated")

    def Replicas(self) -> str:
        status = self._s.get("ServiceStatus") or {}
        running, desired, done = (status.get(k, 0) for k in ("RunningTasks", "DesiredTasks", "CompletedTasks"))
        text = f"{running}/{desired}"
        mode = self._s["Spec"].get("Mode", {})
        if "ReplicatedJob" in mode:
            return f"{text} ({done}/{mode['ReplicatedJob'].get('TotalCompletions', 0)} completed)"
        if "GlobalJob" in mode:
            return f"{text} ({done}/{desired + done} completed)"
        limit = (self._s["Spec"]["TaskTemplate"].get("Placement") or {}).get("MaxReplicas")
        return f"{text} (max {limit} per node)" if limit else text

    def Image(self) -> str:
        return _image(self._s["Spec"])

    def Ports(self) -> str:
        return _ports(self._s)

    def to_json(self) -> dict[str, Any]:
        """docker service ls --format json."""
        return {k: getattr(self, k)() for k in ("ID", "Image", "Mode", "Name", "Ports", "Replicas")}


class TaskContext:
    """One `service ps` row."""

    go_type = "*formatter.taskContext"

    def __init__(self, task: dict[str, Any], name: str, node: str, trunc: bool) -> None:
        self._t, self._name, self._node, self._trunc = task, name, node, trunc

    def ID(self) -> str:
        return self._t["ID"][:12] if self._trunc else self._t["ID"]

    def Name(self) -> str:
        return self._name

    def Image(self) -> str:
        return (self._t["Spec"].get("ContainerSpec") or {}).get("Image", "").split("@")[0]

    def Node(self) -> str:
        return self._node

    def DesiredState(self) -> str:
        return self._t["DesiredState"].capitalize()

    def CurrentState(self) -> str:
        from dockyard.cli.formatters import since
        from dockyard.util.timeutil import parse_rfc3339
        status = self._t["Status"]
        return f"{status['State'].capitalize()} {since(parse_rfc3339(status['Timestamp']))}"

    def Error(self) -> str:
        err = self._t["Status"].get("Err", "")
        if self._trunc and len(err) > 29:
            err = err[:29] + "…"
        return f'"{err}"' if err else ""

    def Ports(self) -> str:
        ports = (self._t["Status"].get("PortStatus") or {}).get("Ports") or []
        return ",".join(f"*:{p.get('PublishedPort', 0)}->{p['TargetPort']}/{p['Protocol']}" for p in ports)

    def to_json(self) -> dict[str, Any]:
        """docker service ps --format json."""
        keys = ("CurrentState", "DesiredState", "Error", "ID", "Image", "Name", "Node", "Ports")
        return {k: getattr(self, k)() for k in keys}


def _duration(text: str | None) -> int | None:
    """A Go duration flag in nanoseconds."""
    from dockyard.util.humanize import parse_duration
    if not text:
        return None
    try:
        return int(parse_duration(text) * NANO)
    except ValueError as exc:
        raise CommandError(f"invalid argument {text!r}: {exc}") from None


def _pairs(items: list[str]) -> dict[str, str]:
    """key=value flags as a map."""
    return dict(item.partition("=")[::2] for item in items)


def _port(text: str) -> dict[str, Any]:
    """--publish published:target[/proto] or the long form mode=host,target=80,published=8080."""
    if "=" in text:
        fields = _pairs(text.split(","))
        port: dict[str, Any] = {"Protocol": fields.get("protocol", "tcp"), "TargetPort": int(fields["target"]),
                                "PublishMode": fields.get("mode", "ingress")}
        if fields.get("published"):
            port["PublishedPort"] = int(fields["published"])
        return port
    ports, _, proto = text.partition("/")
    published, _, target = ports.rpartition(":")
    port = {"Protocol": proto or "tcp", "TargetPort": int(target), "PublishMode": "ingress"}
    if published:
        port["PublishedPort"] = int(published)
    return port


def _spec_from_flags(o: dict[str, Any], args: list[str]) -> dict[str, Any]:
    """A ServiceSpec as the docker CLI builds it for `service create`."""
    container: dict[str, Any] = {"Image": args[0], "Labels": _pairs(o["container_label"])}
    if len(args) > 1:
        container["Args"] = args[1:]
    for flag, key in (("env", "Env"),):
        if o[flag]:
            container[key] = list(o[flag])
    for flag, key in (("workdir", "Dir"), ("user", "User"), ("hostname", "Hostname")):
        if o[flag]:
            container[key] = o[flag]
    if o["stop_grace_period"]:
        container["StopGracePeriod"] = _duration(o["stop_grace_period"])
    restart: dict[str, Any] = {"Condition": o["restart_condition"] or "any"}
    if o["restart_delay"]:
        restart["Delay"] = _duration(o["restart_delay"])
    if o["restart_max_attempts"] is not None:
        restart["MaxAttempts"] = o["restart_max_attempts"]
    template: dict[str, Any] = {"ContainerSpec": container, "RestartPolicy": restart,
                                "Placement": {"Constraints": o["constraint"]} if o["constraint"] else {},
                                "ForceUpdate": 0}
    mode = _mode(o)
    update = {"Parallelism": 1 if o["update_parallelism"] is None else o["update_parallelism"],
              "FailureAction": o["update_failure_action"] or "pause", "Order": o["update_order"] or "stop-first",
              "MaxFailureRatio": 0}
    if o["update_delay"]:
        update["Delay"] = _duration(o["update_delay"])
    endpoint: dict[str, Any] = {"Mode": "vip"}
    if o["publish"]:
        endpoint["Ports"] = [_port(p) for p in o["publish"]]
    spec = {"Name": o["name"] or "", "Labels": _pairs(o["label"]), "TaskTemplate": template, "Mode": mode,
            "UpdateConfig": update, "EndpointSpec": endpoint}
    if "ReplicatedJob" in mode or "GlobalJob" in mode:
        if any(o[flag] is not None and o[flag] != "" for flag in
               ("update_parallelism", "update_failure_action", "update_order", "update_delay")):
            raise CommandError("update and rollback configuration is not supported for jobs")
        del spec["UpdateConfig"]
    return spec


def _mode(o: dict[str, Any]) -> dict[str, Any]:
    """--mode, --replicas and --max-concurrent as the docker CLI turns them into a ServiceMode."""
    replicas, concurrent, name = o["replicas"], o["max_concurrent"], o["mode"] or "replicated"
    if name in ("global", "global-job") and replicas is not None:
        raise CommandError("replicas can only be used with replicated or replicated-job mode")
    if name != "replicated-job" and concurrent is not None:
        raise CommandError("max-concurrent can only be used with replicated-job mode")
    if name == "global":
        return {"Global": {}}
    if name == "global-job":
        return {"GlobalJob": {}}
    if name == "replicated":
        return {"Replicated": {"Replicas": 1 if replicas is None else replicas}}
    if name == "replicated-job":
        job = {"MaxConcurrent": replicas if concurrent is None else concurrent, "TotalCompletions": replicas}
        return {"ReplicatedJob": {k: v for k, v in job.items() if v is not None}}
    raise CommandError(f"unknown mode: {name}, only replicated and global supported")


def _wait_job(ctx: Context, service: dict[str, Any]) -> None:
    """docker's progress wait for a job: every task of the current iteration complete (a replicated job:
    TotalCompletions of them), then "job complete"."""
    import json
    iteration = service["JobStatus"].get("JobIteration")
    while True:
        tasks = [t for t in ctx.api.get("/tasks", {"filters": json.dumps({"service": [service["ID"]],
                                                                          "_up-to-date": ["true"]})})
                 if t.get("JobIteration") == iteration]
        done = sum(1 for t in tasks if t["Status"]["State"] == "complete")
        job = service["Spec"]["Mode"].get("ReplicatedJob")
        wanted = job.get("TotalCompletions", 0) if job is not None else len({t.get("NodeID") for t in tasks})
        if tasks and done >= wanted:
            ctx.out("job complete\n")
            return
        time.sleep(POLL)


def _wait_converged(ctx: Context, service_id: str) -> None:
    """docker's progress wait: every wanted task up to date and running, then stable for 5 s (a job: until it
    completes)."""
    import json
    stable_since: float | None = None
    while True:
        service = ctx.api.get(f"/services/{quote(service_id)}")
        if service.get("JobStatus"):
            _wait_job(ctx, service)
            return
        tasks = ctx.api.get("/tasks", {"filters": json.dumps({"service": [service_id], "_up-to-date": ["true"],
                                                              "desired-state": ["running"]})})
        replicated = service["Spec"].get("Mode", {}).get("Replicated")
        wanted = replicated.get("Replicas", 1) if replicated is not None else len(tasks)
        running = sum(1 for t in tasks if t["Status"]["State"] == "running")
        state = (service.get("UpdateStatus") or {}).get("State", "")
        if state in ("paused", "rollback_paused"):
            raise CommandError(f"service update paused: {service['UpdateStatus'].get('Message', '')}")
        if running >= wanted and state in ("", "completed", "rollback_completed"):
            stable_since = stable_since or time.monotonic()
            left = STABLE_FOR - (time.monotonic() - stable_since)
            if left <= 0:
                ctx.out(f"overall progress: {running} out of {wanted} tasks\nverify: Service {service_id} converged\n")
                return
        else:
            stable_since = None
        time.sleep(POLL)


def _create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker service create [OPTIONS] IMAGE [COMMAND] [ARG...]."""
    created = ctx.api.post("/services/create", None, _spec_from_flags(o, args))
    for warning in created.get("Warnings") or []:
        ctx.err(warning + "\n")
    ctx.out(created["ID"] + "\n")
    if not o["detach"] and not o["quiet"]:
        _wait_converged(ctx, created["ID"])
    return 0


def _ls(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker service ls."""
    from dockyard.cli.formatters import filters_json
    from dockyard.cli.output import render
    found = ctx.api.get("/services", {"filters": filters_json(o["filter"]), "status": "true"}) or []
    rows = [ServiceContext(s) for s in sorted(found, key=lambda s: s["Spec"]["Name"])]
    ctx.out(render("{{.ID}}" if o["quiet"] else o["format"] or "", rows, SERVICE_HEADERS, SERVICE_DEFAULT))
    return 0


def _ps(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker service ps SERVICE...: the newest task of each slot first, its history indented under it."""
    import json
    from dockyard.cli.output import render
    nodes = {n["ID"]: n["Description"].get("Hostname", "") for n in ctx.api.get("/nodes")}
    rows: list[Any] = []
    for ref in args:
        service = ctx.api.get(f"/services/{quote(ref)}")
        filters = json.dumps({"service": [service["ID"]], **_pairs_to_filters(o["filter"])})
        tasks = sorted(ctx.api.get("/tasks", {"filters": filters}),
                       key=lambda t: (t.get("Slot") or t.get("NodeID", ""), t["CreatedAt"]), reverse=False)
        by_slot: dict[Any, list[dict[str, Any]]] = {}
        for task in tasks:
            by_slot.setdefault(task.get("Slot") or task.get("NodeID", ""), []).append(task)
        for slot, history in sorted(by_slot.items(), key=lambda item: str(item[0]).zfill(30)):
            for index, task in enumerate(reversed(history)):
                name = f"{service['Spec']['Name']}.{slot}"
                shown = name if index == 0 else f" \\_ {name}"
                rows.append(TaskContext(task, shown, nodes.get(task.get("NodeID", ""), ""), not o["no_trunc"]))
    ctx.out(render("{{.ID}}" if o["quiet"] else o["format"] or "", rows, TASK_HEADERS, TASK_DEFAULT))
    return 0


def _pairs_to_filters(items: list[str]) -> dict[str, list[str]]:
    """-f key=value flags as a filters map."""
    found: dict[str, list[str]] = {}
    for item in items:
        key, _, value = item.partition("=")
        found.setdefault(key, []).append(value)
    return found


def _inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker service inspect SERVICE..."""
    import functools
    from dockyard.cli.output import print_inspected
    defaults = {"insertDefaults": "true"}  # as the docker CLI asks
    if o.get("pretty"):
        from dockyard.cli.pretty import service_text
        if o["format"]:
            raise CommandError("--format is incompatible with human friendly format")
        ctx.out("".join(service_text(ctx, ctx.api.get(f"/services/{quote(ref)}", defaults)) for ref in args))
        return 0
    return print_inspected(ctx, o["format"], [functools.partial(ctx.api.get, f"/services/{quote(ref)}", defaults)
                                              for ref in args])


def _logs(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker service logs SERVICE|TASK: each line prefixed with its task and node, as docker prints it."""
    import urllib.parse
    nodes = {n["ID"]: n["Description"].get("Hostname", "") for n in ctx.api.get("/nodes")}
    from dockyard.client.api import APIError
    from dockyard.client.stdcopy import frames
    try:
        service = ctx.api.get(f"/services/{quote(args[0])}")
        path, name_of = f"/services/{quote(service['ID'])}/logs", service["Spec"]["Name"]
    except APIError as exc:
        if exc.status != 404:
            raise
        task = ctx.api.get(f"/tasks/{quote(args[0])}")
        path = f"/tasks/{quote(task['ID'])}/logs"
        name_of = ctx.api.get(f"/services/{quote(task['ServiceID'])}")["Spec"]["Name"]
    tasks = {t["ID"]: t for t in ctx.api.get("/tasks")}
    query = {"stdout": True, "stderr": True, "details": True, "follow": o["follow"] or None,
             "timestamps": o["timestamps"] or None, "tail": o["tail"]}
    resp = ctx.api.request("GET", path, query)
    try:
        for stream, line in frames(resp.chunks()):
            details, _, text = line.partition(b" ")
            context = dict(urllib.parse.parse_qsl(details.decode().replace(",", "&")))
            task = tasks.get(context.get("com.docker.swarm.task.id", ""), {})
            slot = task.get("Slot") or task.get("NodeID", "")
            task_id = context.get("com.docker.swarm.task.id", "")
            prefix = (f"{name_of}.{slot}.{task_id if o['no_trunc'] else task_id[:12]}"
                      f"@{nodes.get(context.get('com.docker.swarm.node.id', ''), '')}    | ")
            out = sys.stderr.buffer if stream in (2, 3) else sys.stdout.buffer
            out.write(prefix.encode() + text)
            out.flush()
    finally:
        resp.close()
    return 0


def _update_spec(ctx: Context, ref: str, change: Callable[[dict[str, Any]], None],
                 query: dict[str, Any] | None = None) -> str:
    """Inspect a service, change its spec, send it under its version; the service's id."""
    service = ctx.api.get(f"/services/{quote(ref)}")
    spec = service["Spec"]
    change(spec)
    ctx.api.post(f"/services/{quote(service['ID'])}/update", {"version": service["Version"]["Index"], **(query or {})},
                 spec)
    return service["ID"]


def _set_replicas(spec: dict[str, Any], count: int) -> None:
    """Replicas of a replicated service, TotalCompletions of a replicated job."""
    mode = spec.get("Mode", {})
    if "Replicated" in mode:
        mode["Replicated"]["Replicas"] = count
    elif "ReplicatedJob" in mode:
        mode["ReplicatedJob"]["TotalCompletions"] = count
    else:
        raise CommandError("scale can only be used with replicated or replicated-job mode")


def _scale(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker service scale SERVICE=REPLICAS..."""
    for arg in args:
        name, sep, count = arg.partition("=")
        if not sep or not count.isdigit():
            raise CommandError(f"invalid scale specifier '{arg}'.\nSee 'docker service scale --help'.\n\n"
                               "Usage:  docker service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\n"
                               "Scale one or multiple replicated services")

        service_id = _update_spec(ctx, name, lambda spec: _set_replicas(spec, int(count)))
        ctx.out(f"{name} scaled to {count}\n")
        if not o["detach"]:
            _wait_converged(ctx, service_id)
    return 0


def _update(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker service update [--image] [--replicas] [--env-add] [--env-rm] [--force] SERVICE."""
    def change(spec: dict[str, Any]) -> None:
        container = spec["TaskTemplate"]["ContainerSpec"]
        if o["image"]:
            container["Image"] = o["image"]
        if o["replicas"] is not None:
            _set_replicas(spec, o["replicas"])
        env = [e for e in container.get("Env") or [] if e.partition("=")[0] not in o["env_rm"]]
        added = _pairs(o["env_add"])
        env = [e for e in env if e.partition("=")[0] not in added] + [f"{k}={v}" for k, v in added.items()]
        if env or container.get("Env"):
            container["Env"] = env
        if o["args"]:
            container["Args"] = o["args"].split()
        if o["force"]:
            spec["TaskTemplate"]["ForceUpdate"] = spec["TaskTemplate"].get("ForceUpdate", 0) + 1
        if o["update_parallelism"] is None and not o["update_failure_action"] and not o["update_delay"]:
            return  # no UpdateConfig flag: the spec keeps what it has (a job has none)
        config = spec.setdefault("UpdateConfig", {})
        if o["update_parallelism"] is not None:
            config["Parallelism"] = o["update_parallelism"]
        if o["update_failure_action"]:
            config["FailureAction"] = o["update_failure_action"]
        if o["update_delay"]:
            config["Delay"] = _duration(o["update_delay"])
    service_id = _update_spec(ctx, args[0], change)
    ctx.out(args[0] + "\n")
    if not o["detach"]:
        _wait_converged(ctx, service_id)
    return 0


def _rollback(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker service rollback SERVICE."""
    service = ctx.api.get(f"/services/{quote(args[0])}")
    ctx.api.post(f"/services/{quote(service['ID'])}/update",
                 {"version": service["Version"]["Index"], "rollback": "previous"}, service["Spec"])
    ctx.out(args[0] + "\n")
    if not o["detach"]:
        _wait_converged(ctx, service["ID"])
    return 0


def _strings(*flags: tuple[str, str]) -> list[Flag]:
    """String flags without a short form: (name, help)."""
    return [Flag(name, "", "string", help=text) for name, text in flags]


def _lists(*flags: tuple[str, str, str]) -> list[Flag]:
    """Repeatable flags: (name, short, help)."""
    return [Flag(name, short, "list", help=text) for name, short, text in flags]


DETACH = Flag("detach", "d", help="Exit immediately instead of waiting for the service to converge")
UPDATE_FLAGS = [Flag("update-parallelism", "", "int", help="Maximum number of tasks updated simultaneously"),
                Flag("update-delay", "", "string", help="Delay between updates (ns|us|ms|s|m|h)"),
                Flag("update-failure-action", "", "string",
                     help='Action on update failure ("pause", "continue", "rollback")')]
CREATE = Command("service create", "service create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new service",
                 _create, [
                     DETACH, Flag("quiet", "q", help="Suppress progress output"),
                     *_strings(("name", "Service name"),
                               ("mode", 'Service mode ("replicated", "global", "replicated-job", "global-job")'),
                               ("hostname", "Container hostname"),
                               ("stop-grace-period", "Time to wait before force killing a container (ns|us|ms|s|m|h)"),
                               ("restart-condition", 'Restart when condition is met ("none", "on-failure", "any")'),
                               ("restart-delay", "Delay between restart attempts (ns|us|ms|s|m|h)")),
                     *_lists(("env", "e", "Set environment variables"), ("label", "l", "Service labels"),
                             ("container-label", "", "Container labels"), ("constraint", "", "Placement constraints"),
                             ("publish", "p", "Publish a port as a node port")),
                     *_strings(("update-order", 'Update order ("start-first", "stop-first")')),
                     *(Flag(name, short, kind, help=text) for name, short, kind, text in (
                         ("replicas", "", "int", "Number of tasks"),
                         ("max-concurrent", "", "int",
                          "Number of job tasks to run concurrently (default equal to --replicas)"),
                         ("workdir", "w", "string", "Working directory inside the container"),
                         ("user", "u", "string", "Username or UID (format: <name|uid>[:<group|gid>])"),
                         ("restart-max-attempts", "", "int", "Maximum number of restarts before giving up"),
                         ("with-registry-auth", "", "bool", "Send registry authentication details to swarm agents"))),
                     *UPDATE_FLAGS],
                 min_args=1, interspersed=False)
LS = Command("service ls", "service ls [OPTIONS]", "List services", _ls, [
    Flag("filter", "f", "list", help="Filter output based on conditions provided", metavar="filter"),
    Flag("format", "", "string", help="Format output using a custom template"),
    Flag("quiet", "q", help="Only display IDs")], max_args=0, aliases="docker service ls, docker service list")
PS = Command("service ps", "service ps [OPTIONS] SERVICE [SERVICE...]", "List the tasks of one or more services", _ps, [
    Flag("filter", "f", "list", help="Filter output based on conditions provided", metavar="filter"),
    Flag("format", "", "string", help="Pretty-print tasks using a Go template"),
    Flag("no-trunc", "", help="Do not truncate output"), Flag("quiet", "q", help="Only display task IDs")],
    min_args=1)
INSPECT = Command("service inspect", "service inspect [OPTIONS] SERVICE [SERVICE...]",
                  "Display detailed information on one or more services", _inspect, [
                      Flag("format", "f", "string", help="Format output using a custom template"),
                      Flag("pretty", "", help="Print the information in a human friendly format")], min_args=1)
LOGS = Command("service logs", "service logs [OPTIONS] SERVICE|TASK", "Fetch the logs of a service or task", _logs, [
    Flag("follow", "f", help="Follow log output"), Flag("timestamps", "t", help="Show timestamps"),
    Flag("tail", "n", "string", "all", help="Number of lines to show from the end of the logs"),
    Flag("no-trunc", "", help="Do not truncate output")], min_args=1, max_args=1)
SCALE = Command("service scale", "service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]",
                "Scale one or multiple replicated services", _scale, [DETACH], min_args=1)
UPDATE = Command("service update", "service update [OPTIONS] SERVICE", "Update a service", _update, [
    DETACH, Flag("image", "", "string", help="Service image tag"), Flag("replicas", "", "int", help="Number of tasks"),
    Flag("env-add", "", "list", help="Add or update an environment variable"),
    Flag("env-rm", "", "list", help="Remove an environment variable"),
    Flag("args", "", "string", help="Service command args"),
    Flag("force", "", help="Force update even if no changes require it"), *UPDATE_FLAGS], min_args=1, max_args=1)
ROLLBACK = Command("service rollback", "service rollback [OPTIONS] SERVICE",
                   "Revert changes to a service's configuration", _rollback, [DETACH], min_args=1, max_args=1)
RM = Command("service rm", "service rm SERVICE [SERVICE...]", "Remove one or more services",
             lambda ctx, _o, args: remove_each(ctx, "services", args), [], min_args=1,
             aliases="docker service rm, docker service remove")
