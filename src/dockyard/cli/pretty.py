"""`inspect --pretty` of services, nodes, secrets and configs: the human-friendly text the docker CLI prints for
each (its formatter's pretty templates), line for line, from the same API objects."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

import base64
import re
import time

from dockyard.cli.swarmobjects import pretty
from dockyard.util.humanize import bytes_size, go_duration, human_duration

NANO = 1_000_000_000
TIME_RE = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def go_time_text(rfc3339: str) -> str:
    """A JSON timestamp as Go's time.Time prints with %s: "2026-12-07 14:30:49.5 +0000 UTC"."""
    match = TIME_RE.match(rfc3339)
    if match is None:
        return rfc3339
    day, clock, fraction, zone = match.groups()
    fraction = (fraction or "")[:9].rstrip("0")
    offset = "+0000 UTC" if zone == "Z" else f"{zone.replace(':', '')} {zone.replace(':', '')}"
    return f"{day} {clock}{'.' + fraction if fraction else ''} {offset}"


def go_list(items: list[Any]) -> str:
    """A Go slice printed with %v: "[a b]"."""
    return "[" + " ".join(str(item) for item in items) + "]"


def go_number(value: float) -> str:
    """A Go float printed with %v."""
    from dockyard.util.gotemplate import go_float
    return go_float(float(value))


def labels(pairs: dict[str, str] | None, prefix: str, title: str = "Labels:") -> str:
    """A labels block: the title, then `<prefix>key[=value]` per label in key order."""
    if not pairs:
        return ""
    return f"\n{title}" + "".join(f"\n{prefix}{k}{'=' + v if v else ''}" for k, v in sorted(pairs.items()))


def ago(rfc3339: str) -> str:
    """go-units HumanDuration since a timestamp, plus " ago"."""
    from dockyard.util.timeutil import parse_rfc3339
    return human_duration(time.time() - parse_rfc3339(rfc3339)) + " ago"


# --- services -------------------------------------------------------------------------------------------------

def service(svc: dict[str, Any], network_names: dict[str, str]) -> str:
    """docker service inspect --pretty of one service."""
    spec = svc["Spec"]
    template = spec.get("TaskTemplate") or {}
    container = template.get("ContainerSpec") or {}
    out = f"\nID:\t\t{svc['ID']}\nName:\t\t{spec.get('Name', '')}" + labels(spec.get("Labels"), " ")
    out += "\nService Mode:" + _mode(spec.get("Mode") or {}) + _update_status(svc.get("UpdateStatus"))
    out += "\nPlacement:" + _placement(template.get("Placement"))
    out += _update_config(spec.get("UpdateConfig"), "UpdateConfig", "Update order:      ")
    out += _update_config(spec.get("RollbackConfig"), "RollbackConfig", "Rollback order:    ")
    out += _container(container) + _log_driver(template.get("LogDriver")) + _resources(template.get("Resources"))
    networks = [network_names.get(n["Target"], n["Target"]) for n in template.get("Networks") or []]
    if networks:
        out += "\nNetworks:" + "".join(f" {name}" for name in networks) + " "
    out += f"\nEndpoint Mode:\t{(spec.get('EndpointSpec') or {}).get('Mode', '')}"
    ports = (svc.get("Endpoint") or {}).get("Ports") or []
    if ports:
        out += "\nPorts:" + "".join(f"\n PublishedPort = {p.get('PublishedPort', 0)}\n  Protocol = "
                                    f"{p.get('Protocol', '')}\n  TargetPort = {p.get('TargetPort', 0)}\n  "
                                    f"PublishMode = {p.get('PublishMode', '')}" for p in ports) + " "
    return out + _healthcheck(container.get("Healthcheck")) + "\n"


def _mode(mode: dict[str, Any]) -> str:
    """After "Service Mode:": Global, or Replicated with its replicas (jobs print nothing here)."""
    if "Global" in mode:
        return "\tGlobal"
    if "Replicated" in mode:
        replicas = (mode["Replicated"] or {}).get("Replicas")
        return "\tReplicated" + (f"\n Replicas:\t{replicas}" if replicas is not None else "")
    return ""


def _update_status(status: dict[str, Any] | None) -> str:
    """The UpdateStatus block, when there is a state."""
    if not status or not status.get("State"):
        return ""
    out = f"\nUpdateStatus:\n State:\t\t{status['State']}"
    if status.get("StartedAt"):
        out += f"\n Started:\t{ago(status['StartedAt'])}"
    if status["State"] == "completed" and status.get("CompletedAt"):
        out += f"\n Completed:\t{ago(status['CompletedAt'])}"
    return out + f"\n Message:\t{status.get('Message', '')}"


def _placement(placement: dict[str, Any] | None) -> str:
    """Constraints, spread preferences and the per-node replica limit."""
    placement = placement or {}
    out = ""
    if placement.get("Constraints"):
        out += f"\n Constraints:\t{go_list(placement['Constraints'])}"
    spreads = [f"spread={p['Spread'].get('SpreadDescriptor', '')}" for p in placement.get("Preferences") or []
               if p.get("Spread") is not None]
    if spreads:
        out += f"\n Preferences:   {go_list(spreads)}"
    if placement.get("MaxReplicas"):
        out += f"\n Max Replicas Per Node:   {placement['MaxReplicas']}"
    return out


def _update_config(config: dict[str, Any] | None, title: str, order_label: str) -> str:
    """An UpdateConfig or RollbackConfig block."""
    if config is None:
        return ""
    out = f"\n{title}:\n Parallelism:\t{config.get('Parallelism', 0)}"
    if config.get("Delay", 0) > 0:
        out += f"\n Delay:\t\t{go_duration(config['Delay'])}"
    out += f"\n On failure:\t{config.get('FailureAction', '')}"
    if config.get("Monitor", 0) > 0:
        out += f"\n Monitoring Period: {go_duration(config['Monitor'])}"
    return out + f"\n Max failure ratio: {go_number(config.get('MaxFailureRatio', 0))}\n {order_label}" \
                 f"{config.get('Order', '')}"


def _container(container: dict[str, Any]) -> str:
    """The ContainerSpec block and what follows it up to the mounts, configs and secrets."""
    out = f"\nContainerSpec:\n Image:\t\t{container.get('Image', '')}"
    if container.get("Args"):
        out += "\n Args:\t\t" + "".join(f"{arg} " for arg in container["Args"])
    if container.get("Env"):
        out += "\n Env:\t\t" + "".join(f"{env} " for env in container["Env"])
    if container.get("Dir"):
        out += f"\n Dir:\t\t{container['Dir']}"
    if container.get("Init") is not None:
        out += f"\n Init:\t\t{'true' if container['Init'] else 'false'}"
    if container.get("User"):
        out += f"\n User: {container['User']}"
    add, drop = container.get("CapabilityAdd") or [], container.get("CapabilityDrop") or []
    if add or drop:
        out += "\nCapabilities:" + (f"\n Add: {', '.join(add)}" if add else "") + \
               (f"\n Drop: {', '.join(drop)}" if drop else "")
    if container.get("Sysctls"):
        out += "\nSysCtls:" + "".join(f"\n {k}{': ' + v if v else ''}" for k, v in sorted(container["Sysctls"].items()))
    ulimits = {u["Name"]: f"{u.get('Soft', 0)}:{u.get('Hard', 0)}" for u in container.get("Ulimits") or []}
    if ulimits:
        out += "\nUlimits:" + "".join(f"\n {k}: {v}" for k, v in sorted(ulimits.items()))
    mounts = container.get("Mounts") or []
    if mounts:
        out += "\nMounts:" + "".join(f"\n Target:\t{m.get('Target', '')}\n  Source:\t{m.get('Source', '')}\n  "
                                     f"ReadOnly:\t{'true' if m.get('ReadOnly') else 'false'}\n  Type:\t\t"
                                     f"{m.get('Type', '')}" for m in mounts)
    for title, key, name_key in (("Configs", "Configs", "ConfigName"), ("Secrets", "Secrets", "SecretName")):
        if container.get(key):
            out += f"\n{title}:" + "".join(f"\n Target:\t{(ref.get('File') or {}).get('Name', '')}\n  Source:\t"
                                           f"{ref.get(name_key, '')}" for ref in container[key])
    return out


def _log_driver(driver: dict[str, Any] | None) -> str:
    """The Log Driver block (followed by an empty line, as the docker CLI prints it)."""
    if driver is None:
        return ""
    out = "\nLog Driver:" + (f"\n Name:\t\t{driver['Name']}" if driver.get("Name") else "")
    options = driver.get("Options") or {}
    if options:
        out += "\n LogOpts:" + "".join(f"\n  {k}{':       ' + v if v else ''}" for k, v in sorted(options.items()))
    return out + "\n"


def _resources(resources: dict[str, Any] | None) -> str:
    """The Resources block and the PIDs limit."""
    limits = (resources or {}).get("Limits") or {}
    out = ""
    if resources is not None:
        out += "\nResources:"
        for title, part, counted in ((" Reservations:", resources.get("Reservations"), ("NanoCPUs", "MemoryBytes")),
                                     (" Limits:", resources.get("Limits"), ("NanoCPUs", "MemoryBytes", "Pids"))):
            if part is None or not any(part.get(key, 0) > 0 for key in counted):
                continue
            cpus, memory = part.get("NanoCPUs", 0), part.get("MemoryBytes", 0)
            out += f"\n{title}" + (f"\n  CPU:\t\t{go_number(cpus / NANO)}" if cpus > 0 else "") + \
                (f"\n  Memory:\t{bytes_size(memory)}" if memory else "")
    return out + (f"\n  PIDs:\t\t{limits['Pids']}" if limits.get("Pids", 0) > 0 else "")


def _healthcheck(check: dict[str, Any] | None) -> str:
    """The Healthcheck block."""
    if check is None:
        return ""
    out = (f"\n Healthcheck:\n  Interval = {go_duration(check.get('Interval', 0))}\n  Retries = "
           f"{check.get('Retries', 0)}\n  StartPeriod =\t{go_duration(check.get('StartPeriod', 0))}\n  Timeout =\t"
           f"{go_duration(check.get('Timeout', 0))}")
    if check.get("Test"):
        out += "\n  Tests:" + "".join(f"\n\t Test = {test}" for test in check["Test"]) + " "
    return out


def service_text(ctx: Any, svc: dict[str, Any]) -> str:
    """A service's pretty form with its networks by name (an id that does not resolve stays an id)."""
    from dockyard.client.api import APIError
    from dockyard.client.transport import quote
    names = {}
    for attachment in svc["Spec"].get("TaskTemplate", {}).get("Networks") or []:
        try:
            names[attachment["Target"]] = ctx.api.get(f"/networks/{quote(attachment['Target'])}")["Name"]
        except APIError:
            continue  # shown by id, as docker does when the lookup fails
    return service(svc, names) + "\n"


# --- nodes, secrets, configs ----------------------------------------------------------------------------------

def node(n: dict[str, Any]) -> str:
    """docker node inspect --pretty of one node (each object's text ends with a newline, as the CLI adds one)."""
    spec, description, status = n.get("Spec") or {}, n.get("Description") or {}, n.get("Status") or {}
    out = f"ID:\t\t\t{n['ID']}" + (f"\nName:\t\t\t{spec['Name']}" if spec.get("Name") else "")
    out += labels(spec.get("Labels"), " - ")
    out += (f"\nHostname:              \t{description.get('Hostname', '')}\nJoined at:             \t"
            f"{pretty(go_time_text(n.get('CreatedAt', '')))}\nStatus:\n State:\t\t\t{pretty(status.get('State', ''))}")
    if status.get("Message"):
        out += f"\n Message:              \t{pretty(status['Message'])}"
    out += f"\n Availability:         \t{pretty(spec.get('Availability', ''))}"
    if status.get("Addr"):
        out += f"\n Address:\t\t{status['Addr']}"
    manager = n.get("ManagerStatus")
    if manager is not None:
        out += (f"\nManager Status:\n Address:\t\t{manager.get('Addr', '')}\n Raft Status:\t\t"
                f"{pretty(manager.get('Reachability', ''))}\n Leader:\t\t{'Yes' if manager.get('Leader') else 'No'}")
    platform, resources = description.get("Platform") or {}, description.get("Resources") or {}
    memory = resources.get("MemoryBytes", 0)
    out += (f"\nPlatform:\n Operating System:\t{platform.get('OS', '')}\n Architecture:\t\t"
            f"{platform.get('Architecture', '')}\nResources:\n CPUs:\t\t\t{resources.get('NanoCPUs', 0) // NANO}\n"
            f" Memory:\t\t{bytes_size(memory) if memory else ''}")
    engine = description.get("Engine") or {}
    plugins: dict[str, list[str]] = {}
    for plugin in engine.get("Plugins") or []:
        plugins.setdefault(plugin.get("Type", ""), []).append(plugin.get("Name", ""))
    if plugins:
        out += "\nPlugins:" + "".join(f"\n {kind}:{chr(9) * 2 + ', '.join(names) if names else ''}"
                                      for kind, names in sorted(plugins.items()))
    out += f"\nEngine Version:\t\t{engine.get('EngineVersion', '')}" + labels(engine.get("Labels"), " - ",
                                                                              "Engine Labels:")
    tls = description.get("TLSInfo") or {}
    if any(tls.values()):
        out += (f"\nTLS Info:\n TrustRoot:\n{tls.get('TrustRoot', '')}\n Issuer Subject:\t"
                f"{tls.get('CertIssuerSubject', '')}\n Issuer Public Key:\t{tls.get('CertIssuerPublicKey', '')}")
    return out + "\n"


def secret(s: dict[str, Any]) -> str:
    """docker secret inspect --pretty of one secret."""
    spec = s.get("Spec") or {}
    return (f"ID:              {s['ID']}\nName:              {spec.get('Name', '')}" + labels(spec.get("Labels"), " - ")
            + f"\nDriver:            {(spec.get('Driver') or {}).get('Name', '')}\nCreated at:        "
            f"{pretty(go_time_text(s.get('CreatedAt', '')))}\nUpdated at:        "
            f"{pretty(go_time_text(s.get('UpdatedAt', '')))}\n")


def config(c: dict[str, Any]) -> str:
    """docker config inspect --pretty of one config."""
    spec = c.get("Spec") or {}
    data = base64.b64decode(spec.get("Data") or "").decode("utf-8", "replace")
    return (f"ID:\t\t\t{c['ID']}\nName:\t\t\t{spec.get('Name', '')}" + labels(spec.get("Labels"), " - ")
            + f"\nCreated at:            \t{pretty(go_time_text(c.get('CreatedAt', '')))}\nUpdated at:            \t"
            f"{pretty(go_time_text(c.get('UpdatedAt', '')))}\nData:\n{data}\n")
