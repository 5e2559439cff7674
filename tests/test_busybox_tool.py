"""The busybox image tool loads into the daemon DOCKER_HOST names when --host is not given."""

from __future__ import annotations

import subprocess
import sys

from daemon_harness import REPO


def test_busybox_image_honours_docker_host(clean):
    clean.request("DELETE", "/images/busybox-from-env:latest")
    result = subprocess.run([sys.executable, "-m", "dockyard.tools.busybox_image", "--tag", "busybox-from-env:latest"],
                            env=clean.env(), capture_output=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    try:
        assert clean.request("GET", "/images/busybox-from-env:latest/json")[0] == 200
    finally:
        clean.request("DELETE", "/images/busybox-from-env:latest")
