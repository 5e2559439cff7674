"""`context create/ls/use/show/inspect/update/rm/export/import` on the docker CLI's own context store."""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag
from dockyard.client.contextstore import (DEFAULT, DEFAULT_DESCRIPTION, TLS_FILES, ContextError, ContextStore,
                                          validate_name)

DOCKER_KEYS = ("from", "host", "ca", "cert", "key", "skip-tls-verify")
LIST_HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "DockerEndpoint": "DOCKER ENDPOINT",
                "Error": "ERROR"}
LIST_DEFAULT = "table {{.Name}}\t{{.Description}}\t{{.DockerEndpoint}}\t{{.Error}}"
ENV_WARNING = ("Warning: DOCKER_HOST environment variable overrides the active context. To use {what}, either set "
               "the global --context flag, or unset DOCKER_HOST environment variable.\n")


def current_name(flag: str | None = None, hosts_given: bool = False) -> str:
    """docker's resolveContextName: --context, then -H or DOCKER_HOST (default), DOCKER_CONTEXT, config.json."""
    if flag:
        return flag
    if hosts_given or os.environ.get("DOCKER_HOST"):
        return DEFAULT
    if os.environ.get("DOCKER_CONTEXT"):
        return os.environ["DOCKER_CONTEXT"]
    from dockyard.client.configfile import load_config
    return load_config().get("currentContext") or DEFAULT


def _default_host() -> str:
    from dockyard.client.api import resolve_host
    return resolve_host(None)


class ContextRow:
    """One `context ls` row; each field (Name marks the current context with " *") is a --format method."""

    go_type = "*formatter.ClientContext"

    def __init__(self, name: str, current: bool, description: str = "", endpoint: str = "", error: str = "") -> None:
        self.fields = {"Current": current, "Description": description, "DockerEndpoint": endpoint, "Error": error,
                       "Name": name}

    def Name(self) -> str:
        return self.fields["Name"] + (" *" if self.fields["Current"] else "")  # type: ignore[operator]

    def to_json(self) -> dict[str, Any]:
        return dict(self.fields)


for _field in ("Current", "Description", "DockerEndpoint", "Error"):
    setattr(ContextRow, _field, lambda self, _name=_field: self.fields[_name])


def _docker_config(text: str) -> dict[str, str]:
    """--docker "host=...,ca=...": docker's key=value list, unknown keys refused."""
    config: dict[str, str] = {}
    for item in (part for part in text.split(",") if part):
        key, _, value = item.partition("=")
        config[key.strip()] = value
    unknown = [key for key in config if key not in DOCKER_KEYS]
    if unknown:
        raise CommandError("unable to create docker endpoint config: "
                           + "\n".join(f"unrecognized config key: {key}" for key in unknown))
    return config


def _endpoint_from(store: ContextStore, config: dict[str, str]) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The docker endpoint metadata and TLS files a --docker value describes."""
    if "from" in config:
        source = store.get(config["from"])
        docker = (source.get("Endpoints") or {}).get("docker")
        if not isinstance(docker, dict):
            raise CommandError(f'unable to get endpoint from context "{config["from"]}"')
        folder = store.tls_dir(config["from"]) / "docker"
        return dict(docker), {f: (folder / f).read_bytes() for f in TLS_FILES if (folder / f).is_file()}
    skip = config.get("skip-tls-verify", "false").lower()
    if skip not in ("1", "t", "true", "0", "f", "false"):
        raise CommandError(f'unable to create docker endpoint config: skip-tls-verify: parsing "{skip}": '
                           "invalid syntax")
    host = config.get("host", "")
    if host:
        from dockyard.client.transport import parse_host
        try:
            if not host.startswith("ssh://"):
                parse_host(host)
        except ValueError as bad:
            raise CommandError(f"unable to create docker endpoint config: {bad}") from None
    files = {}
    for key, file_name in (("ca", "ca.pem"), ("cert", "cert.pem"), ("key", "key.pem")):
        if config.get(key):
            try:
                with open(os.path.expanduser(config[key]), "rb") as handle:
                    files[file_name] = handle.read()
            except OSError as bad:
                raise CommandError(f"unable to create docker endpoint config: open {config[key]}: "
                                   f"{(bad.strerror or '').lower()}") from None
    return {"Host": host or _default_host(), "SkipTLSVerify": skip in ("1", "t", "true")}, files


def _current_endpoint(store: ContextStore, name: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The endpoint of a context to copy (`create` without --docker); the default one is the current host."""
    if name == DEFAULT:
        return {"Host": _default_host(), "SkipTLSVerify": False}, {}
    return _endpoint_from(store, {"from": name})


def _create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    store, name = ContextStore(), args[0]
    _guarded(validate_name, name)
    if store.exists(name):
        raise CommandError(f'context "{name}" already exists')
    if o["from"] and o["docker"]:
        raise CommandError("cannot use --docker flag when --from is set")
    if o["docker"]:
        docker, files = _guarded(_endpoint_from, store, _docker_config(o["docker"]))
    else:
        docker, files = _guarded(_current_endpoint, store, o["from"] or current_name())
    metadata = {"Description": o["description"]} if o["description"] else {}
    store.save({"Name": name, "Metadata": metadata, "Endpoints": {"docker": docker}})
    store.set_tls(name, files)
    ctx.out(f"{name}\n")
    ctx.err(f'Successfully created context "{name}"\n')
    return 0


def _update(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    store, name = ContextStore(), args[0]
    _guarded(validate_name, name)
    meta = _guarded(store.get, name)
    if o["description"]:
        meta.setdefault("Metadata", {})["Description"] = o["description"]
    if o["docker"]:
        docker, files = _guarded(_endpoint_from, store, _docker_config(o["docker"]))
        meta.setdefault("Endpoints", {})["docker"] = docker
        store.set_tls(name, files)
    store.save(meta)
    ctx.out(f"{name}\n")
    ctx.err(f'Successfully updated context "{name}"\n')
    return 0


def _ls(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    from dockyard.cli.output import render
    store, current = ContextStore(), current_name(ctx.context_flag)
    rows = [ContextRow(DEFAULT, current == DEFAULT, DEFAULT_DESCRIPTION, _default_host(), "")]
    for name in store.names():
        try:
            meta = store.get(name)
            docker = (meta.get("Endpoints") or {}).get("docker") or {}
            rows.append(ContextRow(name, name == current, (meta.get("Metadata") or {}).get("Description", ""),
                                   docker.get("Host", ""), ""))
        except ContextError as bad:
            rows.append(ContextRow(name, name == current, error=str(bad)))
    if current != DEFAULT and not store.exists(current):
        rows.append(ContextRow(current, True, error=_error_of(store.get, current)))
    rows.sort(key=lambda row: str(row.fields["Name"]))
    fmt = "{{.Name}}" if o["quiet"] else o["format"] or ""
    if o["quiet"]:
        rows = [ContextRow(row.fields["Name"], False) for row in rows]  # type: ignore[arg-type]
    ctx.out(render(fmt, rows, LIST_HEADERS, LIST_DEFAULT))
    if os.environ.get("DOCKER_HOST"):
        ctx.err(ENV_WARNING.format(what="a context"))
    return 0


def _use(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    from dockyard.client.configfile import load_config, save_config
    name = args[0]
    value = ""
    if name != DEFAULT:
        _guarded(validate_name, name)
        _guarded(ContextStore().get, name)
        value = name
    config = load_config()
    if config.get("currentContext", "") != value:
        if value:
            config["currentContext"] = value
        else:
            config.pop("currentContext", None)
        save_config(config)
    ctx.out(f"{name}\n")
    ctx.err(f'Current context is now "{name}"\n')
    if name != DEFAULT and os.environ.get("DOCKER_HOST"):
        ctx.err(ENV_WARNING.format(what=f'"{name}"'))
    return 0


def _show(ctx: Context, _o: dict[str, Any], _args: list[str]) -> int:
    ctx.out(current_name(ctx.context_flag) + "\n")
    return 0


def _inspect(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from dockyard.cli.system import indent_json
    store = ContextStore()
    found = []
    for name in args or [current_name(ctx.context_flag)]:
        if name == DEFAULT:
            found.append({"Name": DEFAULT, "Metadata": {},
                          "Endpoints": {"docker": {"Host": _default_host(), "SkipTLSVerify": False}},
                          "TLSMaterial": {}, "Storage": {"MetadataPath": "<IN MEMORY>", "TLSPath": "<IN MEMORY>"}})
            continue
        meta = _guarded(store.get, name)
        found.append({**meta, "TLSMaterial": store.tls_material(name),
                      "Storage": {"MetadataPath": str(store.meta_dir(name)), "TLSPath": str(store.tls_dir(name))}})
    if not o["format"] or o["format"] == "json":
        ctx.out(indent_json(found) + "\n")
        return 0
    from dockyard.util import gotemplate
    try:
        ctx.out("".join(gotemplate.parse(o["format"], missing_key_error=True).execute(item) + "\n" for item in found))
    except gotemplate.TemplateError as exc:
        raise CommandError(f"template parsing error: {exc}") from None
    return 0


def _rm(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    from dockyard.client.configfile import load_config, save_config
    store = ContextStore()
    current = current_name(ctx.context_flag)
    errors = []
    for name in args:
        if name == DEFAULT:
            errors.append('context "default" cannot be removed')
            continue
        if not store.exists(name):
            errors.append(f'context "{name}" does not exist')
            continue
        if name == current:
            if not o["force"]:
                errors.append(f'context "{name}" is in use, set -f flag to force remove')
                continue
            config = load_config()
            if config.get("currentContext") == name:
                config.pop("currentContext")
                save_config(config)
        store.remove(name)
        ctx.out(f"{name}\n")
    if errors:
        raise CommandError("\n".join(errors))
    return 0


def _export(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    from dockyard.util.atomic import write_atomic
    name = args[0]
    _guarded(validate_name, name)
    data = _guarded(ContextStore().export, name)
    target = args[1] if len(args) > 1 else f"{name}.dockercontext"
    if target == "-":
        if sys.stdout.isatty():
            raise CommandError("cowardly refusing to export to a terminal, specify a file path")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        return 0
    from pathlib import Path
    write_atomic(Path(target), data, mode=0o600)
    ctx.err(f'Written file "{target}"\n')
    return 0


def _import(ctx: Context, _o: dict[str, Any], args: list[str]) -> int:
    store, name = ContextStore(), args[0]
    _guarded(validate_name, name)
    if store.exists(name):
        raise CommandError(f'context "{name}" already exists')
    data = sys.stdin.buffer.read() if args[1] == "-" else _read(args[1])
    _guarded(store.import_, name, data)
    ctx.out(f"{name}\n")
    ctx.err(f'Successfully imported context "{name}"\n')
    return 0


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as bad:
        raise CommandError(f"open {path}: {(bad.strerror or '').lower()}") from None


def _guarded(fn: Any, *args: Any) -> Any:
    """Call a store function, turning its ContextError into the CLI's error."""
    try:
        return fn(*args)
    except ContextError as bad:
        raise CommandError(str(bad)) from None


def _error_of(fn: Any, *args: Any) -> str:
    """The message of the ContextError `fn` raises ("" if none)."""
    try:
        fn(*args)
    except ContextError as bad:
        return str(bad)
    return ""


_DOCKER_HELP = "set the docker endpoint (host=URL,ca=FILE,cert=FILE,key=FILE,skip-tls-verify=BOOL,from=CONTEXT)"
CREATE = Command("context create", "context create [OPTIONS] CONTEXT", "Create a context", _create, [
    Flag("description", "", "string", help="Description of the context"),
    Flag("docker", "", "string", help=_DOCKER_HELP),
    Flag("from", "", "string", help="create context from a named context"),
], min_args=1, max_args=1)
UPDATE = Command("context update", "context update [OPTIONS] CONTEXT", "Update a context", _update, [
    Flag("description", "", "string", help="Description of the context"),
    Flag("docker", "", "string", help=_DOCKER_HELP),
], min_args=1, max_args=1)
LS = Command("context ls", "context ls [OPTIONS]", "List contexts", _ls, [
    Flag("format", "", "string", help="Format output using a custom template"),
    Flag("quiet", "q", help="Only show context names"),
], max_args=0)
USE = Command("context use", "context use CONTEXT", "Set the current docker context", _use, [], min_args=1,
              max_args=1)
SHOW = Command("context show", "context show", "Print the name of the current context", _show, [], max_args=0)
INSPECT = Command("context inspect", "context inspect [OPTIONS] [CONTEXT] [CONTEXT...]",
                  "Display detailed information on one or more contexts", _inspect, [
                      Flag("format", "f", "string", help="Format output using a custom template"),
                  ])
RM = Command("context rm", "context rm CONTEXT [CONTEXT...]", "Remove one or more contexts", _rm, [
    Flag("force", "f", help="Force the removal of a context in use"),
], min_args=1)
EXPORT = Command("context export", "context export [OPTIONS] CONTEXT [FILE|-]",
                 "Export a context to a tar archive FILE or a tar stream on STDOUT.", _export, [], min_args=1,
                 max_args=2)
IMPORT = Command("context import", "context import CONTEXT FILE|-", "Import a context from a tar or zip file",
                 _import, [], min_args=2, max_args=2)
