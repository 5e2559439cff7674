"""The pages' bodies, from index rows and image views to HTML; every value from users goes through `e`."""

from __future__ import annotations

from typing import Any

from dockyard.registry.web import markdown
from dockyard.registry.web.layout import Viewer, ago, csrf_field, e, human_size, page, url

SORTS = {"name": ("Name", "name"), "updated": ("Last pushed", "-last_updated"),
         "pulls": ("Pulls", "-pull_count"), "stars": ("Stars", "-star_count")}
NOTICES = {"description": "Description saved.", "visibility": "Visibility changed.",
           "collaborators": "Collaborators updated.", "tag": "Tag deleted.", "deleted": "Repository deleted."}


def _pager(path: str, number: int, pages: int, **query: object) -> str:
    """Previous / page x of y / next links."""
    if pages <= 1:
        return ""
    prev = (f'<a rel="prev" href="{e(url(path, **query, page=number - 1))}">← Previous</a>' if number > 1
            else '<span class="muted">← Previous</span>')
    nxt = (f'<a rel="next" href="{e(url(path, **query, page=number + 1))}">Next →</a>' if number < pages
           else '<span class="muted">Next →</span>')
    return f'<nav class="pager">{prev}<span>Page {number} of {pages}</span>{nxt}</nav>'


def _badges(row: dict[str, Any]) -> str:
    """Private/public and official badges."""
    out = ('<span class="badge private">Private</span>' if row["private"]
           else '<span class="badge public">Public</span>')
    if row["namespace"] in ("library", ""):
        out += '<span class="badge official">Official</span>'
    return out


def home(viewer: Viewer, query: str, sort: str, number: int, count: int, rows: list[dict[str, Any]],
         size: int) -> str:
    """The repository list (or search results) with sorting and pagination."""
    tabs = "".join(f'<a class="tab{" on" if key == sort else ""}" href="{e(url("", q=query, sort=key))}">'
                   f"{label}</a>" for key, (label, _) in SORTS.items())
    cards = "".join(
        f'<li class="card"><a class="repo-name" href="{e(url("r", r["name"]))}">{e(r["name"])}</a>{_badges(r)}'
        f'<p class="desc">{e(r["description"]) or "<span class=muted>No description</span>"}</p>'
        f'<p class="meta"><span title="Stars">★ {r["star_count"]}</span><span title="Pulls">⤓ {r["pull_count"]}'
        f'</span><span>Updated {ago(r["last_pushed"])}</span>'
        + (f'<span class="chip" title="Latest tag">{e(r["latest_tag"])}</span>' if r["latest_tag"] else "")
        + "</p></li>" for r in rows)
    title = f"Results for “{e(query)}”" if query else "Repositories"
    empty = ('<p class="empty">No repository matches.</p>' if query
             else '<p class="empty">Nothing here yet: push an image to see it listed.</p>')
    pages = (count + size - 1) // size
    body = (f'<section class="head"><h1>{title}</h1><p class="muted">{count} '
            f'repositor{"y" if count == 1 else "ies"}</p></section>'
            f'<nav class="tabs" aria-label="Sort by">{tabs}</nav>'
            f'<ul class="cards">{cards}</ul>{"" if rows else empty}'
            f'{_pager("", number, pages, q=query, sort=sort)}')
    return page(f"Search: {query}" if query else "Repositories", body, viewer, query)


def _platforms(tag: dict[str, Any]) -> str:
    """os/arch[/variant] of every platform of a tag."""
    names = [f'{p.get("os", "")}/{p.get("architecture", "")}' + (f'/{p["variant"]}' if p.get("variant") else "")
             for p in tag["platforms"]]
    return " ".join(f'<span class="chip">{e(n)}</span>' for n in names if n != "/") or '<span class="muted">—</span>'


def _digest(digest: str) -> str:
    """A short digest with the full one in a title."""
    return f'<code class="digest" title="{e(digest)}">{e(digest.removeprefix("sha256:")[:12])}</code>'


def _pull_box(command: str) -> str:
    """A docker pull command with a copy button."""
    return (f'<div class="pull"><code class="cmd">{e(command)}</code>'
            f'<button type="button" class="copy" data-copy="{e(command)}">Copy</button></div>')


def repository(viewer: Viewer, row: dict[str, Any], level: int, starred: bool, host: str,
               tags: list[dict[str, Any]], tag_count: int, number: int, size: int) -> str:
    """A repository: descriptions, visibility, stars, pulls, pull command, tags."""
    name = row["name"]
    star = ""
    if viewer.user:
        star = (f'<form method="post" action="{e(url("r", name, "-", "star"))}" class="inline">{csrf_field(viewer)}'
                f'<input type="hidden" name="on" value="{"0" if starred else "1"}">'
                f'<button class="button small{" on" if starred else ""}" type="submit">'
                f'{"★ Starred" if starred else "☆ Star"}</button></form>')
    settings = (f'<a class="button small" href="{e(url("r", name, "-", "settings"))}">Settings</a>'
                if level >= 3 else "")
    rows = "".join(
        f'<tr><td class="tag-cell"><a href="{e(url("r", name, "-", "tags", t["name"]))}">{e(t["name"])}</a></td>'
        f'<td data-label="Digest">{_digest(t["digest"])}</td>'
        f'<td class="num" data-label="Size">{e(human_size(t["size"]))}</td>'
        f'<td data-label="OS/Arch">{_platforms(t)}</td><td data-label="Pushed">{ago(t["pushed"])}</td>'
        f'<td data-label="By">{e(t["pusher"] or "—")}</td></tr>' for t in tags)
    table = (f'<div class="scroll"><table class="tags"><thead><tr><th>Tag</th><th>Digest</th><th class="num">Size'
             f'</th><th>OS/Arch</th><th>Last pushed</th><th>By</th></tr></thead><tbody>{rows}</tbody></table></div>'
             if tags else '<p class="empty">No tags.</p>')
    latest = tags[0]["name"] if tags else "latest"
    full = markdown.render(row["full_description"]) or '<p class="muted">No overview yet.</p>'
    pages = (tag_count + size - 1) // size
    body = f"""<section class="head repo-head">
<p class="crumbs"><a href="/">Repositories</a> / {e(row["namespace"] or "")}</p>
<h1>{e(name)} {_badges(row)}</h1>
<p class="lead">{e(row["description"]) or '<span class="muted">No description</span>'}</p>
<p class="meta"><span title="Stars">★ {row["star_count"]} stars</span><span title="Pulls">⤓ {row["pull_count"]} pulls</span>
<span>Last pushed {ago(row["last_pushed"])}{" by " + e(row["last_pusher"]) if row["last_pusher"] else ""}</span></p>
<div class="actions">{star}{settings}</div></section>
<div class="grid"><section class="panel overview"><h2>Overview</h2><div class="markdown">{full}</div></section>
<aside class="panel"><h2>Pull this image</h2>{_pull_box(f"docker pull {host}/{name}:{latest}")}</aside></div>
<section class="panel"><h2>Tags <span class="muted">({tag_count})</span></h2>{table}
{_pager(f"r/{name}", number, pages)}</section>"""
    return page(name, body, viewer)


def _value(value: Any) -> str:
    """A config value: a list as code chips, null as a dash."""
    if value in (None, [], {}):
        return '<span class="muted">—</span>'
    if isinstance(value, list):
        return " ".join(f"<code>{e(v)}</code>" for v in value)
    return f"<code>{e(value)}</code>"


def _config(config: dict[str, Any]) -> str:
    """Entrypoint, cmd, env, exposed ports, labels, working dir, user."""
    env = "".join(f"<li><code>{e(v)}</code></li>" for v in config.get("env") or [])
    labels = "".join(f"<tr><td><code>{e(k)}</code></td><td><code>{e(v)}</code></td></tr>"
                     for k, v in sorted((config.get("labels") or {}).items()))
    ports = list((config.get("exposed_ports") or {}).keys())
    return f"""<dl class="config">
<dt>Entrypoint</dt><dd>{_value(config.get("entrypoint"))}</dd>
<dt>Cmd</dt><dd>{_value(config.get("cmd"))}</dd>
<dt>Env</dt><dd>{f'<ul class="plain env">{env}</ul>' if env else _value(None)}</dd>
<dt>Exposed ports</dt><dd>{_value(ports)}</dd>
<dt>Working dir</dt><dd>{_value(config.get("working_dir"))}</dd>
<dt>User</dt><dd>{_value(config.get("user"))}</dd>
<dt>Labels</dt><dd>{f'<table class="labels">{labels}</table>' if labels else _value(None)}</dd></dl>"""


def _image(image: dict[str, Any]) -> str:
    """One platform of a tag: layers, config, history."""
    platform = f'{image["os"]}/{image["architecture"]}' + (f'/{image["variant"]}' if image.get("variant") else "")
    layers = "".join(f'<tr><td class="num">{i}</td><td class="instr"><code>{e(l["instruction"] or "—")}</code></td>'
                     f'<td>{_digest(l["digest"] or "")}</td><td class="num">{e(human_size(l["size"]))}</td></tr>'
                     for i, l in enumerate(image["layers"], 1))
    history = "".join(f'<li{" class=empty-layer" if h["empty_layer"] else ""}><code>{e(h["created_by"])}</code>'
                      f'{"<span class=muted> (no layer)</span>" if h["empty_layer"] else ""}</li>'
                      for h in image["history"])
    return f"""<section class="panel image"><h2><span class="chip">{e(platform)}</span> {_digest(image["digest"])}
<span class="muted">{e(human_size(image["size"]))} compressed</span></h2>
<h3>Layers</h3><div class="scroll"><table class="layers"><thead><tr><th class="num">#</th><th>Instruction</th>
<th>Digest</th><th class="num">Size</th></tr></thead><tbody>{layers}</tbody></table></div>
<h3>Config</h3>{_config(image["config"])}
<h3>History</h3>{f'<ol class="history">{history}</ol>' if history else '<p class="muted">No history.</p>'}</section>"""


def tag(viewer: Viewer, row: dict[str, Any], tag_row: dict[str, Any], images: list[dict[str, Any]],
        host: str) -> str:
    """A tag: its digest, platforms and, per platform, layers, config and history."""
    name, tag_name = row["name"], tag_row["name"]
    body = f"""<section class="head"><p class="crumbs"><a href="/">Repositories</a> /
<a href="{e(url("r", name))}">{e(name)}</a> / tags</p>
<h1>{e(name)}:<span class="tagname">{e(tag_name)}</span></h1>
<p class="meta"><span>{_digest(tag_row["digest"])}</span><span>{e(human_size(tag_row["size"]))}</span>
<span>Pushed {ago(tag_row["pushed"])}{" by " + e(tag_row["pusher"]) if tag_row["pusher"] else ""}</span></p>
{_pull_box(f"docker pull {host}/{name}:{tag_name}")}</section>
{"".join(_image(i) for i in images) or '<p class="empty">No image of a known platform.</p>'}"""
    return page(f"{name}:{tag_name}", body, viewer)


def _post(viewer: Viewer, action: str, inner: str, cls: str = "") -> str:
    """A POST form with its CSRF token."""
    return f'<form method="post" action="{e(action)}" class="{cls}">{csrf_field(viewer)}{inner}</form>'


def settings(viewer: Viewer, row: dict[str, Any], collaborators: list[dict[str, Any]],
             tags: list[dict[str, Any]], notice: str) -> str:
    """An owner's settings: description, visibility, collaborators, delete tag, delete repository."""
    name = row["name"]

    def act(*parts: str) -> str:
        return url("r", name, "-", *parts)

    options = "".join(f'<option value="{p}">{p}</option>' for p in ("read", "write", "admin"))
    people = "".join(
        f'<li><span>{e(c["user"])}</span><span class="chip">{e(c["permission"])}</span>'
        + _post(viewer, act("collaborators"), f'<input type="hidden" name="user" value="{e(c["user"])}">'
                '<input type="hidden" name="permission" value="none">'
                '<button class="link danger" type="submit">Remove</button>', "inline") + "</li>"
        for c in collaborators)
    tag_rows = "".join(
        f'<li><code>{e(t["name"])}</code>'
        + _post(viewer, act("tags", t["name"], "delete"), '<button class="link danger" type="submit">Delete</button>',
                "inline") + "</li>" for t in tags)
    private = bool(row["private"])
    message = f'<p class="notice" role="status">{e(NOTICES[notice])}</p>' if notice in NOTICES else ""
    body = f"""<section class="head"><p class="crumbs"><a href="/">Repositories</a> /
<a href="{e(url("r", name))}">{e(name)}</a> / settings</p><h1>Settings of {e(name)}</h1>{message}</section>
<section class="panel"><h2>Description</h2>{_post(viewer, act("description"), f'''
<label for="description">Short description <span class="muted">(100 characters)</span></label>
<input id="description" name="description" maxlength="100" value="{e(row["description"])}">
<label for="full_description">Overview <span class="muted">(Markdown: headings, emphasis, code, lists, links)</span></label>
<textarea id="full_description" name="full_description" rows="10">{e(row["full_description"])}</textarea>
<button class="button" type="submit">Save description</button>''', "stack")}</section>
<section class="panel"><h2>Visibility</h2>{_post(viewer, act("visibility"), f'''
<label class="radio"><input type="radio" name="visibility" value="public"{"" if private else " checked"}>
<span><b>Public</b> — anyone can find and pull it</span></label>
<label class="radio"><input type="radio" name="visibility" value="private"{" checked" if private else ""}>
<span><b>Private</b> — only you, your organisation's teams and collaborators</span></label>
<button class="button" type="submit">Save visibility</button>''', "stack")}</section>
<section class="panel"><h2>Collaborators</h2>
{f'<ul class="rows">{people}</ul>' if people else '<p class="muted">No collaborators.</p>'}
{_post(viewer, act("collaborators"), f'''<input name="user" placeholder="User name" aria-label="User name" required>
<select name="permission" aria-label="Permission">{options}</select>
<button class="button" type="submit">Add</button>''', "row-form")}</section>
<section class="panel"><h2>Tags</h2>{f'<ul class="rows">{tag_rows}</ul>' if tag_rows else '<p class="muted">No tags.</p>'}
</section>
<section class="panel danger-zone"><h2>Delete repository</h2>
<p>This deletes every tag and manifest of <b>{e(name)}</b>. It cannot be undone. Type its name to confirm.</p>
{_post(viewer, act("delete"), f'''<input name="confirm" placeholder="{e(name)}" aria-label="Repository name" required
 autocomplete="off" data-confirm="{e(name)}"><button class="button danger" type="submit">Delete repository</button>''',
       "row-form")}</section>"""
    return page(f"Settings · {name}", body, viewer)


def signin(viewer: Viewer, next_path: str, error: str, signup: bool, username: str = "") -> str:
    """The sign-in form."""
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    join = f'<p class="muted">New here? <a href="{e(url("signup"))}">Create an account</a></p>' if signup else ""
    body = f"""<section class="auth panel"><h1>Sign in</h1>{problem}{_post(viewer, "/signin", f'''
<input type="hidden" name="next" value="{e(next_path)}">
<label for="username">User name</label><input id="username" name="username" value="{e(username)}" required
 autocomplete="username" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required
 autocomplete="current-password">
<button class="button" type="submit">Sign in</button>''', "stack")}{join}</section>"""
    return page("Sign in", body, viewer)


def signup(viewer: Viewer, error: str, username: str = "", email: str = "") -> str:
    """The sign-up form."""
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    body = f"""<section class="auth panel"><h1>Create an account</h1>{problem}{_post(viewer, "/signup", f'''
<label for="username">User name</label><input id="username" name="username" value="{e(username)}" required
 autocomplete="username">
<label for="email">Email</label><input id="email" name="email" type="email" value="{e(email)}" autocomplete="email">
<label for="password">Password</label><input id="password" name="password" type="password" required minlength="8"
 autocomplete="new-password">
<button class="button" type="submit">Create account</button>''', "stack")}
<p class="muted">Already have one? <a href="/signin">Sign in</a></p></section>"""
    return page("Create an account", body, viewer)


def error(viewer: Viewer, status: int, message: str) -> str:
    """An error page."""
    titles = {403: "Forbidden", 404: "Not found", 400: "Bad request", 401: "Sign in required"}
    title = titles.get(status, "Something went wrong")
    body = (f'<section class="panel error-page"><h1>{status} · {title}</h1><p>{e(message)}</p>'
            '<p><a href="/">Back to the repositories</a></p></section>')
    return page(title, body, viewer)
