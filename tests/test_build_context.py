"""The context receiver: tar stream parsing, kept context files, and content digests for the COPY checksum."""

from __future__ import annotations

import asyncio
import gzip
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.builder import ctxfiles
from dockyard.builder.cache import checksum_paths
from dockyard.builder.context import ContextReceiver
from dockyard.builder.ctxfiles import ContextFiles
from dockyard.errors import InvalidParameter
from helpers import TarMember, tar_of

LONG = "d" * 120 + "/" + "f" * 130


def _tar(entries: list[tuple[str, bytes | None, dict]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar of (name, data or None for a directory, extra TarInfo fields)."""
    return tar_of(*(_member(name, data, extra) for name, data, extra in entries), fmt=fmt)


def _member(name: str, data: bytes | None, extra: dict) -> TarMember:
    info = tarfile.TarInfo(name)
    info.mtime = 1_700_000_000
    info.mode = 0o644
    for key, value in extra.items():
        setattr(info, key, value)
    if data is None and "type" not in extra:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    info.size = len(data) if data is not None else 0
    return info, data


def _receive(data: bytes, dest: Path, files: ContextFiles, piece: int = 7000) -> None:
    """Feed the tar in odd-sized pieces, as a socket would."""
    async def feed() -> None:
        receiver = ContextReceiver(dest, files)
        for offset in range(0, len(data), piece):
            await receiver.feed(data[offset:offset + piece])
        await receiver.finish()
    asyncio.run(feed())


SAMPLE = [("dir", None, {}), ("dir/a.txt", b"alpha\n" * 5000, {}), ("b.bin", os.urandom(3000), {"mode": 0o700}),
          ("link", None, {"type": tarfile.SYMTYPE, "linkname": "dir/a.txt"}),
          ("hard", None, {"type": tarfile.LNKTYPE, "linkname": "b.bin"}), (LONG, b"long name\n", {})]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
@pytest.mark.parametrize("compress", [False, True])
def test_unpacks_every_kind_of_entry(tmp_path: Path, fmt: int, compress: bool) -> None:
    data = _tar(SAMPLE, fmt)
    _receive(gzip.compress(data) if compress else data, tmp_path / "ctx", ContextFiles(tmp_path / "files"))
    ctx = tmp_path / "ctx"
    assert (ctx / "dir/a.txt").read_bytes() == b"alpha\n" * 5000
    assert os.stat(ctx / "b.bin").st_mode & 0o7777 == 0o700
    assert os.readlink(ctx / "link") == "dir/a.txt"
    assert os.stat(ctx / "hard").st_ino == os.stat(ctx / "b.bin").st_ino
    assert (ctx / LONG).read_text() == "long name\n"
    assert os.stat(ctx / "dir/a.txt").st_mtime == 1_700_000_000


def test_rebuild_links_kept_files_and_knows_their_digests(tmp_path: Path) -> None:
    files = ContextFiles(tmp_path / "files")
    data = _tar(SAMPLE)
    _receive(data, tmp_path / "one", files)
    _receive(data, tmp_path / "two", files)
    one, two = tmp_path / "one/dir/a.txt", tmp_path / "two/dir/a.txt"
    assert os.stat(one).st_ino == os.stat(two).st_ino
    assert files.digest_of(os.stat(two)) is not None
    sources = [(tmp_path / "two/dir", "dir"), (tmp_path / "two/b.bin", "b.bin")]
    assert checksum_paths(sources, files.digest_of) == checksum_paths(sources)


def test_same_name_size_and_attributes_but_new_bytes_is_a_new_file(tmp_path: Path) -> None:
    files = ContextFiles(tmp_path / "files")
    _receive(_tar([("f", b"A" * 4096, {})]), tmp_path / "one", files)
    _receive(_tar([("f", b"A" * 4095 + b"B", {})]), tmp_path / "two", files)
    assert (tmp_path / "one/f").read_bytes() == b"A" * 4096
    assert (tmp_path / "two/f").read_bytes() == b"A" * 4095 + b"B"
    first, second = checksum_paths([(tmp_path / "one/f", "f")], files.digest_of), \
        checksum_paths([(tmp_path / "two/f", "f")], files.digest_of)
    assert first != second
    assert second == checksum_paths([(tmp_path / "two/f", "f")])


def test_large_files_are_streamed_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctxfiles, "MEMORY_LIMIT", 1024)
    files = ContextFiles(tmp_path / "files")
    blob = os.urandom(50_000)
    _receive(_tar([("big", blob, {})]), tmp_path / "one", files)
    _receive(_tar([("big", blob, {})]), tmp_path / "two", files)
    assert (tmp_path / "two/big").read_bytes() == blob
    assert os.stat(tmp_path / "one/big").st_ino == os.stat(tmp_path / "two/big").st_ino
    assert sorted(p.name[:4] for p in (tmp_path / "files").iterdir()) != ["tmp-"]
    assert len(list((tmp_path / "files").iterdir())) == 1


def test_prune_keeps_linked_files_within_budget(tmp_path: Path) -> None:
    files = ContextFiles(tmp_path / "files", budget=0)
    _receive(_tar([("a", b"a" * 100, {}), ("b", b"b" * 100, {})]), tmp_path / "one", files)
    assert files.prune() == 0  # both still linked from the context
    (tmp_path / "one/a").unlink()
    assert files.prune() == 100
    (tmp_path / "one/b").unlink()
    assert files.prune() == 100
    assert not list((tmp_path / "files").iterdir())


@pytest.mark.parametrize("data, message", [
    (_tar([("../escape", b"x", {})]), "escapes"),
    (_tar([("f", b"x", {})])[:700], "unexpected EOF"),
    (b"\x01" * 1024, "build context"),
    (_tar([("dev", None, {"type": tarfile.CHRTYPE})]), "device"),
    (gzip.compress(_tar([("f", b"x", {})]))[:40], "gzip"),
])
def test_bad_streams_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        _receive(data, tmp_path / "ctx", ContextFiles(tmp_path / "files"))
    assert not (tmp_path.parent / "escape").exists()


def test_hard_link_headers_never_change_a_kept_file(tmp_path: Path) -> None:
    files = ContextFiles(tmp_path / "files")
    entries = [("f", b"shared", {"mode": 0o700}), ("h", None, {"type": tarfile.LNKTYPE, "linkname": "f",
                                                             "mode": 0o666, "mtime": 5})]
    _receive(_tar(entries), tmp_path / "one", files)
    st = os.stat(tmp_path / "one/h")
    assert (st.st_mode & 0o7777, st.st_mtime) == (0o700, 1_700_000_000)
    assert os.stat(tmp_path / "one/f").st_ino == st.st_ino
