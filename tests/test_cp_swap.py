"""docker cp against a container that keeps swapping a directory for a symlink to a host path: no write and no
read may ever land on the host (the daemon resolves inside the container's root atomically)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("DOCKYARD_CP_SWAP_ROUNDS", "150"))
HOST_SECRET = b"HOST-SECRET-" + secrets.token_hex(8).encode()


def _swapper(clean, host_dir: Path) -> str:
    """A container flipping /w/d between a real directory and a symlink naming `host_dir` (which, inside the
    container, is a decoy directory of its own)."""
    box = f"cp-swap-{secrets.token_hex(3)}"
    script = (f"mkdir -p /w {host_dir} && echo decoy > {host_dir}/secret && touch /ready && "
              f"while :; do rm -rf /w/d; mkdir /w/d; echo container > /w/d/secret; rm -rf /w/d; "
              f"ln -s {host_dir} /w/d; done")
    result = clean.docker("run", "-d", "--network", "none", "--name", box, "busybox", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    for _ in range(200):
        if clean.docker("exec", box, "test", "-e", "/ready").returncode == 0:
            return box
        time.sleep(0.05)
    raise AssertionError("the swapping container did not start")


def test_cp_into_and_out_of_a_swapping_container_never_reaches_the_host(clean, need_docker_cli):
    host_dir = Path(tempfile.mkdtemp(prefix="dy-swap-"))
    (host_dir / "secret").write_bytes(HOST_SECRET)
    payload = Path(tempfile.mkdtemp(prefix="dy-swap-src-"))
    (payload / "planted").write_bytes(b"planted by cp\n")
    box = _swapper(clean, host_dir)
    try:
        wrote = read = 0
        for _ in range(ROUNDS):
            if clean.docker("cp", str(payload / "planted"), f"{box}:/w/d/").returncode == 0:
                wrote += 1
            out = clean.docker("cp", f"{box}:/w/d/secret", "-")
            assert HOST_SECRET not in out.stdout, "docker cp read a host file"
            read += out.returncode == 0
        assert sorted(os.listdir(host_dir)) == ["secret"], "docker cp wrote into a host directory"
        assert (host_dir / "secret").read_bytes() == HOST_SECRET
        assert wrote > 0 and read > 0, (wrote, read)  # the race was really run, not refused every time
    finally:
        clean.docker("rm", "-f", box)
        shutil.rmtree(host_dir)
        shutil.rmtree(payload)
