"""POST /auth and GET /images/search: check credentials against a registry, search its index."""

from __future__ import annotations

from typing import Any

from dockyard.distribution.client import Credentials, RegistryClient
from dockyard.distribution.endpoints import Endpoint, default_registry, endpoints, is_insecure
from dockyard.util.reference import DEFAULT_DOMAIN

HUB_INDEX = "index.docker.io"


def server_host(address: str) -> str:
    """"https://index.docker.io/v1/" or "127.0.0.1:5000" -> the registry host name."""
    host = address.split("://", 1)[-1].split("/", 1)[0]
    return DEFAULT_DOMAIN if host in ("", HUB_INDEX, DEFAULT_DOMAIN) else host


def login(config: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Ping the registry's /v2/ with the credentials (Basic or token flow); docker's AuthResponse."""
    host = server_host(body.get("serveraddress") or "")
    creds = Credentials(body.get("username", ""), body.get("password", ""), body.get("identitytoken", ""))
    endpoint = [e for e in endpoints(host, config) if not e.mirror][0]
    RegistryClient(endpoint, creds).ping()
    return {"Status": "Login Succeeded", "IdentityToken": ""}


def search(config: dict[str, Any], term: str, limit: int, credentials: Credentials) -> list[dict[str, Any]]:
    """docker search: "host/term" searches that registry's /v1/search, a bare term Docker Hub's index (or the
    default registry's)."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, query = first, rest
    else:
        host, query = default_registry(config) or HUB_INDEX, term
    endpoint = Endpoint(host, not is_insecure(host, config))
    return list(RegistryClient(endpoint, credentials).search(query, limit).get("results") or [])


class RegistryService:
    """Logins and searches against registries, with the daemon's (reloadable) registry settings."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    def login(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /auth."""
        return login(self._config, body)

    def search(self, term: str, limit: int, auth: str | None) -> list[dict[str, Any]]:
        """GET /images/search; `auth` is the X-Registry-Auth header."""
        return search(self._config, term, limit, Credentials.from_header(auth))
