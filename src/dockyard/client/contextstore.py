"""The docker CLI's context store, on disk as it keeps it, so `docker context` and `dockyard context` share it:
`<config dir>/contexts/meta/<sha256 of name>/meta.json` and TLS files in
`<config dir>/contexts/tls/<sha256 of name>/docker/{ca,cert,key}.pem` (0600)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.client.configfile import config_dir
from dockyard.client.endpoint import Endpoint, TLSOptions

DEFAULT = "default"
DEFAULT_DESCRIPTION = "Current DOCKER_HOST based configuration"
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
_VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.+-]+\Z")
_MAX_IMPORT = 10 << 20


class ContextError(Exception):
    """A context that cannot be used or stored; the message is the docker CLI's."""


def validate_name(name: str) -> None:
    """docker's ValidateContextName."""
    if not name:
        raise ContextError("context name cannot be empty")
    if name == DEFAULT:
        raise ContextError('"default" is a reserved context name')
    if not _VALID_NAME.match(name):
        raise ContextError(f'context name "{name}" is invalid, names are validated against regexp '
                           '"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$"')


class ContextStore:
    """Read and write contexts in a configuration directory."""

    def __init__(self, root: Path | None = None) -> None:
        base = (root or config_dir()) / "contexts"
        self.meta_root = base / "meta"
        self.tls_root = base / "tls"

    @staticmethod
    def dir_name(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()

    def meta_dir(self, name: str) -> Path:
        return self.meta_root / self.dir_name(name)

    def tls_dir(self, name: str) -> Path:
        return self.tls_root / self.dir_name(name)

    def exists(self, name: str) -> bool:
        return (self.meta_dir(name) / "meta.json").is_file()

    def get(self, name: str) -> dict[str, Any]:
        """The raw meta.json of a context (unknown keys kept), or docker's not-found error."""
        path = self.meta_dir(name) / "meta.json"
        try:
            meta = json.loads(path.read_text())
        except FileNotFoundError:
            raise ContextError(f'context "{name}": context not found: open {path}: no such file or directory') \
                from None
        except ValueError as bad:
            raise ContextError(f"parsing {path}: {bad}") from None
        if not isinstance(meta, dict):
            raise ContextError(f"parsing {path}: not a JSON object")
        return meta

    def names(self) -> list[str]:
        """Every stored context's name."""
        found = []
        if self.meta_root.is_dir():
            for entry in self.meta_root.iterdir():
                try:
                    found.append(json.loads((entry / "meta.json").read_text())["Name"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # not a context directory: docker skips it too
        return found

    def save(self, meta: dict[str, Any]) -> None:
        """Write meta.json (0644) atomically."""
        from dockyard.util.atomic import write_atomic
        folder = self.meta_dir(meta["Name"])
        folder.mkdir(parents=True, exist_ok=True, mode=0o755)
        write_atomic(folder / "meta.json", json.dumps(meta, separators=(",", ":")).encode(), mode=0o644)

    def tls_material(self, name: str) -> dict[str, list[str]]:
        """The TLS files a context keeps, by endpoint ({"docker": ["ca.pem", ...]})."""
        root = self.tls_dir(name)
        if not root.is_dir():
            return {}
        return {endpoint.name: sorted(f.name for f in endpoint.iterdir() if f.is_file())
                for endpoint in sorted(root.iterdir()) if endpoint.is_dir()}

    def set_tls(self, name: str, files: dict[str, bytes]) -> None:
        """Replace the docker endpoint's TLS files (none: removed)."""
        from dockyard.util.atomic import write_atomic
        folder = self.tls_dir(name) / "docker"
        shutil.rmtree(folder, ignore_errors=True)
        if not files:
            return
        folder.mkdir(parents=True, mode=0o700)
        for file_name, data in files.items():
            write_atomic(folder / file_name, data, mode=0o600)

    def remove(self, name: str) -> None:
        """Delete a context's metadata and TLS files."""
        shutil.rmtree(self.meta_dir(name), ignore_errors=True)
        shutil.rmtree(self.tls_dir(name), ignore_errors=True)

    def export(self, name: str) -> bytes:
        """docker's export tar: meta.json, then tls/<endpoint>/<file>."""
        import io
        import tarfile
        meta = json.dumps(self.get(name), separators=(",", ":")).encode()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            _add(tar, "meta.json", meta, 0o644)
            _add(tar, "tls", None, 0o700)
            for endpoint, files in self.tls_material(name).items():
                _add(tar, f"tls/{endpoint}", None, 0o700)
                for file_name in files:
                    _add(tar, f"tls/{endpoint}/{file_name}", (self.tls_dir(name) / endpoint / file_name).read_bytes(),
                         0o600)
        return buffer.getvalue()

    def import_(self, name: str, data: bytes) -> None:
        """Store an exported context (tar or zip) under `name`; only meta.json and tls/ files are taken."""
        if len(data) > _MAX_IMPORT:
            raise ContextError("context archive too large")
        files = _archive_files(data)
        if "meta.json" not in files:
            raise ContextError("invalid context: no metadata found")
        try:
            meta = json.loads(files["meta.json"])
        except ValueError as bad:
            raise ContextError(f"parsing meta.json: {bad}") from None
        if not isinstance(meta, dict):
            raise ContextError("parsing meta.json: not a JSON object")
        meta["Name"] = name
        self.save(meta)
        tls = {}
        for path, content in files.items():
            parts = path.split("/")
            if len(parts) == 3 and parts[0] == "tls" and parts[1] == "docker" and parts[2] in TLS_FILES:
                tls[parts[2]] = content
        self.set_tls(name, tls)


def _add(tar: Any, name: str, data: bytes | None, mode: int) -> None:
    """One tar member: a file with `data`, or a directory."""
    import io
    import tarfile
    info = tarfile.TarInfo(name)
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _archive_files(data: bytes) -> dict[str, bytes]:
    """Regular files of a tar or zip archive, by path; paths outside meta.json and tls/ are refused."""
    import io
    found: dict[str, bytes] = {}
    if data[:4] == b"PK\x03\x04":
        import zipfile
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for item in archive.infolist():
                if not item.is_dir():
                    found[_checked(item.filename)] = archive.read(item)
        return found
    import tarfile
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                if member.isfile():
                    reader = archive.extractfile(member)
                    if reader is not None:
                        found[_checked(member.name)] = reader.read()
    except tarfile.TarError as bad:
        if not found:
            raise ContextError(f"invalid context archive: {bad}") from None
    return found


def _checked(path: str) -> str:
    """docker's isValidFilePath."""
    if path != "meta.json" and not path.startswith("tls/"):
        raise ContextError(f"{path}: unexpected context file")
    if os.path.normpath(path) != path or "\\" in path:
        raise ContextError(f"{path}: unexpected path format")
    return path


def endpoint_of(store: ContextStore, name: str) -> Endpoint:
    """The docker endpoint of a stored context, with its TLS files (verification unless SkipTLSVerify)."""
    meta = store.get(name)
    docker = (meta.get("Endpoints") or {}).get("docker")
    if not isinstance(docker, dict) or not docker.get("Host"):
        raise ContextError(f'context "{name}": no docker endpoint')
    material = store.tls_material(name).get("docker", [])
    tls = None
    if material or docker.get("SkipTLSVerify"):
        folder = store.tls_dir(name) / "docker"
        ca, cert, key = (str(folder / f) if f in material else None for f in TLS_FILES)
        tls = TLSOptions(ca=ca, cert=cert, key=key, verify=not docker.get("SkipTLSVerify"))
    return Endpoint(docker["Host"], tls, name)
