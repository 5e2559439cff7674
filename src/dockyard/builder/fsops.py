"""COPY and ADD on a mounted rootfs: source resolution with wildcards, copies with owner/mode, tars, URLs."""

from __future__ import annotations

import fnmatch
import os
import posixpath
import shutil
import stat
import tarfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InvalidParameter
from dockyard.util.securejoin import secure_join
from dockyard.util.tarsafe import SafeExtractor, clean_name

_GLOB_CHARS = "*?["
_URL_TIMEOUT = 60


@dataclass
class Owner:
    """uid/gid given to copied files, and an optional mode override (--chmod)."""

    uid: int = 0
    gid: int = 0
    mode: int | None = None


def is_url(source: str) -> bool:
    """ADD sources starting with http:// or https:// are downloaded."""
    return source.startswith(("http://", "https://"))


def resolve_sources(root: Path, patterns: list[str], in_context: bool) -> list[tuple[Path, str]]:
    """Every (host path, name relative to `root`) a list of source patterns matches; an error for none."""
    found: list[tuple[Path, str]] = []
    for pattern in patterns:
        rel = posixpath.normpath("/" + pattern).lstrip("/") or "."
        matches = _glob(root, rel) if any(c in rel for c in _GLOB_CHARS) else [rel]
        hits = [(secure_join(root, m), m) for m in matches]
        hits = [(path, name) for path, name in hits if path.exists() or path.is_symlink()]
        if not hits:
            where = "file not found in build context or excluded by .dockerignore: " if in_context else ""
            raise InvalidParameter(f"failed to compute cache key: {where}stat {pattern}: file does not exist"
                                   if in_context else f"stat {pattern}: file does not exist")
        found.extend(hits)
    return found


def _glob(root: Path, pattern: str) -> list[str]:
    """Match a slash-separated pattern segment by segment (Go's filepath.Match per segment)."""
    current = [""]
    for segment in pattern.split("/"):
        following: list[str] = []
        for prefix in current:
            directory = secure_join(root, prefix) if prefix else root
            if not any(c in segment for c in _GLOB_CHARS):
                following.append(f"{prefix}/{segment}" if prefix else segment)
                continue
            if not directory.is_dir():
                continue
            for name in sorted(os.listdir(directory)):
                if fnmatch.fnmatchcase(name, segment):
                    following.append(f"{prefix}/{name}" if prefix else name)
        current = following
    return current


def destination(rootfs: Path, dest: str, workdir: str) -> tuple[Path, bool]:
    """The host path of a COPY destination inside `rootfs` and whether it names a directory."""
    absolute = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    wants_dir = dest.endswith("/") or dest in (".", "./") or dest.endswith("/.")
    path = secure_join(rootfs, absolute)
    return path, wants_dir or path.is_dir()


def copy_sources(sources: list[tuple[Path, str]], rootfs: Path, dest: str, workdir: str, owner: Owner,
                 extract_archives: bool) -> None:
    """Copy every source into the rootfs as docker's COPY (or ADD when `extract_archives`) does."""
    target, is_dir = destination(rootfs, dest, workdir)
    if len(sources) > 1 and not is_dir:
        raise InvalidParameter("When using COPY with more than one source file, "
                               "the destination must be a directory and end with a /")
    for path, name in sources:
        if path.is_dir() and not path.is_symlink():
            _make_dir(target, owner)
            _copy_tree(path, target, owner)
        elif extract_archives and _is_archive(path):
            _make_dir(target, owner)
            _extract(path, rootfs, target)
        else:
            out = target / posixpath.basename(name) if is_dir else target
            _make_dir(out.parent, owner if is_dir else Owner())
            _copy_entry(path, out, owner)


def _make_dir(path: Path, owner: Owner) -> None:
    """Create a destination directory (and missing parents, 0755) owned as the copy is."""
    if path.is_dir():
        return
    if path.exists() or path.is_symlink():
        path.unlink()
    path.mkdir(parents=True, mode=0o755)
    os.chown(path, owner.uid, owner.gid)


def _copy_tree(src: Path, dst: Path, owner: Owner) -> None:
    """Copy the contents of directory `src` into `dst`."""
    for name in sorted(os.listdir(src)):
        _copy_entry(src / name, dst / name, owner)


def _copy_entry(src: Path, dst: Path, owner: Owner) -> None:
    """Copy one file, symlink or directory (recursively), keeping mode and mtime, setting the owner."""
    st = os.lstat(src)
    if stat.S_ISDIR(st.st_mode):
        if not dst.is_dir() or dst.is_symlink():
            _remove(dst)
            dst.mkdir()
        _copy_tree(src, dst, owner)
    else:
        _remove(dst)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(src, dst)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(dst)
        else:
            raise InvalidParameter(f"cannot copy special file {src.name}")
    os.lchown(dst, owner.uid, owner.gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, owner.mode if owner.mode is not None else stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_file(src: Path, dst: Path) -> None:
    """Copy file bytes (the kernel's copy_file_range when it can)."""
    with open(src, "rb") as inp, open(dst, "xb") as out:
        shutil.copyfileobj(inp, out, 1 << 20)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _is_archive(path: Path) -> bool:
    """A local tar (plain, gzip, bzip2 or xz) that ADD extracts."""
    return path.is_file() and not path.is_symlink() and tarfile.is_tarfile(path)


def _extract(archive: Path, rootfs: Path, target: Path) -> None:
    """Unpack a local archive into `target`, its paths resolved inside `rootfs`: nothing escapes the rootfs."""
    base = str(target.relative_to(os.path.realpath(rootfs)))
    with SafeExtractor(rootfs, base) as extractor:
        try:
            with tarfile.open(archive, mode="r:*") as tar:
                for member in tar:
                    extractor.extract(tar, member, clean_name(member.name))
        except tarfile.TarError as exc:
            raise InvalidParameter(f"failed to extract {archive.name}: {exc}") from exc
        extractor.finish()


def download(url: str, directory: Path) -> tuple[Path, str]:
    """Fetch an ADD URL into `directory` (mode 0600, as docker does); returns (path, file name)."""
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "__unnamed__"
    if name in (".", ".."):
        name = "__unnamed__"
    path = directory / name
    try:
        with urllib.request.urlopen(url, timeout=_URL_TIMEOUT) as response, open(path, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:
        raise InvalidParameter(f"failed to download {url}: {exc}") from exc
    os.chmod(path, 0o600)
    return path, name
