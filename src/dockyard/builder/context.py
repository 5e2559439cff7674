"""The build context: extracted safely from the request's tar stream, then filtered by .dockerignore."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import BinaryIO

from dockyard.util.dockerignore import IgnoreMatcher, read_patterns
from dockyard.errors import InvalidParameter
from dockyard.util.tarsafe import SafeExtractor, clean_name, decompressed

DOCKERIGNORE = ".dockerignore"


def extract_context(stream: BinaryIO, dest: Path) -> None:
    """Unpack a (plain or gzip) context tar into `dest`; refuses `../`, absolute names, devices and escaping links."""
    dest.mkdir(parents=True, exist_ok=True)
    extractor = SafeExtractor(dest)
    try:
        with tarfile.open(fileobj=decompressed(stream), mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                _check_member(member)
                extractor.extract(tar, member, clean_name(member.name))
    except tarfile.TarError as exc:
        raise InvalidParameter(f"failed to read the build context: {exc}") from exc
    extractor.finish()


def _check_member(member: tarfile.TarInfo) -> None:
    """Refuse entries a build context has no business carrying."""
    if member.name.startswith("/"):
        raise InvalidParameter(f"invalid build context entry {member.name!r}: absolute path")
    clean_name(member.name)
    if member.ischr() or member.isblk():
        raise InvalidParameter(f"invalid build context entry {member.name!r}: device files are not allowed")
    if member.islnk():
        clean_name(member.linkname)


def apply_dockerignore(root: Path, keep: tuple[str, ...] = ()) -> None:
    """Delete what the context's .dockerignore excludes (never the Dockerfile and .dockerignore in `keep`)."""
    ignore_file = root / DOCKERIGNORE
    if not ignore_file.is_file() or ignore_file.is_symlink():
        return
    matcher = IgnoreMatcher(read_patterns(ignore_file.read_text(errors="replace")))
    if not matcher.patterns:
        return
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        for name in list(dirs):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if matcher.excluded(rel) and not matcher.has_exceptions:
                shutil.rmtree(os.path.join(directory, name))
                dirs.remove(name)
        for name in files:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if rel not in keep and matcher.excluded(rel):
                os.unlink(os.path.join(directory, name))
