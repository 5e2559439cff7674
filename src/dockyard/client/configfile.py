"""The docker CLI's configuration directory ($DOCKER_CONFIG or ~/.docker) and its config.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any


def config_dir() -> Path:
    """$DOCKER_CONFIG (set by --config too), or ~/.docker."""
    return Path(os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker"))


def config_path() -> Path:
    """config.json in the configuration directory."""
    return config_dir() / "config.json"


def load_config() -> dict[str, Any]:
    """The client config file (empty when missing)."""
    try:
        return json.loads(config_path().read_text())
    except FileNotFoundError:
        return {}


def save_config(config: dict[str, Any]) -> None:
    """Write the client config file atomically with mode 0600."""
    from dockyard.util.atomic import write_atomic
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(config, indent="\t").encode(), mode=0o600)
