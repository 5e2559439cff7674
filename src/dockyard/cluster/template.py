"""The subset of Go's text/template that swarm templates use (swarmkit's `template/`): literal text and actions
`{{ pipeline }}` (with `{{-`/`-}}` trimming and `{{/* comments */}}`); a pipeline is commands joined by `|`, each a
field chain (`.Service.Labels.tier`, `.`), a string literal, or a function call with operands, a later command
getting the previous value as its last argument. Values print as Go's fmt does (maps `map[k:v ...]` in key order,
structs `{a b}`); a missing map key is an error (swarmkit parses with `missingkey=error`). Control actions (`if`,
`range`, `with`, variables...) and functions outside the set given are refused with TemplateError: a template is
rendered exactly or not at all."""

from __future__ import annotations

import re
from typing import Any, Callable

from dockyard.errors import InvalidParameter

Function = Callable[..., Any]
NAME = "expansion"
TOKEN_RE = re.compile(r'\s*(?:(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<raw>`[^`]*`)|(?P<pipe>\|)'
                      r"|(?P<number>-?\d+)(?![\w.])|(?P<field>(?:\.[A-Za-z_]\w*)+|\.)(?![\w.])"
                      r"|(?P<ident>[A-Za-z_]\w*)(?![\w.])|(?P<other>\S+))")
KEYWORDS = ("if", "else", "end", "range", "with", "define", "template", "block", "break", "continue", "nil",
            "true", "false")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f",
           "v": "\v", "0": "\0"}


class TemplateError(InvalidParameter):
    """The template cannot be parsed or executed; the message says where and why."""


class Struct(dict[str, Any]):
    """A Go struct in the template's data (printed `{a b}`; an unknown field is an error, not a map miss)."""


def expand(text: str, data: Any, functions: dict[str, Function]) -> str:
    """`text` rendered against `data` with the given functions (plus `index` and swarmkit's `join`)."""
    known = {"index": _index, "join": _join, **functions}
    out: list[str] = []
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            out.append(text[position:])
            return "".join(out)
        literal = text[position:start]
        body_start = start + 2
        if text.startswith("- ", body_start) or text.startswith("-\t", body_start) or \
                text.startswith("-\n", body_start):
            literal = literal.rstrip(" \t\r\n")
            body_start += 1
        out.append(literal)
        end = _close(text, body_start)
        body, position = text[body_start:end], end + 2
        if body.endswith((" -", "\t-", "\n-")):
            body = body[:-1]
            while position < len(text) and text[position] in " \t\r\n":
                position += 1
        where = _where(text, start)
        stripped = body.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError(f"template: {NAME}:{where}: unclosed comment")
            continue
        out.append(_print(_pipeline(stripped, data, known, where)))


def _close(text: str, start: int) -> int:
    """Where the action opened before `start` closes (`}}` outside string literals)."""
    index = start
    while index < len(text):
        char = text[index]
        if char in "\"`":
            closing = text.find(char, index + 1) if char == "`" else _string_end(text, index)
            if closing < 0:
                break
            index = closing + 1
            continue
        if text.startswith("}}", index):
            return index
        index += 1
    raise TemplateError(f"template: {NAME}:{_where(text, start)}: unclosed action")


def _string_end(text: str, start: int) -> int:
    """The index of the quote closing the interpreted string at `start` (-1 if none)."""
    index = start + 1
    while index < len(text) and text[index] != "\n":
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index
        index += 1
    return -1


def _where(text: str, offset: int) -> str:
    """`line:column` of an offset, as Go's parser reports."""
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1)}"


def _tokens(body: str, where: str) -> list[tuple[str, str]]:
    """(kind, text) of each token of an action."""
    found = []
    for match in TOKEN_RE.finditer(body):
        kind = match.lastgroup or "other"
        value = match.group(kind)
        if kind == "other" or (kind == "ident" and value in KEYWORDS):
            raise TemplateError(f"template: {NAME}:{where}: unsupported in swarm templates here: {value!r} "
                                "(only fields, string literals, functions and pipelines are)")
        found.append((kind, value))
    return found


def _pipeline(body: str, data: Any, functions: dict[str, Function], where: str) -> Any:
    """The value of a pipeline."""
    tokens = _tokens(body, where)
    if not tokens:
        raise TemplateError(f"template: {NAME}:{where}: missing value for command")
    commands: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token[0] == "pipe":
            commands.append([])
        else:
            commands[-1].append(token)
    value: Any = None
    for index, command in enumerate(commands):
        if not command:
            raise TemplateError(f"template: {NAME}:{where}: missing command")
        previous = [value] if index else []
        value = _command(command, data, functions, where, previous)
    return value


def _command(command: list[tuple[str, str]], data: Any, functions: dict[str, Function], where: str,
             piped: list[Any]) -> Any:
    """One command: a function call, or a single operand."""
    kind, text = command[0]
    if kind == "ident":
        function = functions.get(text)
        if function is None:
            raise TemplateError(f'template: {NAME}:{where}: function "{text}" not defined or not supported in '
                                "swarm templates")
        args = [_operand(k, t, data, where) for k, t in command[1:]] + piped
        try:
            return function(*args)
        except TypeError:
            raise TemplateError(f"template: {NAME}:{where}: wrong number of args for {text}") from None
        except TemplateError:
            raise
        except (KeyError, ValueError, LookupError) as exc:
            raise TemplateError(f'template: {NAME}:{where}: executing "{NAME}" at <{text}>: error calling '
                                f"{text}: {exc.args[0] if exc.args else exc}") from None
    if len(command) > 1 or piped:
        raise TemplateError(f"template: {NAME}:{where}: can't give argument to non-function {text}")
    return _operand(kind, text, data, where)


def _operand(kind: str, text: str, data: Any, where: str) -> Any:
    """A field chain's value, a string literal or a number."""
    if kind == "field":
        return _field(text, data, where)
    if kind == "string":
        return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", _unescape, text[1:-1])
    if kind == "raw":
        return text[1:-1]
    if kind == "number":
        return int(text)
    raise TemplateError(f"template: {NAME}:{where}: unexpected {text!r} in operand")


def _unescape(match: re.Match[str]) -> str:
    """One backslash escape of a Go string literal."""
    code = match.group(1)
    if code.startswith("x"):
        return chr(int(code[1:], 16))
    if code not in ESCAPES:
        raise TemplateError(f"template: {NAME}: unknown escape sequence \\{code}")
    return ESCAPES[code]


def _field(chain: str, data: Any, where: str) -> Any:
    """`.A.B` looked up in the data: struct fields, map keys (a missing key is an error)."""
    value = data
    for name in [part for part in chain.split(".") if part]:
        if isinstance(value, Struct):
            if name not in value:
                raise TemplateError(f'template: {NAME}:{where}: executing "{NAME}" at <{chain}>: can\'t evaluate '
                                    f"field {name}")
        elif isinstance(value, dict):
            if name not in value:
                raise TemplateError(f'template: {NAME}:{where}: executing "{NAME}" at <{chain}>: map has no entry '
                                    f'for key "{name}"')
        else:
            raise TemplateError(f'template: {NAME}:{where}: executing "{NAME}" at <{chain}>: can\'t evaluate field '
                                f"{name} in type string")
        value = value[name]
    return value


def _print(value: Any) -> str:
    """A value as Go's fmt prints it with %v."""
    if isinstance(value, Struct):
        return "{" + " ".join(_print(v) for v in value.values()) + "}"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_print(k)}:{_print(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _index(collection: Any, *keys: Any) -> Any:
    """Go's `index`: a map entry (the zero value "" when missing), nested for several keys."""
    value = collection
    for key in keys:
        if not isinstance(value, dict) or isinstance(value, Struct):
            raise ValueError(f"can't index item of type {type(value).__name__}")
        value = value.get(key, "")
    return value


def _join(separator: str, *parts: str) -> str:
    """swarmkit's `join`: the parts joined by the first argument."""
    return separator.join(parts)
