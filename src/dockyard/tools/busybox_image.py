"""Build a deterministic busybox:latest docker archive from the host's static busybox and load it into a daemon.

Usage: python -m dockyard.tools.busybox_image [--host URL (default $DOCKER_HOST, else
unix:///run/dockyard/dockyard.sock)] [--tag busybox:latest] [--output FILE].
Client side: standard library and dockyard.util only.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from dockyard.util.digest import digest_bytes, hex_of
from dockyard.util.reference import parse_tagged

BUSYBOX = Path("/usr/bin/busybox")
MTIME = 1704067200  # 2024-01-01T00:00:00Z: fixed so the image id never changes
CREATED = "2024-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = b"root:x:0:\nnobody:x:65534:\n"
DIRS = {"bin": 0o755, "etc": 0o755, "home": 0o755, "root": 0o700, "tmp": 0o1777,
        "usr": 0o755, "var": 0o755}


def applets(busybox: Path = BUSYBOX) -> list[str]:
    """Applet names the binary provides (`busybox --list`), sorted."""
    listed = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({name for name in listed.split() if name and "/" not in name and name != "busybox"})


def _member(name: str, kind: bytes, mode: int, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname, info.mtime = kind, mode, size, linkname, MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def layer_tar(busybox: Path = BUSYBOX) -> bytes:
    """The single layer: /bin/busybox, a hard link per applet, /etc/passwd, /etc/group and the usual dirs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, mode in sorted(DIRS.items()):
            tar.addfile(_member(name + "/", tarfile.DIRTYPE, mode))
        binary = busybox.read_bytes()
        tar.addfile(_member("bin/busybox", tarfile.REGTYPE, 0o755, len(binary)), io.BytesIO(binary))
        for applet in applets(busybox):
            tar.addfile(_member(f"bin/{applet}", tarfile.LNKTYPE, 0o755, linkname="bin/busybox"))
        for name, data in (("etc/group", GROUP), ("etc/passwd", PASSWD)):
            tar.addfile(_member(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return buffer.getvalue()


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def build_archive(out: BinaryIO, tag: str = "busybox:latest") -> None:
    """Write the image as a docker 25-style archive (OCI layout + manifest.json + repositories) to `out`."""
    ref = parse_tagged(tag)
    layer = layer_tar()
    layer_digest = digest_bytes(layer)
    config = _json({
        "architecture": "amd64", "os": "linux", "created": CREATED,
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [
            {"created": CREATED, "created_by": "/bin/sh -c #(nop) ADD file:busybox-static in / "},
            {"created": CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
        ],
    })
    config_digest = digest_bytes(config)
    manifest = _json({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": len(layer)}],
    })
    manifest_digest = digest_bytes(manifest)
    index = _json({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
        "size": len(manifest),
        "annotations": {"io.containerd.image.name": str(ref), "org.opencontainers.image.ref.name": ref.tag},
    }]})
    legacy = _json([{"Config": f"blobs/sha256/{hex_of(config_digest)}", "RepoTags": [ref.familiar()],
                     "Layers": [f"blobs/sha256/{hex_of(layer_digest)}"]}])
    repositories = _json({ref.familiar_name(): {ref.tag: hex_of(layer_digest)}})
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_member("blobs/", tarfile.DIRTYPE, 0o755))
        tar.addfile(_member("blobs/sha256/", tarfile.DIRTYPE, 0o755))
        for digest, data in ((layer_digest, layer), (config_digest, config), (manifest_digest, manifest)):
            tar.addfile(_member(f"blobs/sha256/{hex_of(digest)}", tarfile.REGTYPE, 0o644, len(data)),
                        io.BytesIO(data))
        for name, data in (("index.json", index), ("manifest.json", legacy), ("oci-layout",
                           b'{"imageLayoutVersion":"1.0.0"}'), ("repositories", repositories)):
            tar.addfile(_member(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))


class _UnixConnection(http.client.HTTPConnection):
    """http.client over a unix socket."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        """Connect to the daemon's socket."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def _connection(host: str) -> http.client.HTTPConnection:
    url = urlparse(host)
    if url.scheme == "unix":
        return _UnixConnection(url.path)
    if url.scheme in ("tcp", "http"):
        return http.client.HTTPConnection(url.hostname or "localhost", url.port or 2375)
    raise SystemExit(f"unsupported host {host!r}")


def load(host: str, archive: bytes) -> list[str]:
    """POST the archive to /images/load; returns the daemon's stream lines, raises on an error."""
    conn = _connection(host)
    conn.request("POST", "/images/load", body=archive, headers={"Content-Type": "application/x-tar"})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"load failed ({response.status}): {body.strip()}")
    lines = []
    for line in body.splitlines():
        message = json.loads(line) if line.strip() else {}
        if "error" in message:
            raise RuntimeError(message["error"])
        if "stream" in message:
            lines.append(message["stream"])
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="busybox_image", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("DOCKER_HOST") or "unix:///run/dockyard/dockyard.sock",
                        help="daemon to load into (default: $DOCKER_HOST, else the default socket)")
    parser.add_argument("--tag", default="busybox:latest")
    parser.add_argument("--output", help="write the archive to this file instead of loading it")
    args = parser.parse_args(argv)
    buffer = io.BytesIO()
    build_archive(buffer, args.tag)
    if args.output:
        Path(args.output).write_bytes(buffer.getvalue())
        return 0
    try:
        for line in load(args.host, buffer.getvalue()):
            sys.stdout.write(line)
    except (OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
