"""A safe Markdown subset: headings, paragraphs, emphasis, code, lists, http(s) links; everything else is text.

Every character of the source reaches the page escaped; only the tags this module writes itself are markup.
"""

from __future__ import annotations

import html
import re

_HEADING = re.compile(r"(#{1,6})\s+(.*?)\s*#*\s*\Z")
_BULLET = re.compile(r"[-*+]\s+(.*)\Z")
_NUMBERED = re.compile(r"\d{1,9}[.)]\s+(.*)\Z")
_FENCE = re.compile(r"(```|~~~)")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_SAFE_URL = re.compile(r"https?://[^\s\"'<>`]+\Z", re.IGNORECASE)


def _emphasis(text: str) -> str:
    """Escaped text with **strong** and *em*."""
    out = _STRONG.sub(lambda m: f"<strong>{m.group(2)}</strong>", html.escape(text))
    return _EM.sub(lambda m: f"<em>{m.group(2)}</em>", out)


def _links(text: str) -> str:
    """Text with [label](http(s)://...) links; a link of any other scheme stays as its text."""
    out, pos = [], 0
    for m in _LINK.finditer(text):
        out.append(_emphasis(text[pos:m.start()]))
        label, url = m.group(1), m.group(2)
        if _SAFE_URL.match(url):
            out.append(f'<a href="{html.escape(url, quote=True)}" rel="nofollow noopener noreferrer">'
                       f"{_emphasis(label)}</a>")
        else:
            out.append(_emphasis(m.group(0)))
        pos = m.end()
    out.append(_emphasis(text[pos:]))
    return "".join(out)


def inline(text: str) -> str:
    """One line or paragraph: `code` spans first, then links and emphasis outside them."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick is text
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else _links(p) for i, p in enumerate(parts))


def render(source: str) -> str:
    """The HTML of a Markdown text (the safe subset)."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush() -> None:
        """Close an open paragraph or list."""
        nonlocal list_tag
        if paragraph:
            out.append(f"<p>{inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append(f"<{list_tag}>" + "".join(f"<li>{inline(i)}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
            list_tag = ""

    lines = source.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        stripped = line.strip()
        fence = _FENCE.match(stripped)
        if fence:
            flush()
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(fence.group(1)):
                end += 1
            out.append("<pre><code>" + html.escape("\n".join(lines[i + 1:end])) + "</code></pre>")
            i = end + 1
            continue
        heading = _HEADING.match(stripped)
        bullet, numbered = _BULLET.match(stripped), _NUMBERED.match(stripped)
        if not stripped:
            flush()
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            tag = "ul" if bullet else "ol"
            if paragraph or (list_tag and list_tag != tag):
                flush()
            list_tag = tag
            items.append((bullet or numbered).group(1))  # type: ignore[union-attr]
        elif items and lines[i].startswith((" ", "\t")):
            items[-1] += " " + stripped
        else:
            if items:
                flush()
            paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(out)
