"""The test volume plugin: a rootfs of the host's static busybox, a static unix-socket acceptor built with gcc, and
a busybox sh script that answers docker's /VolumeDriver.* calls; everything it runs is inside its rootfs."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

from dockyard.tools.busybox_image import layer_tar

SOURCES = Path(__file__).resolve().parent / "volume_plugin"
SOCKET = "dyvol.sock"
CONFIG = {
    "Description": "Dockyard test volume plugin",
    "Documentation": "https://docs.docker.com/engine/extend/plugins_volume/",
    "Entrypoint": ["/usr/bin/unixserve", f"/run/docker/plugins/{SOCKET}", "/bin/sh", "/driver.sh"],
    "Interface": {"Socket": SOCKET, "Types": ["docker.volumedriver/1.0"]},
    "Network": {"Type": ""},
    "PropagatedMount": "/data",
    "Env": [{"Name": "DEBUG", "Description": "debug output", "Settable": ["value"], "Value": "0"},
            {"Name": "TMPFS", "Description": "1: each volume is a tmpfs the plugin mounts", "Settable": ["value"]}],
    "Args": {"Name": "args", "Description": "extra arguments", "Settable": ["value"], "Value": []},
    "Linux": {"Capabilities": ["CAP_SYS_ADMIN"]},
}


def build_plugin_dir(directory: Path, config: dict | None = None) -> Path:
    """`directory` with config.json and rootfs/ as `docker plugin create NAME DIR` takes them."""
    rootfs = directory / "rootfs"
    rootfs.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(layer_tar())) as layer:
        layer.extractall(rootfs, filter="tar")
    (rootfs / "usr" / "bin").mkdir(parents=True, exist_ok=True)
    subprocess.run(["gcc", "-static", "-Os", "-o", str(rootfs / "usr" / "bin" / "unixserve"),
                    str(SOURCES / "unixserve.c")], check=True, capture_output=True)
    shutil.copy(SOURCES / "driver.sh", rootfs / "driver.sh")
    for path in ("data", "run/docker/plugins"):
        (rootfs / path).mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config or CONFIG))
    return directory
