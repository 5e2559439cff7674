"""The HTML frame of every page (header, search box, signed-in user) and small formatting helpers."""

from __future__ import annotations

import html
import time
import urllib.parse
from dataclasses import dataclass

HUB_NAME = "Dockyard Hub"


def e(value: object) -> str:
    """HTML-escape anything for text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def url(*parts: str, **query: object) -> str:
    """A local path from components (each percent-quoted, slashes kept) and a query string."""
    path = "/" + "/".join(urllib.parse.quote(p, safe="/") for p in parts)
    kept = {k: str(v) for k, v in query.items() if v not in (None, "")}
    return path + ("?" + urllib.parse.urlencode(kept) if kept else "")


def human_size(size: int) -> str:
    """Bytes in docker's units (1000-based): 4.26 MB."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def ago(when: float | None, now: float | None = None) -> str:
    """A <time> saying how long ago (the exact UTC time in its title)."""
    if when is None:
        return '<span class="muted">never</span>'
    seconds = max(0, int((now or time.time()) - when))
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = seconds // length
            text = f"{count} {unit}{'s' if count > 1 else ''} ago"
            break
    else:
        text = "just now"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    return f'<time datetime="{stamp}" title="{stamp.replace("T", " ")}">{text}</time>'


@dataclass(frozen=True)
class Viewer:
    """Who sees a page: their name (None anonymous), the session's CSRF token, the sign-in path to come back."""

    user: str | None
    csrf: str
    path: str
    accounts: bool  # whether this registry has hub accounts (auth mode hub): sign-in links


def csrf_field(viewer: Viewer) -> str:
    """The hidden CSRF input of a form."""
    return f'<input type="hidden" name="csrf" value="{e(viewer.csrf)}">'


def page(title: str, body: str, viewer: Viewer, query: str = "") -> str:
    """A whole HTML document."""
    if viewer.user:
        account = (f'<span class="who" title="Signed in">{e(viewer.user)}</span>'
                   f'<form method="post" action="/signout" class="inline">{csrf_field(viewer)}'
                   '<button class="link" type="submit">Sign out</button></form>')
    elif viewer.accounts:
        back = "/" if viewer.path.startswith(("/signin", "/signup")) else viewer.path
        account = f'<a class="button small" href="{e(url("signin", next=back))}">Sign in</a>'
    else:
        account = ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} · {HUB_NAME}</title>
<link rel="stylesheet" href="/static/hub.css"><link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<script src="/static/hub.js" defer></script></head>
<body><header class="top"><div class="wrap bar">
<a class="brand" href="/"><img src="/static/icon.svg" alt="" width="28" height="28"><span>{HUB_NAME}</span></a>
<form class="search" action="/" method="get" role="search">
<input type="search" name="q" value="{e(query)}" placeholder="Search repositories" aria-label="Search repositories"
 autocomplete="off" data-suggest="/v2/search/repositories/">
<ul class="suggest" hidden></ul></form>
<nav class="account">{account}</nav></div></header>
<main class="wrap">{body}</main>
<footer class="wrap muted">{HUB_NAME} · served by Dockyard's registry</footer>
</body></html>"""
