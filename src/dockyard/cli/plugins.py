"""docker CLI plugins: `docker-<name>` executables in the standard directories, found and run as the docker CLI
does (the `docker-cli-plugin-metadata` handshake; the plugin gets the original arguments, global flags included,
and DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND), so `dockyard compose ...` runs Docker Compose v2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from dockyard.client.configfile import config_dir, load_config

SYSTEM_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
PREFIX = "docker-"
REEXEC_VARIABLE = "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"
_VALID_NAME = re.compile(r"[a-z][a-z0-9]*\Z")


def plugin_dirs() -> list[Path]:
    """The config directory's cli-plugins, config.json's cliPluginsExtraDirs, then the system directories."""
    extra = load_config().get("cliPluginsExtraDirs") or []
    return [config_dir() / "cli-plugins", *(Path(d) for d in extra if isinstance(d, str)),
            *(Path(d) for d in SYSTEM_DIRS)]


def metadata(path: Path) -> dict[str, str] | None:
    """The plugin's answer to `docker-cli-plugin-metadata`, or None when it is not a valid plugin."""
    try:
        answer = subprocess.run([str(path), "docker-cli-plugin-metadata"], capture_output=True, timeout=30)
        meta = json.loads(answer.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    if not isinstance(meta, dict) or not meta.get("Vendor"):
        return None
    version = str(meta.get("SchemaVersion", ""))
    if not re.fullmatch(r"\d+\.\d+\.\d+", version) or int(version.split(".")[0]) >= 2:
        return None
    return meta


def find(name: str) -> Path | None:
    """The first `docker-<name>` in the plugin directories, when it answers the metadata handshake."""
    if not _VALID_NAME.match(name):
        return None
    for folder in plugin_dirs():
        path = folder / f"{PREFIX}{name}"
        if path.exists():
            return path if metadata(path) is not None else None
    return None


def listing(builtin: set[str]) -> dict[str, str]:
    """Valid plugins by name (first found wins; builtin commands shadow plugins) with their descriptions."""
    found: dict[str, str] = {}
    for folder in plugin_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = path.name[len(PREFIX):]
            if not path.name.startswith(PREFIX) or not _VALID_NAME.match(name) or name in found or name in builtin:
                continue
            meta = metadata(path)
            if meta is not None:
                found[name] = str(meta.get("ShortDescription", ""))
    return found


def run(path: Path, argv: list[str]) -> None:
    """Replace this process with the plugin, given our original arguments as docker gives its own."""
    own = Path(sys.executable).parent / "dockyard"
    env = dict(os.environ)
    env[REEXEC_VARIABLE] = str(own) if own.exists() else sys.argv[0]
    os.execve(str(path), [str(path), *argv], env)
