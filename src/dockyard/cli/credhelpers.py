"""Docker credential helpers: `docker-credential-NAME store|get|erase` chosen by credsStore/credHelpers."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from dockyard.cli.context import CommandError

TOKEN_USER = "<token>"
VERBS = {"store": "storing", "get": "getting", "erase": "erasing"}
NOT_FOUND = "credentials not found"


def helper_for(config: dict[str, Any], key: str) -> str | None:
    """The helper name configured for a registry key: credHelpers[key], else credsStore, else None."""
    return config.get("credHelpers", {}).get(key) or config.get("credsStore") or None


def _run(helper: str, action: str, data: str) -> subprocess.CompletedProcess:
    """Run `docker-credential-HELPER ACTION` with `data` on stdin."""
    try:
        return subprocess.run([f"docker-credential-{helper}", action], input=data.encode(),
                              capture_output=True, check=False, timeout=60)
    except FileNotFoundError as exc:
        raise CommandError(f"error {VERBS[action]} credentials - err: exec: \"docker-credential-{helper}\": "
                           "executable file not found in $PATH") from exc


def _failure(helper: str, action: str, result: subprocess.CompletedProcess) -> CommandError:
    """The error a failed helper call reports."""
    message = (result.stdout or result.stderr).decode(errors="replace").strip()
    return CommandError(f"error {VERBS[action]} credentials with docker-credential-{helper}: {message}")


def store(helper: str, server: str, user: str, secret: str) -> None:
    """Save a username and secret for a server through the helper."""
    payload = json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
    result = _run(helper, "store", payload)
    if result.returncode != 0:
        raise _failure(helper, "store", result)


def get(helper: str, server: str) -> dict[str, str]:
    """Credentials for a server as auth fields (username/password or identitytoken); {} when none are stored."""
    result = _run(helper, "get", server)
    if result.returncode != 0:
        if NOT_FOUND in (result.stdout + result.stderr).decode(errors="replace"):
            return {}
        raise _failure(helper, "get", result)
    found = json.loads(result.stdout)
    if found.get("Username") == TOKEN_USER:
        return {"identitytoken": found.get("Secret", "")}
    return {"username": found.get("Username", ""), "password": found.get("Secret", "")}


def erase(helper: str, server: str) -> None:
    """Forget the credentials of a server; a server the helper does not know is not an error."""
    result = _run(helper, "erase", server)
    if result.returncode != 0 and NOT_FOUND not in (result.stdout + result.stderr).decode(errors="replace"):
        raise _failure(helper, "erase", result)
