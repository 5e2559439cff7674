"""Secrets and configs delivered into a task (swarmkit's guarantees): a tmpfs per task under the exec root
(`<exec-root>/swarm/mounts/<task id>`, mode 0700, sized to its files: a page each, plus their pages), one file per
reference with its UID, GID and mode (0444 by default; a templated one as the dispatcher rendered it for the
task), bind-mounted read-only at `/run/secrets/<name>` for secrets and
at the config's target (`/<name>` unless absolute) for configs; unmounted and removed with the task. The data comes
from the assignment, in memory: nothing is written to disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from dockyard.cluster.templating import TemplateError, task_key
from dockyard.util import linux

PAGE = 4096
DEFAULT_MODE = 0o444
SECRETS_DIR = "/run/secrets"


def _target(kind: str, name: str) -> str:
    """Where the file appears in the container."""
    if kind == "secrets":
        return name if name.startswith("/") else f"{SECRETS_DIR}/{name}"
    return name if name.startswith("/") else f"/{name}"


class TaskFiles:
    """The per-task tmpfs mounts of one node."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def references(self, task: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(kind, reference) of every secret and config the task's container uses."""
        container = task["Spec"].get("ContainerSpec") or {}
        return [("secrets", ref) for ref in container.get("Secrets") or []] + \
               [("configs", ref) for ref in container.get("Configs") or [] if ref.get("File")]

    def materialise(self, task: dict[str, Any], data: dict[str, dict[str, bytes]]) -> list[dict[str, Any]]:
        """Write the task's files on its tmpfs (blocking); the bind mounts for its container."""
        refs = self.references(task)
        if not refs:
            return []
        payloads = [payload(data, kind, ref[_id_key(kind)], task["ID"]) for kind, ref in refs]
        directory = self.root / task["ID"]
        size = sum(-(-len(content) // PAGE) * PAGE + PAGE for content in payloads)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not os.path.ismount(directory):
            linux.mount("tmpfs", str(directory), "tmpfs", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC,
                        f"size={size},mode=0700")
        mounts = []
        for index, (kind, ref) in enumerate(refs):
            file = ref.get("File") or {}
            name = file.get("Name") or ref.get("SecretName") or ref.get("ConfigName") or ""
            path = directory / f"{kind}-{index}"
            path.write_bytes(payloads[index])
            os.chown(path, int(file.get("UID") or 0), int(file.get("GID") or 0))
            os.chmod(path, file.get("Mode", DEFAULT_MODE) & 0o7777)
            mounts.append({"Type": "bind", "Source": str(path), "Target": _target(kind, name), "ReadOnly": True})
        return mounts

    def remove(self, task_id: str) -> None:
        """Unmount and delete a task's tmpfs (blocking)."""
        directory = self.root / task_id
        if os.path.ismount(directory):
            linux.umount2(str(directory), linux.MNT_DETACH)
        if directory.exists():
            shutil.rmtree(directory)

    def remove_all(self) -> None:
        """Every task's tmpfs (leaving the swarm)."""
        if self.root.exists():
            for directory in self.root.iterdir():
                self.remove(directory.name)


def payload(data: dict[str, dict[str, bytes]], kind: str, object_id: str, task_id: str) -> bytes:
    """An object's content for a task: its rendering for the task when templated (TemplateError with the
    dispatcher's text when that failed), else its data (KeyError when the assignment lacks it)."""
    key = task_key(object_id, task_id)
    if key in data.get("errors", {}):
        raise TemplateError(data["errors"][key].decode())
    return data[kind][key] if key in data[kind] else data[kind][object_id]


def _id_key(kind: str) -> str:
    """The reference's id field."""
    return "SecretID" if kind == "secrets" else "ConfigID"
