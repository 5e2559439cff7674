"""Metadata-only instructions (ENV, LABEL, CMD, ENTRYPOINT, ...): they change the image config, never a layer."""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from dockyard.builder.parser import Instruction, ParseError, key_values, split_raw_words
from dockyard.builder.stages import parse_arg
from dockyard.builder.words import Lexer

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000}
_HEALTH_FLAGS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                 "start-interval": "StartInterval"}


@dataclass
class StageState:
    """The config being built in one stage, the ARGs in scope and the shell for shell forms."""

    config: dict[str, Any]
    args: dict[str, str] = field(default_factory=dict)
    cmd_set: bool = False
    author: str = ""

    @property
    def shell(self) -> list[str]:
        """The SHELL in effect."""
        return list(self.config.get("Shell") or ["/bin/sh", "-c"])

    def env_map(self) -> dict[str, str]:
        """Variables for substitution: ARGs in scope, overridden by ENV."""
        merged = dict(self.args)
        for item in self.config.get("Env") or []:
            key, _, value = item.partition("=")
            merged[key] = value
        return merged

    def lexer(self, escape: str) -> Lexer:
        """A lexer over the current variables."""
        return Lexer(self.env_map(), escape)


def nop(text: str) -> str:
    """Docker's classic history text for a metadata step."""
    return f"/bin/sh -c #(nop)  {text}"


def command_form(inst: Instruction, state: StageState) -> list[str]:
    """Exec form as written, or the shell form wrapped in the current SHELL."""
    if inst.exec_form is not None:
        return list(inst.exec_form)
    return state.shell + [inst.rest]


def apply(inst: Instruction, state: StageState, escape: str) -> str:
    """Apply one metadata instruction to the state; returns its history text (created_by)."""
    handler = _HANDLERS[inst.cmd]
    return handler(inst, state, escape)


def _env(inst: Instruction, state: StageState, escape: str) -> str:
    env = list(state.config.get("Env") or [])
    shown = []
    for raw_key, raw_value in key_values(inst):
        lexer = state.lexer(escape)
        key, value = lexer.word(raw_key), lexer.word(raw_value)
        env = [item for item in env if item.partition("=")[0] != key] + [f"{key}={value}"]
        state.config["Env"] = env
        shown.append(f"{key}={value}")
    return nop("ENV " + " ".join(shown))


def _label(inst: Instruction, state: StageState, escape: str) -> str:
    labels = dict(state.config.get("Labels") or {})
    shown = []
    for raw_key, raw_value in key_values(inst):
        lexer = state.lexer(escape)
        key, value = lexer.word(raw_key), lexer.word(raw_value)
        labels[key] = value
        shown.append(f"{key}={value}")
    state.config["Labels"] = labels
    return nop("LABEL " + " ".join(shown))


def _cmd(inst: Instruction, state: StageState, escape: str) -> str:
    state.config["Cmd"] = command_form(inst, state)
    state.cmd_set = True
    return nop("CMD " + json.dumps(state.config["Cmd"]))


def _entrypoint(inst: Instruction, state: StageState, escape: str) -> str:
    state.config["Entrypoint"] = command_form(inst, state) if inst.rest else None
    if not state.cmd_set:
        state.config["Cmd"] = None
    return nop("ENTRYPOINT " + json.dumps(state.config["Entrypoint"]))


def _expose(inst: Instruction, state: StageState, escape: str) -> str:
    ports = dict(state.config.get("ExposedPorts") or {})
    words = state.lexer(escape).words(inst.rest)
    if not words:
        raise ParseError(inst.line, "EXPOSE requires at least one argument")
    for port in words:
        ports[port if "/" in port else f"{port}/tcp"] = {}
    state.config["ExposedPorts"] = ports
    return nop("EXPOSE " + " ".join(sorted(ports)))


def _volume(inst: Instruction, state: StageState, escape: str) -> str:
    volumes = dict(state.config.get("Volumes") or {})
    paths = inst.exec_form if inst.exec_form is not None else state.lexer(escape).words(inst.rest)
    if not paths:
        raise ParseError(inst.line, "VOLUME requires at least one argument")
    for path in paths:
        volumes[path] = {}
    state.config["Volumes"] = volumes
    return nop("VOLUME " + json.dumps(paths))


def _user(inst: Instruction, state: StageState, escape: str) -> str:
    state.config["User"] = state.lexer(escape).word(inst.rest)
    return nop("USER " + state.config["User"])


def _workdir(inst: Instruction, state: StageState, escape: str) -> str:
    path = state.lexer(escape).word(inst.rest)
    if not path:
        raise ParseError(inst.line, "WORKDIR requires exactly one argument")
    state.config["WorkingDir"] = posixpath.normpath(posixpath.join(state.config.get("WorkingDir") or "/", path))
    return f"/bin/sh -c #(nop) WORKDIR {state.config['WorkingDir']}"


def _shell(inst: Instruction, state: StageState, escape: str) -> str:
    if not inst.exec_form:
        raise ParseError(inst.line, "SHELL requires the arguments to be in JSON form")
    state.config["Shell"] = list(inst.exec_form)
    return nop("SHELL " + json.dumps(inst.exec_form))


def _stopsignal(inst: Instruction, state: StageState, escape: str) -> str:
    state.config["StopSignal"] = state.lexer(escape).word(inst.rest)
    return nop("STOPSIGNAL " + state.config["StopSignal"])


def _maintainer(inst: Instruction, state: StageState, escape: str) -> str:
    state.author = state.lexer(escape).word(inst.rest)
    return nop("MAINTAINER " + state.author)


def _onbuild(inst: Instruction, state: StageState, escape: str) -> str:
    state.config["OnBuild"] = list(state.config.get("OnBuild") or []) + [inst.rest]
    return nop("ONBUILD " + inst.rest)


def apply_arg(inst: Instruction, state: StageState, escape: str, build_args: dict[str, str | None],
              globals_: dict[str, str]) -> str:
    """ARG inside a stage: a --build-arg value, else its default, else the global ARG's value."""
    shown = []
    for word in split_raw_words(inst.rest):
        name, default = parse_arg(word)
        if build_args.get(name) is not None:
            value: str | None = build_args[name]
        elif default is not None:
            value = state.lexer(escape).word(default)
        else:
            value = globals_.get(name)
        if value is not None:
            state.args[name] = value
        shown.append(name if default is None else f"{name}={default}")
    return nop("ARG " + " ".join(shown))


def _healthcheck(inst: Instruction, state: StageState, escape: str) -> str:
    words = inst.rest.split(None, 1)
    kind = words[0].upper() if words else ""
    if kind == "NONE":
        state.config["Healthcheck"] = {"Test": ["NONE"]}
        return nop("HEALTHCHECK NONE")
    if kind != "CMD" or len(words) < 2:
        raise ParseError(inst.line, "Unknown type \"{}\" in HEALTHCHECK (try CMD)".format(kind))
    body = words[1]
    test = json.loads(body) if body.startswith("[") else None
    check: dict[str, Any] = {"Test": ["CMD", *test] if isinstance(test, list) else ["CMD-SHELL", body]}
    for flag, key in _HEALTH_FLAGS.items():
        if inst.flag(flag):
            check[key] = parse_duration(inst.flag(flag) or "", inst.line)
    if inst.flag("retries"):
        check["Retries"] = int(inst.flag("retries") or 0)
    state.config["Healthcheck"] = check
    return nop("HEALTHCHECK &{" + json.dumps(check["Test"]) + "}")


def parse_duration(text: str, line: int) -> int:
    """A Go duration ("30s", "1m30s", "500ms") in nanoseconds."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ParseError(line, f"time: invalid duration \"{text}\"")
    return int(sum(float(n) * _UNITS[u] for n, u in parts))


_HANDLERS = {"env": _env, "label": _label, "cmd": _cmd, "entrypoint": _entrypoint, "expose": _expose,
             "volume": _volume, "user": _user, "workdir": _workdir, "shell": _shell, "stopsignal": _stopsignal,
             "maintainer": _maintainer, "onbuild": _onbuild, "healthcheck": _healthcheck}
METADATA_INSTRUCTIONS = tuple(_HANDLERS)
