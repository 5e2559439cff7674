"""Service specs as dockerd handles them: what it adds at create and update time (a random name when none is given,
Mode Replicated 1, ForceUpdate, Runtime and Isolation, EndpointSpec Mode vip, port Protocol tcp and PublishMode
ingress, network names resolved to IDs, the enums swarmkit stores filled: RestartPolicy Condition and MaxAttempts,
FailureAction and Order), swarmkit's defaults for `insertDefaults=true` (`api/defaults/service.go`),
and swarmkit's validation (`manager/controlapi/service.go`) with its texts."""

from __future__ import annotations

import copy
import re
from typing import Any, Callable

from dockyard.cluster import spec as shapes
from dockyard.cluster.manager import constraints
from dockyard.errors import InvalidParameter
from dockyard.util import reference
from dockyard.util.names import random_name

NANO = 1_000_000_000
INVALID = "rpc error: code = InvalidArgument desc = "
DNS_NAME_RE = re.compile(r"[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*\Z")
UPDATE_DEFAULTS = {"Parallelism": 1, "FailureAction": "pause", "Monitor": 5 * NANO, "MaxFailureRatio": 0,
                   "Order": "stop-first"}
FAILURE_ACTIONS = ("pause", "continue", "rollback")
ORDERS = ("stop-first", "start-first")
CONDITIONS = ("none", "on-failure", "any")

Spec = dict[str, Any]

# moby's api/types/swarm service types, as shapes for `spec.render` (Go's field order, omitempty and pointers);
# rarely used nested options are kept as sent ("any").
PORT = [("Name", "str", True), ("Protocol", "str", True), ("TargetPort", "int", True), ("PublishedPort", "int", True),
        ("PublishMode", "str", True)]
ATTACHMENT = [("Target", "str", True), ("Aliases", "list", True), ("DriverOpts", "map", True)]
UPDATE_CONFIG = [("Parallelism", "int", False), ("Delay", "int", True), ("FailureAction", "str", True),
                 ("Monitor", "int", True), ("MaxFailureRatio", "any", False), ("Order", "str", False)]
MOUNT = [("Type", "str", True), ("Source", "str", True), ("Target", "str", True), ("ReadOnly", "bool", True),
         ("Consistency", "str", True), ("BindOptions", "any", True), ("VolumeOptions", "any", True),
         ("TmpfsOptions", "any", True), ("ClusterOptions", "any", True)]
HEALTHCHECK = [("Test", "list", True), ("Interval", "int", True), ("Timeout", "int", True),
               ("StartPeriod", "int", True), ("StartInterval", "int", True), ("Retries", "int", True)]
FILE_TARGET = [("Name", "str", False), ("UID", "str", False), ("GID", "str", False), ("Mode", "int", False)]
SECRET_REF = [("File", "ptr", False, FILE_TARGET), ("SecretID", "str", False), ("SecretName", "str", False)]
CONFIG_REF = [("File", "ptr", True, FILE_TARGET), ("Runtime", "any", True), ("ConfigID", "str", False),
              ("ConfigName", "str", False)]
DNS_CONFIG = [("Nameservers", "list", True), ("Search", "list", True), ("Options", "list", True)]
CONTAINER_SPEC = [
    ("Image", "str", True), ("Labels", "map", True), ("Command", "list", True), ("Args", "list", True),
    ("Hostname", "str", True), ("Env", "list", True), ("Dir", "str", True), ("User", "str", True),
    ("Groups", "list", True), ("Privileges", "any", True), ("Init", "any", True), ("StopSignal", "str", True),
    ("TTY", "bool", True), ("OpenStdin", "bool", True), ("ReadOnly", "bool", True),
    ("Mounts", "structs", True, MOUNT), ("StopGracePeriod", "ptr", True), ("Healthcheck", "ptr", True, HEALTHCHECK),
    ("Hosts", "list", True), ("DNSConfig", "ptr", True, DNS_CONFIG), ("Secrets", "structs", True, SECRET_REF),
    ("Configs", "structs", True, CONFIG_REF), ("Isolation", "str", True), ("Sysctls", "map", True),
    ("CapabilityAdd", "list", True), ("CapabilityDrop", "list", True), ("Ulimits", "any", True),
    ("OomScoreAdj", "int", True)]
LIMIT = [("NanoCPUs", "int", True), ("MemoryBytes", "int", True), ("Pids", "int", True)]
RESOURCES = [("NanoCPUs", "int", True), ("MemoryBytes", "int", True), ("GenericResources", "any", True)]
TASK_SPEC = [
    ("ContainerSpec", "ptr", True, CONTAINER_SPEC), ("PluginSpec", "any", True), ("NetworkAttachmentSpec", "any", True),
    ("Resources", "ptr", True, [("Limits", "ptr", True, LIMIT), ("Reservations", "ptr", True, RESOURCES)]),
    ("RestartPolicy", "ptr", True, [("Condition", "str", True), ("Delay", "ptr", True), ("MaxAttempts", "ptr", True),
                                    ("Window", "ptr", True)]),
    ("Placement", "ptr", True, [("Constraints", "list", True), ("Preferences", "any", True),
                                ("MaxReplicas", "int", True), ("Platforms", "any", True)]),
    ("Networks", "structs", True, ATTACHMENT), ("LogDriver", "ptr", True, shapes.DRIVER),
    ("ForceUpdate", "int", False), ("Runtime", "str", True)]
SERVICE_SPEC = [
    *shapes.ANNOTATIONS, ("TaskTemplate", "struct", True, TASK_SPEC),
    ("Mode", "struct", True, [("Replicated", "ptr", True, [("Replicas", "ptr", True)]), ("Global", "any", True),
                              ("ReplicatedJob", "ptr", True, [("MaxConcurrent", "ptr", True),
                                                              ("TotalCompletions", "ptr", True)]),
                              ("GlobalJob", "any", True)]),
    ("UpdateConfig", "ptr", True, UPDATE_CONFIG), ("RollbackConfig", "ptr", True, UPDATE_CONFIG),
    ("Networks", "structs", True, ATTACHMENT),
    ("EndpointSpec", "ptr", True, [("Mode", "str", True), ("Ports", "structs", True, PORT)])]


def go_field_names(shape: shapes.Shape, value: Any) -> Any:
    """`value` with its keys renamed to the shape's field names where they match only case-insensitively, as Go's
    decoder matches them (the API's request check spells fields as the swagger file does: `HealthCheck`)."""
    if not isinstance(value, dict):
        return value
    fields = {field[0].lower(): field for field in shape}
    out = {}
    for key, element in value.items():
        field = fields.get(key.lower())
        if field is None:
            continue
        sub = field[3] if len(field) > 3 else None
        if sub is not None and field[1] in ("struct", "ptr"):
            element = go_field_names(sub, element)
        elif sub is not None and field[1] == "structs" and isinstance(element, list):
            element = [go_field_names(sub, item) for item in element]
        out[field[0]] = element
    return out


def render(spec: Any) -> Spec:
    """A sent spec decoded and re-encoded as dockerd's Go types do (nulls and omitempty zeros dropped)."""
    rendered = shapes.render(SERVICE_SPEC, go_field_names(SERVICE_SPEC, spec), "swarm.ServiceSpec")
    for key in ("UpdateConfig", "RollbackConfig"):
        if key in rendered and rendered[key].get("MaxFailureRatio") is None:
            rendered[key]["MaxFailureRatio"] = 0
    return shapes.with_labels(rendered)


def invalid(message: str) -> InvalidParameter:
    """swarmkit's InvalidArgument, as dockerd passes it on."""
    return InvalidParameter(INVALID + message)


def normalise(spec: Spec, network_id: Callable[[str], str]) -> Spec:
    """The sent spec as dockerd stores it: rendered as its Go types do, its additions made, network references
    resolved (`network_id` maps a name, ID or ID prefix to the network's ID, raising NotFound)."""
    spec = render(spec)
    if not spec.get("Name"):
        spec["Name"] = random_name()
    if spec.get("Labels") is None:
        spec["Labels"] = {}
    mode = spec.get("Mode") or {}
    if not mode or "Replicated" in mode and mode["Replicated"] is not None:
        replicated = mode.get("Replicated") or {}
        spec["Mode"] = {"Replicated": {"Replicas": 1 if replicated.get("Replicas") is None
                                       else replicated["Replicas"]}}
    if mode.get("ReplicatedJob") is not None:  # dockerd's convert: MaxConcurrent 1, TotalCompletions = it
        job = mode["ReplicatedJob"]
        job["MaxConcurrent"] = 1 if job.get("MaxConcurrent") is None else job["MaxConcurrent"]
        job["TotalCompletions"] = job["MaxConcurrent"] if job.get("TotalCompletions") is None \
            else job["TotalCompletions"]
    template = spec.setdefault("TaskTemplate", {})
    template.setdefault("ForceUpdate", 0)
    if template.get("ContainerSpec") is not None:
        template["ContainerSpec"].setdefault("Isolation", "default")
        template.setdefault("Runtime", "container")
    restart = template.get("RestartPolicy")
    if restart is not None:
        restart["Condition"] = restart.get("Condition") or "any"
        restart.setdefault("MaxAttempts", 0)
    for key in ("UpdateConfig", "RollbackConfig"):
        if key in spec:
            spec[key]["FailureAction"] = spec[key].get("FailureAction") or "pause"
            spec[key]["Order"] = spec[key].get("Order") or "stop-first"
    for attachment in template.get("Networks") or []:
        attachment["Target"] = network_id(attachment["Target"])
    endpoint = spec.get("EndpointSpec") or {}
    endpoint["Mode"] = endpoint.get("Mode") or "vip"
    for port in endpoint.get("Ports") or []:
        port["Protocol"] = port.get("Protocol") or "tcp"
        port["PublishMode"] = port.get("PublishMode") or "ingress"
    spec["EndpointSpec"] = endpoint
    return spec


def with_defaults(spec: Spec) -> Spec:
    """The spec as `GET /services/{id}?insertDefaults=true` shows it: swarmkit's defaults under what was set."""
    spec = copy.deepcopy(spec)
    template = spec.setdefault("TaskTemplate", {})
    container = template.get("ContainerSpec")
    if container is not None:
        container.setdefault("StopGracePeriod", 10 * NANO)
        container.setdefault("DNSConfig", {})
    template.setdefault("Resources", {})
    restart = template.setdefault("RestartPolicy", {})
    restart.setdefault("Condition", "any")
    restart.setdefault("Delay", 5 * NANO)
    restart.setdefault("MaxAttempts", 0)
    template.setdefault("Placement", {})
    for key in ("UpdateConfig", "RollbackConfig"):
        config = spec.setdefault(key, {})
        for field, default in UPDATE_DEFAULTS.items():
            if not config.get(field):
                config[field] = default
    return spec


def validate(spec: Spec) -> None:
    """Refuse a spec swarmkit would refuse, with its text."""
    name = spec.get("Name", "")
    if not DNS_NAME_RE.match(name):
        raise invalid("name must be valid as a DNS name component")
    if len(name) > 63:
        raise invalid("name must be 63 characters or fewer")
    template = spec.get("TaskTemplate") or {}
    _validate_container(template.get("ContainerSpec"))
    _validate_restart(template.get("RestartPolicy") or {})
    mode = spec.get("Mode") or {}
    if ("ReplicatedJob" in mode or "GlobalJob" in mode) and spec.get("UpdateConfig") is not None:
        raise invalid("Jobs may not have an update config")
    for key, label in (("UpdateConfig", "update"), ("RollbackConfig", "rollback")):
        _validate_update(spec.get(key) or {}, label)
    try:
        constraints.parse((template.get("Placement") or {}).get("Constraints") or [])
    except InvalidParameter as exc:
        raise invalid(exc.message) from None
    _validate_ports((spec.get("EndpointSpec") or {}).get("Ports") or [])


def _validate_container(container: Spec | None) -> None:
    """ContainerSpec: an image that parses as a reference."""
    if container is None:
        raise invalid("TaskSpec: missing runtime")
    image = container.get("Image") or ""
    if not image:
        raise invalid("ContainerSpec: image reference must be provided")
    try:
        reference.parse(image)
    except InvalidParameter:
        raise invalid(f'ContainerSpec: "{image}" is not a valid repository/tag') from None
    for mount in container.get("Mounts") or []:
        target = mount.get("Target") or ""
        if not target.startswith("/"):
            raise invalid(f"ContainerSpec: invalid mount target, must be an absolute path: {target}")


def _validate_restart(policy: Spec) -> None:
    """RestartPolicy: a known condition, no negative durations."""
    if policy.get("Condition") and policy["Condition"] not in CONDITIONS:
        raise InvalidParameter(f"invalid RestartCondition: \"{policy['Condition']}\"")
    if policy.get("Delay", 0) < 0:
        raise invalid("TaskSpec: restart-delay cannot be negative")
    if policy.get("Window", 0) < 0:
        raise invalid("TaskSpec: restart-window cannot be negative")


def _validate_update(config: Spec, label: str) -> None:
    """UpdateConfig / RollbackConfig: known action and order, sane numbers."""
    if config.get("FailureAction") and config["FailureAction"] not in FAILURE_ACTIONS:
        raise InvalidParameter(f"unrecognized FailureAction {config['FailureAction']}")
    if config.get("Order") and config["Order"] not in ORDERS:
        raise InvalidParameter(f"unrecognized UpdateConfig.Order {config['Order']}")
    if config.get("Delay", 0) < 0:
        raise invalid(f"TaskSpec: {label}-delay cannot be negative")
    if config.get("Monitor", 0) < 0:
        raise invalid(f"TaskSpec: {label}-monitor cannot be negative")
    if not 0 <= config.get("MaxFailureRatio", 0) <= 1:
        raise invalid(f"TaskSpec: {label}-maxfailureratio cannot be less than 0 or bigger than 1")


def _validate_ports(ports: list[Spec]) -> None:
    """EndpointSpec.Ports: no published port twice for one protocol and mode."""
    seen = set()
    for port in ports:
        published = port.get("PublishedPort", 0)
        if not published:
            continue
        key = (published, port.get("Protocol") or "tcp", port.get("PublishMode") or "ingress")
        if key in seen:
            raise invalid("EndpointSpec: duplicate published ports provided")
        seen.add(key)
