"""Registry commands: pull, push, login, logout, search; credentials in a docker-compatible config.json."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

from dockyard.cli import credhelpers
from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag
from dockyard.client.configfile import load_config, save_config
from dockyard.client.transport import quote
from dockyard.util import reference

HUB_KEY = "https://index.docker.io/v1/"


def registry_key(host: str) -> str:
    """The auths key of a registry: Docker Hub's legacy URL, else the host."""
    return HUB_KEY if host in ("docker.io", "index.docker.io", "") else host


def auth_header(host: str) -> str:
    """X-Registry-Auth for a registry from the stored credentials (base64url JSON)."""
    key = registry_key(host)
    config = load_config()
    doc: dict[str, str] = {"serveraddress": key}
    helper = credhelpers.helper_for(config, key)
    if helper:
        doc.update(credhelpers.get(helper, key))
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()
    entry = config.get("auths", {}).get(key, {})
    if entry.get("auth"):
        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        doc.update(username=user, password=password)
    if entry.get("identitytoken"):
        doc["identitytoken"] = entry["identitytoken"]
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def _show_progress(ctx: Context, resp: Any, quiet: bool) -> None:
    """Print progress messages as docker does without a terminal; raise on an error message."""
    from dockyard.client.api import APIError, json_stream
    try:
        for msg in json_stream(resp):
            if msg.get("errorDetail") or msg.get("error"):
                raise APIError(500, msg.get("error") or msg["errorDetail"].get("message", ""))
            if quiet or not msg.get("status") or msg.get("progress"):
                continue
            ctx.out(f"{msg['id']}: {msg['status']}\n" if msg.get("id") else f"{msg['status']}\n")
    finally:
        resp.close()


def _pull(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker pull [-a] [-q] [--platform] NAME[:TAG|@DIGEST]."""
    ref = reference.parse(args[0])
    if o["all_tags"] and (ref.tag or ref.digest):
        raise CommandError("tag can't be used with --all-tags/-a")
    tag = ref.digest or ref.tag or ("" if o["all_tags"] else reference.DEFAULT_TAG)
    if not o["all_tags"] and not ref.tag and not ref.digest and not o["quiet"]:
        ctx.out(f"Using default tag: {tag}\n")
    query = {"fromImage": ref.name, "tag": tag, "platform": o["platform"] or None}
    resp = ctx.api.request("POST", "/images/create", query, headers={"X-Registry-Auth": auth_header(ref.domain)})
    _show_progress(ctx, resp, o["quiet"])
    ctx.out(f"{ref.name}@{tag}\n" if ref.digest else f"{ref.name}:{tag}\n" if tag else f"{ref.name}\n")
    return 0


PULL = Command("pull", "pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", _pull, [
    Flag("all-tags", "a", help="Download all tagged images in the repository"),
    Flag("platform", "", "string", help="Set platform if server is multi-platform capable"),
    Flag("quiet", "q", help="Suppress verbose output"),
], min_args=1, max_args=1, aliases="dockyard image pull, dockyard pull")


def _push(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker push [-a] [-q] NAME[:TAG]."""
    ref = reference.parse(args[0])
    if o["all_tags"] and ref.tag:
        raise CommandError("tag can't be used with --all-tags/-a")
    tag = "" if o["all_tags"] else (ref.tag or reference.DEFAULT_TAG)
    if not o["all_tags"] and not ref.tag and not o["quiet"]:
        ctx.out(f"Using default tag: {tag}\n")
    resp = ctx.api.request("POST", f"/images/{quote(ref.name)}/push", {"tag": tag or None},
                           headers={"X-Registry-Auth": auth_header(ref.domain)})
    _show_progress(ctx, resp, o["quiet"])
    if o["quiet"]:
        ctx.out(f"{ref.familiar_name()}{':' + tag if tag else ''}\n")
    return 0


PUSH = Command("push", "push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", _push, [
    Flag("all-tags", "a", help="Push all tags of an image to the repository"),
    Flag("quiet", "q", help="Suppress verbose output"),
], min_args=1, max_args=1, aliases="dockyard image push, dockyard push")


def _login(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker login [-u USER] [-p PASS | --password-stdin] [SERVER]."""
    server = args[0] if args else HUB_KEY
    password = o["password"] or ""
    if o["password_stdin"]:
        if o["password"]:
            raise CommandError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.read().rstrip("\r\n")
    user = o["username"] or ""
    if not user:
        sys.stderr.write("Username: ")
        sys.stderr.flush()
        user = sys.stdin.readline().strip()
    if not password:
        import getpass
        password = getpass.getpass("Password: ")
    host = server.split("://", 1)[-1].split("/", 1)[0]
    ctx.api.post("/auth", body={"username": user, "password": password, "serveraddress": server})
    config = load_config()
    key = registry_key(host)
    helper = credhelpers.helper_for(config, key)
    if helper:
        credhelpers.store(helper, key, user, password)
        config.setdefault("auths", {})[key] = {}
    else:
        config.setdefault("auths", {})[key] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    save_config(config)
    ctx.out("Login Succeeded\n")
    return 0


LOGIN = Command("login", "login [OPTIONS] [SERVER]", "Authenticate to a registry", _login, [
    Flag("password", "p", "string", help="Password"),
    Flag("password-stdin", "", help="Take the password from stdin"),
    Flag("username", "u", "string", help="Username"),
], max_args=1)


def _logout(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    """docker logout [SERVER]."""
    host = (args[0] if args else HUB_KEY).split("://", 1)[-1].split("/", 1)[0]
    key = registry_key(host)
    config = load_config()
    ctx.out(f"Removing login credentials for {host if key != HUB_KEY else 'https://index.docker.io/v1/'}\n")
    helper = credhelpers.helper_for(config, key)
    if helper:
        credhelpers.erase(helper, key)
    if key in config.get("auths", {}):
        del config["auths"][key]
        save_config(config)
    return 0


LOGOUT = Command("logout", "logout [SERVER]", "Log out from a registry", _logout, [], max_args=1)


def _search(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker search TERM (host/term searches that registry)."""
    from dockyard.cli.output import render
    first, sep, _rest = args[0].partition("/")
    host = first if sep and ("." in first or ":" in first or first == "localhost") else "docker.io"
    resp = ctx.api.request("GET", "/images/search", {"term": args[0], "limit": o["limit"] or None},
                           headers={"X-Registry-Auth": auth_header(host)})
    results = json.loads(resp.read() or b"[]")
    resp.close()
    rows = [{"Name": r.get("name", ""), "Description": r.get("description", ""),
             "StarCount": str(r.get("star_count", 0)), "IsOfficial": "[OK]" if r.get("is_official") else ""}
            for r in results]
    headers = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL"}
    ctx.out(render(o["format"] or "", [_Row(r) for r in rows], headers,
                   "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"))
    return 0


class _Row:
    """A search result row for templates."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.__dict__.update(fields)


SEARCH = Command("search", "search [OPTIONS] TERM", "Search Docker Hub for images", _search, [
    Flag("format", "", "string", help="Pretty-print search using a Go template"),
    Flag("limit", "", "int", 0, help="Max number of search results"),
], min_args=1, max_args=1)
