"""Dockerfile parser: directives, comments, line continuations, heredocs, flags, JSON (exec) vs shell form."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dockyard.errors import InvalidParameter

INSTRUCTIONS = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
                "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir")
HEREDOC_INSTRUCTIONS = ("run", "copy", "add")
_EXEC_FORM = ("run", "cmd", "entrypoint", "shell", "copy", "add", "volume", "healthcheck")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")


class ParseError(InvalidParameter):
    """A Dockerfile that cannot be parsed; the message names the line as docker does."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"dockerfile parse error on line {line}: {message}")
        self.line = line


@dataclass
class Heredoc:
    """One `<<NAME` document: its body and whether variables expand in it (unquoted name)."""

    name: str
    content: str
    expand: bool


@dataclass
class Instruction:
    """One instruction: keyword (lower case), raw flags, the text after them, exec form if JSON."""

    cmd: str
    rest: str
    line: int
    original: str
    flags: list[str] = field(default_factory=list)
    exec_form: list[str] | None = None
    heredocs: list[Heredoc] = field(default_factory=list)

    def flag(self, name: str) -> str | None:
        """The raw value of `--name=value` (last wins), "true" for a bare `--name`, None when absent."""
        found = None
        for item in self.flags:
            key, eq, value = item[2:].partition("=")
            if key == name:
                found = value if eq else "true"
        return found

    def flag_values(self, name: str) -> list[str]:
        """Every value of a repeatable flag such as `--mount`."""
        return [item[2:].partition("=")[2] for item in self.flags if item[2:].partition("=")[0] == name]


@dataclass
class Dockerfile:
    """A parsed Dockerfile: parser directives and instructions in order."""

    directives: dict[str, str]
    instructions: list[Instruction]
    escape: str = "\\"


def parse(text: str) -> Dockerfile:
    """Parse a whole Dockerfile."""
    lines = text.replace("\r\n", "\n").split("\n")
    directives, index = _directives(lines)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise ParseError(1, f"invalid escape token '{escape}' does not match ` or \\")
    instructions: list[Instruction] = []
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index
        joined, index = _logical_line(lines, index, escape)
        inst = parse_line(joined, start + 1, escape)
        if inst.cmd in HEREDOC_INSTRUCTIONS:
            index = _read_heredocs(inst, lines, index)
        instructions.append(inst)
    return Dockerfile(directives, instructions, escape)


def _directives(lines: list[str]) -> tuple[dict[str, str], int]:
    """Leading `# key=value` lines; they end at the first line of any other kind."""
    found: dict[str, str] = {}
    index = 0
    while index < len(lines):
        m = _DIRECTIVE.match(lines[index].strip())
        if not m or m.group(1).lower() not in _KNOWN_DIRECTIVES:
            break
        key = m.group(1).lower()
        if key in found:
            raise ParseError(index + 1, f"only one {key} parser directive can be used")
        found[key] = m.group(2)
        index += 1
    return found, index


def _logical_line(lines: list[str], index: int, escape: str) -> tuple[str, int]:
    """Join a line with its continuations (comment and blank lines inside them are skipped)."""
    parts: list[str] = []
    while index < len(lines):
        line = lines[index]
        index += 1
        if parts and (not line.strip() or line.lstrip().startswith("#")):
            continue
        trimmed = line.rstrip()
        if trimmed.endswith(escape):
            parts.append(trimmed[:-1])
            continue
        parts.append(line)
        return "".join(parts), index
    return "".join(parts), index


def parse_line(text: str, line: int, escape: str = "\\") -> Instruction:
    """Parse one logical line (also used for ONBUILD triggers)."""
    stripped = text.strip()
    keyword, _, rest = stripped.partition(" ")
    if "\t" in keyword:
        keyword, _, more = keyword.partition("\t")
        rest = more + " " + rest
    cmd = keyword.lower()
    if cmd not in INSTRUCTIONS:
        raise ParseError(line, f"unknown instruction: {keyword}")
    flags, rest = _split_flags(rest.strip())
    inst = Instruction(cmd=cmd, rest=rest, line=line, original=stripped, flags=flags)
    if cmd in _EXEC_FORM and rest.startswith("["):
        inst.exec_form = _json_array(rest)
    if cmd == "onbuild":
        trigger = parse_line(rest, line, escape) if rest else None
        if trigger is None:
            raise ParseError(line, "ONBUILD requires at least one argument")
        if trigger.cmd in ("onbuild", "from", "maintainer"):
            raise ParseError(line, f"{trigger.cmd.upper()} isn't allowed as an ONBUILD trigger")
    return inst


def _split_flags(rest: str) -> tuple[list[str], str]:
    """Leading `--name[=value]` words become flags; the remainder is the instruction's argument text."""
    flags: list[str] = []
    while rest.startswith("--"):
        word, _, remainder = _first_word(rest)
        if word == "--":
            break
        flags.append(word)
        rest = remainder.lstrip()
    return flags, rest


def _first_word(text: str) -> tuple[str, str, str]:
    """Split off the first whitespace-delimited word, honouring quotes inside it."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in " \t":
            return _unquote_flag(text[:i]), " ", text[i:]
    return _unquote_flag(text), "", ""


def _unquote_flag(word: str) -> str:
    """`--mount="type=cache,target=/x"` -> `--mount=type=cache,target=/x`."""
    key, eq, value = word.partition("=")
    if eq and len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return key + eq + value


def _json_array(rest: str) -> list[str] | None:
    """The exec-form array, or None when the text is not a JSON array of strings (then it is shell form)."""
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _read_heredocs(inst: Instruction, lines: list[str], index: int) -> int:
    """Attach the bodies of every `<<NAME` in the instruction; returns the index after the last terminator."""
    for m in _HEREDOC.finditer(inst.rest):
        strip_tabs, quote, name = m.group(1) == "-", m.group(2), m.group(3)
        body: list[str] = []
        while True:
            if index >= len(lines):
                raise ParseError(inst.line, f"unterminated heredoc {name}")
            line = lines[index]
            index += 1
            if strip_tabs:
                line = line.lstrip("\t")
            if line == name:
                break
            body.append(line)
        inst.heredocs.append(Heredoc(name, "".join(f"{b}\n" for b in body), expand=not quote))
    return index


def split_raw_words(text: str) -> list[str]:
    """Split on unquoted whitespace keeping quotes and escapes (for later expansion word by word)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quote != "'":
            current.append(ch)
            escaped = True
        elif quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            current.append(ch)
            quote = ch
        elif ch in " \t\n":
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
    if quote:
        raise InvalidParameter(f"unmatched quote in {text!r}")
    if current:
        words.append("".join(current))
    return words


def key_values(inst: Instruction) -> list[tuple[str, str]]:
    """ENV/LABEL pairs (raw, unexpanded): `k=v k2="v 2"` or the legacy `k value with spaces`."""
    words = split_raw_words(inst.rest)
    if not words:
        raise ParseError(inst.line, f"{inst.cmd.upper()} requires at least one argument")
    if "=" not in words[0]:
        if inst.cmd == "label" or len(words) < 2:
            raise ParseError(inst.line, f"{inst.cmd.upper()} names can not be blank" if not words[0]
                             else f"{inst.cmd.upper()} must have two arguments")
        return [(words[0], inst.rest[len(words[0]):].strip())]
    pairs = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise ParseError(inst.line, f"Syntax error - can't find = in \"{word}\". Must be of the form: name=value")
        pairs.append((key, value))
    return pairs
