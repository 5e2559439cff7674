"""Templated secrets and configs (swarmkit's `template/context.go`, `expand.go`): a secret or config created with
`Templating: {Name: golang}` is rendered for each task that uses it with `.Service.{ID,Name,Labels}`,
`.Node.{ID,Hostname,Platform.{Architecture,OS}}`, `.Task.{ID,Name,Slot}` and the functions `env` (the task's own
environment), `secret` and `config` (another secret or config of the task, by its target file name, unrendered).
The dispatcher renders them; a template that cannot be rendered leaves the task's error instead, and the agent
rejects the task with it."""

from __future__ import annotations

from typing import Any, Callable

from dockyard.cluster import tasks as T
from dockyard.cluster.template import Struct, TemplateError, expand

GOLANG = "golang"
ID_KEYS = {"secrets": "SecretID", "configs": "ConfigID"}
Reveal = Callable[[str, str], bytes]


def context(task: T.Task, service: dict[str, Any] | None, node: dict[str, Any] | None) -> Struct:
    """swarmkit's template Context for a task."""
    spec = (service or {}).get("Spec") or {}
    description = (node or {}).get("Description") or {}
    platform = description.get("Platform") or {}
    return Struct(
        Service=Struct(ID=task["ServiceID"], Name=spec.get("Name", ""), Labels=dict(spec.get("Labels") or {})),
        Node=Struct(ID=task.get("NodeID", ""), Hostname=description.get("Hostname", ""),
                    Platform=Struct(Architecture=platform.get("Architecture", ""), OS=platform.get("OS", ""))),
        Task=Struct(ID=task["ID"], Name=T.task_name(task, spec.get("Name", "")),
                    Slot=str(task.get("Slot") or task.get("NodeID", ""))))


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


def _text(data: bytes) -> str:
    """Bytes as a Go string (any byte sequence round-trips)."""
    return data.decode("utf-8", "surrogateescape")


def task_key(object_id: str, task_id: str) -> str:
    """Where a task's rendering of an object sits in the assignment's data."""
    return f"{object_id}@{task_id}"
