"""Regular files of recent build contexts, kept by content and attributes so a rebuild links them instead of
writing them again; each kept file's sha256 is remembered by inode for the COPY checksum."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tarfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Iterator

from dockyard.util.tarsafe import SafeExtractor

DEFAULT_BUDGET = 1 << 30
MEMORY_LIMIT = 16 << 20


class MemberData:
    """A member's data pieces, offered to SafeExtractor as if it read them from a tar file."""

    def __init__(self, pieces: Iterable[memoryview | bytes]) -> None:
        self._pieces = iter(pieces)

    def extractfile(self, member: tarfile.TarInfo) -> "MemberData":
        """SafeExtractor's view of a tar: this object is the member's file."""
        return self

    def read(self, size: int = -1) -> memoryview | bytes:
        """The next piece, whatever its size (shutil.copyfileobj calls this until it gets b"")."""
        return next(self._pieces, b"")


Attrs = tuple[int, int, int, float, tuple[tuple[str, str], ...]]
Place = tuple[int, str]  # a directory descriptor and a name in it


def file_attrs(member: tarfile.TarInfo) -> Attrs:
    """What besides content makes two context files interchangeable: mode, owner, mtime and xattrs."""
    xattrs = tuple(sorted((k, v) for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr.")))
    return (member.mode & 0o7777, member.uid, member.gid, member.mtime, xattrs)


def file_key(digest: str, attrs: Attrs) -> str:
    """The name a kept file goes by: its content digest and attributes, hashed."""
    return hashlib.sha256(repr((digest, attrs)).encode("utf-8", "surrogateescape")).hexdigest()


class ContextFiles:
    """Immutable files under `root` named by `file_key`; a context links them in. A file that comes again under
    the same name, size and attributes is compared byte for byte with the one kept last time (cheaper than
    hashing it). Pruned to `budget` bytes by least recent use, never while a context links a file."""

    def __init__(self, root: Path, budget: int = DEFAULT_BUDGET) -> None:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        self.root = root
        self.budget = budget
        self._lock = threading.Lock()
        self._used: OrderedDict[str, int] = OrderedDict()
        self._digests: dict[tuple[int, int], tuple[int, int, str]] = {}
        self._hints: dict[tuple[str, int, Attrs], str] = {}

    def place(self, name: str, member: tarfile.TarInfo, pieces: Iterable[memoryview], target: Place) -> None:
        """Link the file with this content and attributes to `target` (a directory descriptor and a name in it),
        keeping it first if it is new."""
        attrs = file_attrs(member)
        if member.size > MEMORY_LIMIT:
            digest = hashlib.sha256()
            temp = self._write(member, _hashed(pieces, digest))
            self._keep(file_key(digest.hexdigest(), attrs), digest.hexdigest(), temp, target)
            return
        held = list(pieces)
        hint = (name, member.size, attrs)
        key = self._same_as_hinted(hint, held)
        if key is None or not self._link_kept(key, target):
            digest = hashlib.sha256()
            for piece in held:
                digest.update(piece)
            key = file_key(digest.hexdigest(), attrs)
            if not self._link_kept(key, target):
                self._keep(key, digest.hexdigest(), self._write(member, held), target)
        self._hints[hint] = key

    def _same_as_hinted(self, hint: tuple[str, int, Attrs], held: list[memoryview]) -> str | None:
        """The key of the file kept last time under this name, size and attributes, if its bytes equal `held`."""
        key = self._hints.get(hint)
        with self._lock:
            if key is None or key not in self._used:
                return None
            fd = os.open(self.root / key, os.O_RDONLY | os.O_CLOEXEC)
        with open(fd, "rb") as kept:
            return key if kept.read() == b"".join(held) else None

    def _link_kept(self, key: str, target: Place) -> bool:
        """Link a kept file to `target` and mark it most recently used; False when no such file is kept."""
        with self._lock:
            if key not in self._used:
                return False
            self._used.move_to_end(key)
            os.link(self.root / key, target[1], dst_dir_fd=target[0])
            return True

    def _keep(self, key: str, digest: str, temp: Path, target: Place) -> None:
        """Keep a newly written file under its key (unless another build just kept the same) and link it."""
        st = os.lstat(temp)
        with self._lock:
            if key in self._used:
                os.unlink(temp)
            else:
                os.rename(temp, self.root / key)
                self._used[key] = st.st_size
                self._digests[(st.st_dev, st.st_ino)] = (st.st_size, st.st_mtime_ns, digest)
            self._used.move_to_end(key)
            os.link(self.root / key, target[1], dst_dir_fd=target[0])

    def _write(self, member: tarfile.TarInfo, pieces: Iterable[memoryview]) -> Path:
        """Write a new file under a temporary name, with mode, owner, xattrs and mtime from the header."""
        temp = f"tmp-{secrets.token_hex(8)}"
        with SafeExtractor(self.root) as extractor:
            extractor.extract(MemberData(pieces), member, temp)  # type: ignore[arg-type]
        return self.root / temp

    def digest_of(self, st: os.stat_result) -> str | None:
        """The sha256 of a regular file's content when it is one of ours (same inode, size and mtime)."""
        known = self._digests.get((st.st_dev, st.st_ino))
        if known is None or known[:2] != (st.st_size, st.st_mtime_ns):
            return None
        return known[2]

    def prune(self, budget: int | None = None) -> int:
        """Delete unlinked files, least recently used first, until the total fits `budget`; returns bytes freed."""
        limit = self.budget if budget is None else budget
        freed = 0
        with self._lock:
            total = sum(self._used.values())
            for key in list(self._used):
                if total <= limit:
                    break
                path = self.root / key
                st = os.lstat(path)
                if st.st_nlink > 1:
                    continue
                os.unlink(path)
                del self._used[key]
                self._digests.pop((st.st_dev, st.st_ino), None)
                total -= st.st_size
                freed += st.st_size
            self._hints = {hint: key for hint, key in self._hints.items() if key in self._used}
        return freed


def _hashed(pieces: Iterable[memoryview], digest: "hashlib._Hash") -> Iterator[memoryview]:
    """Pass pieces through, adding each to `digest`."""
    for piece in pieces:
        digest.update(piece)
        yield piece
