"""Dockerfile word processing: quote removal, `$VAR`/`${VAR:-x}`/`${VAR:+x}` substitution, word splitting."""

from __future__ import annotations

from typing import Mapping

from dockyard.errors import InvalidParameter


class Lexer:
    """Expands words the way BuildKit's shell lexer does; `used` collects every variable name looked up."""

    def __init__(self, env: Mapping[str, str], escape: str = "\\") -> None:
        self.env = env
        self.escape = escape
        self.used: set[str] = set()

    def word(self, text: str) -> str:
        """One word: quotes removed and variables expanded, whitespace kept."""
        words = self._process(text, split=False)
        return words[0] if words else ""

    def words(self, text: str) -> list[str]:
        """Split on unquoted whitespace, then quote removal and expansion per word."""
        return self._process(text, split=True)

    def _process(self, text: str, split: bool) -> list[str]:
        out: list[str] = []
        current: list[str] = []
        started = False
        i = 0
        while i < len(text):
            ch = text[i]
            if split and ch in " \t\r\n":
                if started:
                    out.append("".join(current))
                    current, started = [], False
                i += 1
                continue
            started = True
            if ch == self.escape:
                if i + 1 < len(text):
                    current.append(text[i + 1])
                    i += 2
                else:
                    i += 1
                continue
            if ch == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise InvalidParameter(f"unexpected end of statement while looking for matching single-quote in {text!r}")
                current.append(text[i + 1:end])
                i = end + 1
                continue
            if ch == '"':
                i = self._double_quoted(text, i + 1, current)
                continue
            if ch == "$":
                value, i = self._dollar(text, i + 1)
                current.append(value)
                continue
            current.append(ch)
            i += 1
        if started:
            out.append("".join(current))
        return out

    def _double_quoted(self, text: str, i: int, current: list[str]) -> int:
        """Consume a double-quoted section starting after the quote; returns the index after the closing one."""
        while i < len(text):
            ch = text[i]
            if ch == '"':
                return i + 1
            if ch == self.escape and i + 1 < len(text) and text[i + 1] in '"$' + self.escape:
                current.append(text[i + 1])
                i += 2
                continue
            if ch == "$":
                value, i = self._dollar(text, i + 1)
                current.append(value)
                continue
            current.append(ch)
            i += 1
        raise InvalidParameter(f"unexpected end of statement while looking for matching double-quote in {text!r}")

    def _lookup(self, name: str) -> str | None:
        self.used.add(name)
        return self.env.get(name)

    def _dollar(self, text: str, i: int) -> tuple[str, int]:
        """Expand the variable reference starting after `$`; returns (value, next index)."""
        if i >= len(text):
            return "$", i
        if text[i] != "{":
            end = i
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
            if end == i:
                return "$", i
            return self._lookup(text[i:end]) or "", end
        end = i + 1
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        name = text[i + 1:end]
        if not name:
            raise InvalidParameter(f"bad substitution in {text!r}")
        if end < len(text) and text[end] == "}":
            return self._lookup(name) or "", end + 1
        operator = text[end:end + 2] if text[end:end + 1] == ":" else text[end:end + 1]
        if operator not in (":-", ":+", ":?", "-", "+", "?"):
            raise InvalidParameter(f"unsupported modifier ({text[end:end + 1]}) in substitution {text!r}")
        close = _matching_brace(text, end + len(operator))
        inner = Lexer(self.env, self.escape)
        alternative = inner.word(text[end + len(operator):close])
        self.used |= inner.used
        value = self._lookup(name)
        empty = value is None or (operator.startswith(":") and value == "")
        kind = operator[-1]
        if kind == "-":
            return (alternative if empty else value or ""), close + 1
        if kind == "+":
            return ("" if empty else alternative), close + 1
        if empty:
            raise InvalidParameter(f"{name}: {alternative or 'is not allowed to be unset'}")
        return value or "", close + 1


def _matching_brace(text: str, start: int) -> int:
    """Index of the `}` closing a `${` whose modifier word starts at `start`."""
    depth = 1
    i = start
    while i < len(text):
        if text[i] == "{" and i > 0 and text[i - 1] == "$":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise InvalidParameter(f"missing '}}' in substitution {text!r}")
