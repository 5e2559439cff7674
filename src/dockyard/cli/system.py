"""System commands: version, info, events, inspect (any object, container inspect, image inspect)."""

from __future__ import annotations

import platform
import sys
import time
from typing import Any

from dockyard.cli.context import CommandError, Context, daemon_error
from dockyard.cli.flags import Command, Flag
from dockyard.client.api import APIError
from dockyard.client.transport import ConnectionFailed, quote

VERSION_TEMPLATE = """{{with .Client -}}
Client:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:\t{{.GoVersion}}
 Git commit:\t{{.GitCommit}}
 Built:\t{{.BuildTime}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if .ServerOK}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- range $key := sortedKeys $component.Details}}
  {{$key}}:\t{{index $component.Details $key}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}"""


def _client_version(ctx: Context) -> dict[str, Any]:
    """The client half of `version`."""
    from dockyard import __version__
    from dockyard.client.api import MAX_API_VERSION
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {"Platform": {"Name": ""}, "Version": __version__, "APIVersion": ctx.api.version or MAX_API_VERSION,
            "DefaultAPIVersion": MAX_API_VERSION, "GoVersion": "python" + platform.python_version(),
            "GitCommit": "unknown", "BuildTime": "unknown", "Os": sys.platform, "Arch": arch, "Context": "default"}


def ansic_time(text: str) -> str:
    """RFC 3339 build time as Go's time.ANSIC ("Mon Jan  2 15:04:05 2006"); unparsable text is kept."""
    from datetime import datetime
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return parsed.strftime("%a %b ") + f"{parsed.day:2d}" + parsed.strftime(" %H:%M:%S %Y")


def _version(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker version."""
    from dockyard.cli.output import tabwrite
    from dockyard.util import gotemplate
    server: dict[str, Any] | None = None
    error = ""
    try:
        ctx.api.negotiate()
        server = ctx.api.get("/version")
    except (APIError, ConnectionFailed) as exc:
        error = daemon_error(exc) if isinstance(exc, APIError) else str(exc)
    if server is not None and not server.get("Components"):
        server["Components"] = [{"Name": "Engine", "Version": server.get("Version", ""), "Details": {
            k: str(server.get(k, "")) for k in ("ApiVersion", "MinAPIVersion", "GitCommit", "GoVersion", "Os",
                                                 "Arch", "BuildTime", "Experimental")}}]
    if server is not None:
        server.setdefault("Platform", {"Name": ""})
        for comp in server["Components"]:
            details = comp.get("Details") or {}
            if details.get("BuildTime"):
                details["BuildTime"] = ansic_time(details["BuildTime"])
    data = {"Client": _client_version(ctx), "Server": server, "ServerOK": server is not None}
    try:
        if o["format"]:
            tmpl = gotemplate.parse(o["format"].replace("\\t", "\t").replace("\\n", "\n"))
            ctx.out(tmpl.execute(data) + "\n")
        else:
            tmpl = gotemplate.Template(VERSION_TEMPLATE, funcs={"sortedKeys": lambda d: sorted(d or {})})
            ctx.out(tabwrite(tmpl.execute(data) + "\n", minwidth=20, padding=1))
    except gotemplate.TemplateError as exc:
        raise CommandError(f"template parsing error: {exc}") from None
    if error:
        raise CommandError(error)
    return 0


VERSION = Command("version", "version [OPTIONS]", "Show the Docker version information", _version,
                  [Flag("format", "f", "string", help="Format output using a custom template")], max_args=0)


def _info_lines(info: dict[str, Any]) -> list[str]:
    """The Server: section of `docker info`."""
    from dockyard.util.humanize import bytes_size
    lines = [
        f" Containers: {info.get('Containers', 0)}", f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}", f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}", f" Server Version: {info.get('ServerVersion', '')}",
        f" Storage Driver: {info.get('Driver', '')}",
    ]
    lines += [f"  {k}: {v}" for k, v in info.get("DriverStatus") or []]
    lines += [f" Logging Driver: {info.get('LoggingDriver', '')}",
              f" Cgroup Driver: {info.get('CgroupDriver', '')}",
              f" Cgroup Version: {info.get('CgroupVersion', '')}"]
    lines += _swarm_lines(info.get("Swarm") or {})
    runtimes = " ".join(sorted(info.get("Runtimes") or {}))
    lines += [f" Runtimes: {runtimes}", f" Default Runtime: {info.get('DefaultRuntime', '')}",
              f" Kernel Version: {info.get('KernelVersion', '')}",
              f" Operating System: {info.get('OperatingSystem', '')}",
              f" OSType: {info.get('OSType', '')}", f" Architecture: {info.get('Architecture', '')}",
              f" CPUs: {info.get('NCPU', 0)}", f" Total Memory: {bytes_size(info.get('MemTotal', 0))}",
              f" Name: {info.get('Name', '')}", f" ID: {info.get('ID', '')}",
              f" Docker Root Dir: {info.get('DockerRootDir', '')}",
              f" Debug Mode: {str(bool(info.get('Debug'))).lower()}",
              f" Experimental: {str(bool(info.get('ExperimentalBuild'))).lower()}"]
    insecure = (info.get("RegistryConfig") or {}).get("InsecureRegistryCIDRs") or []
    if insecure:
        lines.append(" Insecure Registries:")
        lines += [f"  {cidr}" for cidr in insecure]
    lines.append(f" Live Restore Enabled: {str(bool(info.get('LiveRestoreEnabled'))).lower()}")
    return lines


def _swarm_lines(swarm: dict[str, Any]) -> list[str]:
    """docker info's Swarm lines (the CLI's printSwarmInfo)."""
    from dockyard.util.humanize import human_duration
    state = swarm.get("LocalNodeState", "inactive")
    lines = [f" Swarm: {state}"]
    if state in ("inactive", "locked"):
        return lines
    lines.append(f"  NodeID: {swarm.get('NodeID', '')}")
    if swarm.get("Error"):
        lines.append(f"  Error: {swarm['Error']}")
    lines.append(f"  Is Manager: {str(bool(swarm.get('ControlAvailable'))).lower()}")
    cluster = swarm.get("Cluster")
    if cluster and swarm.get("ControlAvailable") and not swarm.get("Error") and state != "error":
        spec = cluster.get("Spec") or {}
        raft, ca = spec.get("Raft") or {}, spec.get("CAConfig") or {}
        lines += [f"  ClusterID: {cluster.get('ID', '')}", f"  Managers: {swarm.get('Managers', 0)}",
                  f"  Nodes: {swarm.get('Nodes', 0)}"]
        if cluster.get("DefaultAddrPool") is not None:
            lines += ["  Default Address Pool: " + "".join(p + "  " for p in cluster["DefaultAddrPool"]),
                      f"  SubnetSize: {cluster.get('SubnetSize', 0)}"]
        if cluster.get("DataPathPort"):
            lines.append(f"  Data Path Port: {cluster['DataPathPort']}")
        lines += ["  Orchestration:", "   Task History Retention Limit: "
                  f"{(spec.get('Orchestration') or {}).get('TaskHistoryRetentionLimit') or 0}",
                  "  Raft:", f"   Snapshot Interval: {raft.get('SnapshotInterval', 0)}"]
        if raft.get("KeepOldSnapshots") is not None:
            lines.append(f"   Number of Old Snapshots to Retain: {raft['KeepOldSnapshots']}")
        lines += [f"   Heartbeat Tick: {raft.get('HeartbeatTick', 0)}", f"   Election Tick: {raft.get('ElectionTick', 0)}",
                  "  Dispatcher:", "   Heartbeat Period: "
                  f"{human_duration((spec.get('Dispatcher') or {}).get('HeartbeatPeriod', 0) / 1e9)}",
                  "  CA Configuration:", f"   Expiry Duration: {human_duration(ca.get('NodeCertExpiry', 0) / 1e9)}",
                  f"   Force Rotate: {ca.get('ForceRotate', 0)}",
                  "  Autolock Managers: "
                  f"{str(bool((spec.get('EncryptionConfig') or {}).get('AutoLockManagers'))).lower()}",
                  f"  Root Rotation In Progress: {str(bool(cluster.get('RootRotationInProgress'))).lower()}"]
    lines.append(f"  Node Address: {swarm.get('NodeAddr', '')}")
    managers = sorted(m["Addr"] for m in swarm.get("RemoteManagers") or [])
    if managers:
        lines.append("  Manager Addresses:")
        lines += [f"   {addr}" for addr in managers]
    return lines


def _info(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker info."""
    from dockyard import __version__
    if o["format"]:
        from dockyard.cli.output import FormatError
        from dockyard.util import gotemplate
        info = ctx.api.get("/info")
        try:
            ctx.out(gotemplate.parse(o["format"]).execute(info) + "\n")
        except gotemplate.TemplateError as exc:
            raise FormatError(f"template parsing error: {exc}") from None
        return 0
    ctx.out(f"Client:\n Version:    {__version__}\n Context:    default\n Debug Mode: false\n\nServer:\n")
    try:
        info = ctx.api.get("/info")
    except (APIError, ConnectionFailed) as exc:
        ctx.out("\n")
        raise CommandError(daemon_error(exc) if isinstance(exc, APIError) else str(exc)) from None
    ctx.out("\n".join(_info_lines(info)) + "\n\n")
    return 0


INFO = Command("info", "info [OPTIONS]", "Display system-wide information", _info,
               [Flag("format", "f", "string", help="Format output using a custom template")], max_args=0)


def _rfc3339_nano(nanos: int) -> str:
    """Go's RFC3339NanoFixed in local time."""
    secs, frac = divmod(nanos, 1_000_000_000)
    t = time.localtime(secs)
    tz = time.strftime("%z", t)
    tz = "Z" if tz == "+0000" else f"{tz[:3]}:{tz[3:]}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{frac:09d}" + tz


def format_event(ev: dict[str, Any]) -> str:
    """docker events' default line: time type action id (k=v, ...)."""
    actor = ev.get("Actor") or {}
    nanos = ev.get("timeNano") or (ev.get("time") or 0) * 1_000_000_000
    line = f"{_rfc3339_nano(nanos)} " if nanos else ""
    line += f"{ev.get('Type', '')} {ev.get('Action', '')} {actor.get('ID', '')}"
    attrs = actor.get("Attributes") or {}
    if attrs:
        line += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return line


def _events(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker events: stream until interrupted (or --until passes)."""
    from dockyard.cli.containers import timestamp_arg
    from dockyard.cli.formatters import filters_json
    from dockyard.client.api import json_stream
    from dockyard.util import gotemplate
    fmt = o["format"] or ""
    tmpl = None
    if fmt:
        try:
            tmpl = gotemplate.parse("{{json .}}" if fmt == "json" else fmt.replace("\\t", "\t").replace("\\n", "\n"))
        except gotemplate.TemplateError as exc:
            raise CommandError(f"template parsing error: {exc}") from None
    query = {"since": timestamp_arg(o["since"] or "") or None, "until": timestamp_arg(o["until"] or "") or None,
             "filters": filters_json(o["filter"])}
    resp = ctx.api.request("GET", "/events", query)
    try:
        for ev in json_stream(resp):
            ctx.out((tmpl.execute(ev) if tmpl else format_event(ev)) + "\n")
            ctx.stdout.flush()
    except gotemplate.TemplateError as exc:
        raise CommandError(f"template parsing error: {exc}") from None
    finally:
        resp.close()
    return 0


EVENTS = Command("events", "events [OPTIONS]", "Get real time events from the server", _events, [
    Flag("filter", "f", "list", help="Filter output based on conditions provided", metavar="filter"),
    Flag("format", "", "string", help="Format output using a custom template"),
    Flag("since", "", "string", help="Show all events created since timestamp"),
    Flag("until", "", "string", help="Stream events until this timestamp"),
], max_args=0)


def indent_json(objects: list[Any]) -> str:
    """json.MarshalIndent(objects, "", "    ") as docker prints inspect results."""
    import json
    return json.dumps(objects, indent=4, ensure_ascii=False)


def _fetch(ctx: Context, kind: str, name: str, size: bool) -> Any:
    """GET the inspect document of one object of `kind` (container or image)."""
    if kind == "container":
        return ctx.api.get(f"/containers/{quote(name)}/json", {"size": size or None})
    return ctx.api.get(f"/images/{quote(name)}/json")


def inspect_objects(ctx: Context, o: dict[str, Any], names: list[str], kinds: list[str]) -> int:
    """Inspect each name as the first of `kinds` that knows it; print JSON or the -f template per object."""
    from dockyard.util import gotemplate
    tmpl = None
    if o["format"] and o["format"] != "json":
        try:
            tmpl = gotemplate.parse(o["format"].replace("\\t", "\t").replace("\\n", "\n"), missing_key_error=True)
        except gotemplate.TemplateError as exc:
            raise CommandError(f"template parsing error: {exc}") from None
    found: list[Any] = []
    errors: list[str] = []
    for name in names:
        obj = None
        last: APIError | None = None
        for kind in kinds:
            try:
                obj = _fetch(ctx, kind, name, o.get("size", False))
                break
            except APIError as exc:
                if exc.status != 404:
                    raise
                last = exc
        if obj is None:
            errors.append(f"Error: No such object: {name}" if len(kinds) > 1 else
                          daemon_error(last) if last else name)
            continue
        found.append(obj)
    if tmpl is None:
        ctx.out(indent_json(found) + "\n")
    else:
        for obj in found:
            try:
                ctx.out(tmpl.execute(obj) + "\n")
            except gotemplate.TemplateError as exc:
                ctx.out("\n")  # docker leaves an empty line before the error
                raise CommandError(f"template parsing error: {exc}") from None
    if errors:
        raise CommandError("\n".join(errors))
    return 0


INSPECT_FLAGS = [Flag("format", "f", "string", help="Format output using a custom template"),
                 Flag("size", "s", help="Display total file sizes if the type is container")]


def _inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker inspect [--type]."""
    kinds = {"": ["container", "image"], "container": ["container"], "image": ["image"]}.get(o["type"] or "")
    if kinds is None:
        raise CommandError(f'"{o["type"]}" is not a valid value for --type')
    return inspect_objects(ctx, o, args, kinds)


INSPECT = Command("inspect", "inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker objects",
                  _inspect, INSPECT_FLAGS + [Flag("type", "", "string", help="Only inspect objects of the given type")],
                  min_args=1)
CONTAINER_INSPECT = Command("container inspect", "container inspect [OPTIONS] CONTAINER [CONTAINER...]",
                            "Display detailed information on one or more containers",
                            lambda c, o, a: inspect_objects(c, o, a, ["container"]), INSPECT_FLAGS, min_args=1)
IMAGE_INSPECT = Command("image inspect", "image inspect [OPTIONS] IMAGE [IMAGE...]",
                        "Display detailed information on one or more images",
                        lambda c, o, a: inspect_objects(c, o, a, ["image"]), INSPECT_FLAGS[:1], min_args=1)
