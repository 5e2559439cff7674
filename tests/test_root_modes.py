"""What an image brings is contained by the daemon's own settings: a setuid-root file is out of reach of other
host users (the data root and the exec root's bundles cannot be traversed by them), and the largest file an
archive may bring is daemon.json's max-extract-file-size."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from daemon_harness import destroy, new_daemon
from helpers import file_member, tar_files, tar_of



def as_nobody(*argv: str) -> subprocess.CompletedProcess:
    """Run a command as the host user nobody, the way the issue's reproducer did (su, a login-less shell)."""
    return subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c", shlex.join(argv)], capture_output=True)


def _suid_image() -> bytes:
    """A one-file image: /bin/suid, a setuid-root copy of the host's `id`."""
    data = Path(shutil.which("id") or "/usr/bin/id").read_bytes()
    return tar_of(file_member("bin/suid", data, mode=0o4755))


def test_nobody_cannot_reach_files_under_the_roots(need_docker_cli):
    daemon = new_daemon()
    os.chmod(daemon.base, 0o755)  # only the roots' own modes stand between other users and the files
    daemon.start()
    try:
        assert daemon.docker("import", "-", "suidprobe", input=_suid_image()).returncode == 0
        created = daemon.docker("create", "suidprobe", "/bin/suid")
        assert created.returncode == 0, created.stderr
        container = created.stdout.decode().strip()
        copies = [p for p in daemon.data_root.glob("snapshots/*/fs/bin/suid")]
        assert copies, "the layer was not found under the data root"
        for path in copies:
            assert os.stat(path).st_mode & 0o4000  # the file is there and setuid for root ...
            probe = as_nobody(str(path))
            assert probe.returncode != 0 and b"uid=" not in probe.stdout, probe  # ... and nobody cannot run it
        assert os.stat(daemon.data_root).st_mode & 0o7777 == 0o710
        assert os.stat(daemon.exec_root / "containers").st_mode & 0o7777 == 0o700
        for path in (daemon.data_root / "containers" / container, daemon.exec_root / "containers" / container):
            listing = as_nobody("ls", str(path))
            assert listing.returncode != 0, listing
        # the socket stays reachable through the exec root for whom its own mode allows
        assert os.stat(daemon.exec_root).st_mode & 0o7777 == 0o711
    finally:
        destroy(daemon)


def test_max_extract_file_size_from_daemon_json(need_docker_cli):
    daemon = new_daemon()
    daemon.base.mkdir(parents=True, exist_ok=True)
    (daemon.base / "daemon.json").write_text('{"max-extract-file-size": 1024}')
    daemon.start()
    try:
        layer = tar_files({"small": b"x" * 1024, "big": b"x" * 1025})
        result = daemon.docker("import", "-", "limited", input=layer)
        assert result.returncode != 0
        assert b"declares 1025 bytes, over the limit of 1024" in result.stderr, result.stderr
    finally:
        destroy(daemon)
