"""Copy an image directory into a new volume keeping ownership, modes, times, links and devices."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path


def copy_tree(src: Path, dst: Path) -> None:
    """Copy the content of directory `src` into existing directory `dst`; symlinks are copied, never followed."""
    links: dict[tuple[int, int], str] = {}
    _copy_meta(os.lstat(src), dst)
    for directory, dirs, files in os.walk(src, followlinks=False):
        rel = os.path.relpath(directory, src)
        target_dir = os.path.normpath(os.path.join(dst, rel))
        for name in dirs + files:
            _copy_entry(os.path.join(directory, name), os.path.join(target_dir, name), links)
    # directory times last: creating entries changed them
    for directory, dirs, _files in os.walk(src, topdown=False, followlinks=False):
        target_dir = os.path.normpath(os.path.join(dst, os.path.relpath(directory, src)))
        for name in dirs:
            info = os.lstat(os.path.join(directory, name))
            if stat.S_ISDIR(info.st_mode):
                os.utime(os.path.join(target_dir, name), ns=(info.st_atime_ns, info.st_mtime_ns))


def _copy_entry(source: str, target: str, links: dict[tuple[int, int], str]) -> None:
    """Recreate one entry (dir, file, symlink, fifo or device) at `target`."""
    info = os.lstat(source)
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        os.mkdir(target)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(source), target)
        os.lchown(target, info.st_uid, info.st_gid)
        return
    elif stat.S_ISREG(mode):
        key = (info.st_dev, info.st_ino)
        if info.st_nlink > 1 and key in links:
            os.link(links[key], target)
            return
        links[key] = target
        with open(source, "rb") as fin, open(target, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(target)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        os.mknod(target, mode, info.st_rdev)
    else:
        return  # sockets cannot be copied, as with docker
    _copy_meta(info, Path(target))


def _copy_meta(info: os.stat_result, target: Path) -> None:
    """Owner, mode (with setuid/setgid/sticky bits) and times of a copied entry."""
    os.lchown(target, info.st_uid, info.st_gid)
    os.chmod(target, stat.S_IMODE(info.st_mode))
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
