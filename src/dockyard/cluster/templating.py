"""Templated secrets and configs (swarmkit's `template/context.go`, `expand.go`): a secret or config created with
`Templating: {Name: golang}` is rendered for each task that uses it, as Go's text/template (`util/gotemplate`, with
Go's own functions, swarmkit's `join` and `missingkey=error`, not the docker CLI's additions) over
`.Service.{ID,Name,Labels}`, `.Node.{ID,Hostname,Platform.{Architecture,OS}}`, `.Task.{ID,Name,Slot}`, with the
functions `env` (the task's own environment), `secret` and `config` (another secret or config of the task, by its
target file name, unrendered). The dispatcher renders them; a template that cannot be rendered leaves the task's
error instead, and the agent rejects the task with it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from typing import Any, Callable

from dockyard.cluster import tasks as T
from dockyard.errors import InvalidParameter
from dockyard.util import gotemplate

GOLANG = "golang"
ID_KEYS = {"secrets": "SecretID", "configs": "ConfigID"}
Reveal = Callable[[str, str], bytes]


class TemplateError(InvalidParameter):
    """A templated secret or config that cannot be rendered; the message is Go's."""


@dataclass
class GoStruct:
    """A Go struct: fields are attributes, printed as fmt's `{a b}`."""

    def __str__(self) -> str:
        return "{" + " ".join(gotemplate.go_str(getattr(self, f.name), False) for f in fields(self)) + "}"


@dataclass
class Platform(GoStruct):
    """The node's platform."""

    Architecture: str
    OS: str


@dataclass
class ServiceInfo(GoStruct):
    """The task's service."""

    ID: str
    Name: str
    Labels: dict[str, str]


@dataclass
class NodeInfo(GoStruct):
    """The task's node."""

    ID: str
    Hostname: str
    Platform: Platform


@dataclass
class TaskInfo(GoStruct):
    """The task."""

    ID: str
    Name: str
    Slot: str


@dataclass
class Context(GoStruct):
    """swarmkit's template Context."""

    Service: ServiceInfo
    Node: NodeInfo
    Task: TaskInfo


def context(task: T.Task, service: dict[str, Any] | None, node: dict[str, Any] | None) -> Context:
    """The template context of a task."""
    spec = (service or {}).get("Spec") or {}
    description = (node or {}).get("Description") or {}
    platform = description.get("Platform") or {}
    return Context(ServiceInfo(task["ServiceID"], spec.get("Name", ""), dict(spec.get("Labels") or {})),
                   NodeInfo(task.get("NodeID", ""), description.get("Hostname", ""),
                            Platform(platform.get("Architecture", ""), platform.get("OS", ""))),
                   TaskInfo(task["ID"], T.task_name(task, spec.get("Name", "")),
                            str(task.get("Slot") or task.get("NodeID", ""))))


def render(templating: dict[str, Any], payload: bytes, task: T.Task, service: dict[str, Any] | None,
           node: dict[str, Any] | None, reveal: Reveal) -> bytes:
    """A templated payload rendered for a task (`reveal(kind, id)`: another object's plaintext), or
    TemplateError."""
    if templating.get("Name") != GOLANG:
        raise TemplateError("unrecognized template type")
    container = task["Spec"].get("ContainerSpec") or {}

    def getter(kind: str) -> Callable[[str], str]:
        def get(target: str) -> str:
            for ref in container.get(kind.title()) or []:
                if (ref.get("File") or {}).get("Name") == target:
                    return _text(reveal(kind, ref[ID_KEYS[kind]]))
            raise ValueError(f"{kind[:-1]} target {target} not found")
        return get

    def env(variable: str) -> str:
        for entry in container.get("Env") or []:
            name, sep, value = entry.partition("=")
            if sep and name == variable:
                return value
        return ""
    functions = {"env": env, "secret": getter("secrets"), "config": getter("configs")}
    return expand(_text(payload), context(task, service, node), functions).encode("utf-8", "surrogateescape")


def expand(text: str, ctx: Context, functions: dict[str, Callable[..., Any]] | None = None) -> str:
    """`text` executed as swarmkit's "expansion" template over `ctx` (Go's functions, swarmkit's `join`, the
    given ones), or TemplateError with Go's text."""
    if "{{" not in text:
        return text  # nothing to expand (most values): no parse
    try:
        template = gotemplate.Template(text, missing_key_error=True, funcs={"join": _join, **(functions or {})},
                                       base=gotemplate.GO_FUNCS)
        return template.execute(ctx)
    except gotemplate.TemplateError as exc:
        raise TemplateError(str(exc).replace('template: :', "template: expansion:", 1)
                            .replace('executing ""', 'executing "expansion"', 1)) from None


def _templated(container: dict[str, Any]) -> bool:
    """Whether any field swarmkit expands holds a template action."""
    fields_ = [container.get("Hostname") or "", *(container.get("Env") or [])]
    for mount in container.get("Mounts") or []:
        options = mount.get("VolumeOptions") or {}
        fields_ += [mount.get("Source") or "", mount.get("Target") or "", *(options.get("Labels") or {}).values(),
                    *((options.get("DriverConfig") or {}).get("Options") or {}).values()]
    return any("{{" in text for text in fields_)


def _join(separator: str, *parts: str) -> str:
    """swarmkit's `join`: the parts joined by the first argument."""
    return separator.join(parts)


def expand_container(task: T.Task, service: dict[str, Any] | None, node: dict[str, Any] | None) -> T.Task:
    """A copy of the task whose ContainerSpec has its templates expanded as swarmkit's agent does
    (`ExpandContainerSpec`: each Env value, the Hostname, each mount's Source and Target and its volume labels and
    driver options), or TemplateError with swarmkit's texts."""
    container = task["Spec"].get("ContainerSpec")
    if not container or not _templated(container):
        return task  # the common case: nothing to expand, nothing copied
    ctx = context(task, service, node)
    expanded = copy.deepcopy(container)
    env = []
    for entry in container.get("Env") or []:
        name, sep, value = entry.partition("=")
        try:
            env.append(f"{name}={expand(value, ctx)}" if sep else entry)
        except TemplateError as exc:
            raise TemplateError(f'expanding env failed: expanding env "{entry}": {exc.message}') from None
    if "Env" in container:
        expanded["Env"] = env
    for mount in expanded.get("Mounts") or []:
        for key in [key for key in ("Source", "Target") if key in mount]:
            try:
                mount[key] = expand(mount[key], ctx)
            except TemplateError as exc:
                raise TemplateError(f'expanding mounts failed: expanding mount {key.lower()} "{mount[key]}": '
                                    f"{exc.message}") from None
        options = mount.get("VolumeOptions") or {}
        for owner, key in ((options, "Labels"), (options.get("DriverConfig") or {}, "Options")):
            try:
                owner.update({key: {k: expand(v, ctx) for k, v in owner[key].items()}} if owner.get(key) else {})
            except TemplateError as exc:
                raise TemplateError(f"expanding mounts failed: expanding {key.lower()}: {exc.message}") from None
    try:
        if container.get("Hostname"):
            expanded["Hostname"] = expand(container["Hostname"], ctx)
    except TemplateError as exc:
        raise TemplateError(f"expanding hostname failed: {exc.message}") from None
    return {**task, "Spec": {**task["Spec"], "ContainerSpec": expanded}}


def _text(data: bytes) -> str:
    """Bytes as a Go string (any byte sequence round-trips)."""
    return data.decode("utf-8", "surrogateescape")


def task_key(object_id: str, task_id: str) -> str:
    """Where a task's rendering of an object sits in the assignment's data."""
    return f"{object_id}@{task_id}"
