""".dockerignore matching with docker's rules: `*`, `?`, `[...]`, `**` across directories, `!` exceptions."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


@dataclass
class Pattern:
    """One cleaned pattern, its regular expression and whether it is a `!` exception."""

    text: str
    regex: re.Pattern[str]
    exclusion: bool


def read_patterns(text: str) -> list[str]:
    """The non-comment, non-empty lines of a .dockerignore file."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def _clean(pattern: str) -> str:
    """filepath.Clean, then drop a leading slash (patterns are relative to the context root)."""
    cleaned = posixpath.normpath(pattern).lstrip("/")
    return cleaned or "."


def _to_regex(pattern: str) -> re.Pattern[str]:
    """Translate a pattern the way moby's patternmatcher does."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if i + 1 < len(pattern) and pattern[i + 1] == "*":
                i += 2
                if i < len(pattern) and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= len(pattern) else "(.*/)?")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.S)


class IgnoreMatcher:
    """Decides whether a context path is excluded; the last matching pattern wins."""

    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[Pattern] = []
        for line in lines:
            exclusion = line.startswith("!")
            text = _clean(line[1:].strip() if exclusion else line)
            self.patterns.append(Pattern(text, _to_regex(text), exclusion))

    @property
    def has_exceptions(self) -> bool:
        """True when some `!` pattern may re-include a path below an excluded directory."""
        return any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """Whether `path` (relative, slash-separated) is excluded by the patterns."""
        path = posixpath.normpath(path).lstrip("/")
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            hit = bool(pattern.regex.match(path))
            if not hit:
                hit = any(pattern.regex.match("/".join(parents[:n])) for n in range(1, len(parents) + 1))
            if hit:
                matched = not pattern.exclusion
        return matched
