"""docker diff, commit and export: a container's changes, a new image from them, its flattened rootfs."""

from __future__ import annotations

import os
import stat
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO, Callable

from dockyard.containers.access import ContainerAccess
from dockyard.containers.protocols import CommitImages
from dockyard.containers.record import ContainerRecord
from dockyard.errors import InvalidParameter
from dockyard.snapshots.diff import changes, write_layer_tar
from dockyard.util import reference
from dockyard.util.configchanges import apply_changes
from dockyard.util.tartree import TreeWriter

# Mount points the runtime creates in the writable layer; docker keeps them in its hidden init layer.
RUNTIME_MOUNTPOINTS = frozenset({"dev", "dev/pts", "dev/shm", "dev/mqueue", "dev/console", "proc", "sys",
                                 "sys/fs/cgroup", "etc/hosts", "etc/hostname", "etc/resolv.conf", ".dockerenv"})


def _is_bare_mountpoint(upper: Path, rel: str) -> bool:
    """An empty file or a directory holding only other bare mount points, at a runtime mount point path."""
    if rel not in RUNTIME_MOUNTPOINTS:
        return False
    path = upper / rel
    info = os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        return info.st_size == 0
    if not stat.S_ISDIR(info.st_mode):
        return False
    return all(_is_bare_mountpoint(upper, f"{rel}/{child}") for child in os.listdir(path))


def hidden_paths(upper: Path, lowers: list[Path]) -> set[str]:
    """Relative paths of the upper layer docker would not show: bare runtime mount points (if the image lacks
    them) and directories that only changed because such mount points were created in them."""
    hidden = {rel for rel in RUNTIME_MOUNTPOINTS
              if os.path.lexists(upper / rel) and not any(os.path.lexists(lower / rel) for lower in lowers)
              and _is_bare_mountpoint(upper, rel)}
    for rel in sorted(hidden, key=lambda r: -r.count("/")):
        for parent in _parents(rel):
            if parent in hidden:
                continue
            children = {f"{parent}/{c}" for c in os.listdir(upper / parent)}
            if children <= hidden and os.path.lexists(upper / parent) and _same_as_lower(upper, lowers, parent):
                hidden.add(parent)
    return hidden


def _parents(rel: str) -> list[str]:
    """"a/b/c" -> ["a/b", "a"]."""
    parts = rel.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def _same_as_lower(upper: Path, lowers: list[Path], rel: str) -> bool:
    """The copied-up directory kept the mode and owner it has in the image."""
    mine = os.lstat(upper / rel)
    for lower in lowers:
        if os.path.lexists(lower / rel):
            theirs = os.lstat(lower / rel)
            return (mine.st_mode, mine.st_uid, mine.st_gid) == (theirs.st_mode, theirs.st_uid, theirs.st_gid)
    return False


def _hidden_or_below(rel: str, hidden: set[str]) -> bool:
    """`rel` is hidden or lies below a hidden path."""
    return rel in hidden or any(p in hidden for p in _parents(rel))


def container_changes(access: ContainerAccess, ref: str) -> list[dict[str, Any]]:
    """GET /containers/{id}/changes: docker's [{Path, Kind}] without the runtime's mount points."""
    upper, lowers = access.upper_and_lowers(access.doc(ref))
    hidden = hidden_paths(upper, lowers)
    return [c for c in changes(upper, lowers) if not _hidden_or_below(c["Path"].lstrip("/"), hidden)]


def _filtered_layer(upper: Path, hidden: set[str], out: BinaryIO) -> None:
    """write_layer_tar's output without the hidden entries (copied entry by entry through a pipe)."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        """Write the raw layer tar into the pipe."""
        try:
            with os.fdopen(write_fd, "wb") as pipe_out:
                write_layer_tar(upper, pipe_out)
        except BaseException as exc:  # re-raised in the calling thread below
            failure.append(exc)

    producer = threading.Thread(target=produce, name="layer-tar", daemon=True)
    producer.start()
    with os.fdopen(read_fd, "rb") as pipe_in:
        with tarfile.open(fileobj=pipe_in, mode="r|") as source, \
                tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as target:
            for member in source:
                if _hidden_or_below(member.name.rstrip("/"), hidden):
                    continue
                target.addfile(member, source.extractfile(member) if member.isreg() else None)
    producer.join()
    if failure:
        raise failure[0]


def merge_config(user: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    """docker's commit merge(): fill what the request's config left empty from the container's config."""
    out = dict(user)
    out["User"] = out.get("User") or container.get("User", "")
    ports = dict(container.get("ExposedPorts") or {})
    ports.update(out.get("ExposedPorts") or {})
    out["ExposedPorts"] = ports or None
    env = list(out.get("Env") or [])
    keys = {e.split("=", 1)[0] for e in env}
    out["Env"] = env + [e for e in container.get("Env") or [] if e.split("=", 1)[0] not in keys]
    out["Labels"] = {**(container.get("Labels") or {}), **(out.get("Labels") or {})}
    if not out.get("Entrypoint") and not out.get("Cmd"):
        out["Cmd"], out["Entrypoint"] = container.get("Cmd"), container.get("Entrypoint")
    out["WorkingDir"] = out.get("WorkingDir") or container.get("WorkingDir", "")
    out["Volumes"] = {**(out.get("Volumes") or {}), **(container.get("Volumes") or {})} or None
    out["StopSignal"] = out.get("StopSignal") or container.get("StopSignal")
    if out["StopSignal"] is None:
        del out["StopSignal"]
    return out


def build_layer(access: ContainerAccess, doc: ContainerRecord, out: BinaryIO) -> None:
    """The container's writable layer as a docker layer tar (runtime mount points left out)."""
    upper, lowers = access.upper_and_lowers(doc)
    _filtered_layer(upper, hidden_paths(upper, lowers), out)


def create_image(access: ContainerAccess, images: CommitImages, doc: ContainerRecord, layer: BinaryIO,
                 body: dict[str, Any] | None, changes_: list[str], comment: str, author: str) -> str:
    """Store the layer and a config (body or the container's, --change applied, merged); returns the image id."""
    if body is not None and not isinstance(body, dict):
        raise InvalidParameter("invalid JSON: the commit body must be a container config object")
    container_config = doc.config
    config = apply_changes(dict(body) if body is not None else dict(container_config), changes_)
    config = merge_config(config, container_config)
    parent = images.resolve(doc.image)
    created_by = " ".join(container_config.get("Cmd") or [])
    record = images.derive(parent, layer, config, created_by, comment=comment, author=author)
    return record.id


def commit(access: ContainerAccess, images: CommitImages, ref: str, body: Any, repo: str | None, tag: str | None,
           changes_: list[str], comment: str, author: str,
           pause: Callable[[], None] | None, unpause: Callable[[], None] | None) -> str:
    """POST /commit (blocking part): layer tar (paused if asked), image, tag, events; returns the image id."""
    doc = access.doc(ref)
    if repo is None and tag:
        raise InvalidParameter("invalid reference format: a tag needs a repository")
    with tempfile.TemporaryFile(dir=access.snapshots.root) as layer:
        if pause is not None:
            pause()
        try:
            build_layer(access, doc, layer)
        finally:
            if unpause is not None:
                unpause()
        layer.seek(0)
        image_id = create_image(access, images, doc, layer, body, changes_, comment, author)
    image_ref = ""
    if repo:
        images.tag(image_id, repo, tag or "")
        image_ref = reference.repo_tag(repo, tag or None).familiar()
    access.publish(doc, "commit", comment=comment, imageID=image_id, imageRef=image_ref)
    return image_id


def export_rootfs(access: ContainerAccess, doc: ContainerRecord, out: BinaryIO) -> None:
    """GET /containers/{id}/export: the merged rootfs as one tar (no whiteouts: it is the mounted view)."""
    with access.rootfs(doc) as rootfs:
        writer = TreeWriter(out)
        writer.add_children(rootfs)
        writer.close()
