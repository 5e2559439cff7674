"""The web front's routes: pages, sign-in/out/up with server-side sessions, CSRF-checked forms, static files.

Every answer carries a Content-Security-Policy without inline scripts or styles; the pages' script and style
are files under /static/. Forms post with the session's CSRF token (and, when the browser sends one, an Origin
of this host); anything else is refused with 403.
"""

from __future__ import annotations

import functools
import http.cookies
import urllib.parse
from pathlib import Path
from typing import Any, Awaitable, Callable

from dockyard.errors import DockyardError, Forbidden, InvalidParameter, NotFound, status_of
from dockyard.registry.accounts import LEVELS, Principal
from dockyard.registry.errors import RegistryError
from dockyard.registry.hub import Hub
from dockyard.registry.hubapi import HubApi
from dockyard.registry.web import pages
from dockyard.registry.web.layout import Viewer, url
from dockyard.registry.web.sessions import ANONYMOUS_TTL, COOKIE, SIGNED_IN_TTL, Session, Sessions, cookie, csrf_ok
from dockyard.server.routing import Raw, Request, Response, Router, run_blocking

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}
STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}
FORM_LIMIT = 64 * 1024
PAGE_SIZE = 20
TAGS_PAGE_SIZE = 25

Page = Callable[[Request], Awaitable[Response]]


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in; anything that could leave this site becomes "/"."""
    target = target or "/"
    parts = urllib.parse.urlsplit(target)
    if (not target.startswith("/") or target.startswith(("//", "/\\")) or parts.scheme or parts.netloc
            or any(c in target for c in "\\\r\n\t")):
        return "/"
    return target


def _number(text: str | None) -> int:
    """A page number from a query string (1 when absent or bad)."""
    return int(text) if text and text.isdigit() and 0 < int(text) < 1_000_000 else 1


class WebFront:
    """The pages over a hub; `fallback` tells who asks outside auth mode hub (Authorization header)."""

    def __init__(self, hub: Hub, fallback: Callable[[Request], Principal | None], accounts: bool,
                 secure: bool, base_of: Callable[[Request], str]) -> None:
        self.hub = hub
        self.sessions = Sessions(hub.db)
        self.fallback = fallback
        self.accounts = accounts
        self.secure = secure
        self.api = HubApi(hub, self.principal, base_of)

    # ----- who asks ------------------------------------------------------------------------------

    def session(self, req: Request) -> Session | None:
        """The request's live session, from its cookie."""
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(req.headers.get("cookie", ""))
        except http.cookies.CookieError:
            return None
        morsel = jar.get(COOKIE)
        return self.sessions.find(morsel.value) if morsel is not None else None

    def session_principal(self, req: Request) -> Principal | None:
        """The signed-in user of a session cookie (auth mode hub only), or None."""
        found = self.session(req) if self.accounts else None
        return self.hub.principal(found.user) if found is not None and found.user else None

    def principal(self, req: Request) -> Principal | None:
        """Who reads a page: the session's user in hub mode, else the Authorization header's."""
        return self.session_principal(req) if self.accounts else self.fallback(req)

    def viewer(self, req: Request, session: Session | None) -> Viewer:
        """The page frame's view of the caller."""
        who = self.principal(req)
        path = req.path + ("?" + urllib.parse.urlencode({k: v[-1] for k, v in req.query.items()}) if req.query else "")
        return Viewer(who.name if who else None, session.csrf if session else "", path, self.accounts)

    # ----- answers -------------------------------------------------------------------------------

    def html(self, text: str, status: int = 200, set_cookie: str = "") -> Raw:
        """An HTML page with the security headers (never cached: it can show private data)."""
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
        if set_cookie:
            headers["Set-Cookie"] = set_cookie
        return Raw(text.encode(), status, "text/html; charset=utf-8", headers)

    def redirect(self, location: str, set_cookie: str = "") -> Raw:
        """303 See Other to a local path."""
        headers = {**SECURITY_HEADERS, "Location": location, "Cache-Control": "no-store"}
        if set_cookie:
            headers["Set-Cookie"] = set_cookie
        return Raw(b"", 303, "text/plain; charset=utf-8", headers)

    def failure(self, req: Request, exc: DockyardError) -> Raw:
        """An error as an HTML page (a registry challenge keeps its WWW-Authenticate)."""
        status = status_of(exc)
        try:
            viewer = self.viewer(req, self.session(req))
        except DockyardError:  # the caller's credentials are what failed: show the page as to anyone
            viewer = Viewer(None, "", req.path, self.accounts)
        page = self.html(pages.error(viewer, status, exc.message), status)
        if isinstance(exc, RegistryError):
            page.headers.update({k: v for k, v in exc.headers.items() if v})
        return page

    def page(self, handler: Callable[[Request], Response]) -> Page:
        """A blocking handler as a route whose project errors become HTML pages."""
        @functools.wraps(handler)
        async def route(req: Request) -> Response:
            try:
                return await run_blocking(handler, req)
            except DockyardError as exc:
                return self.failure(req, exc)
        return route

    def form(self, handler: Callable[[Request, Session, dict[str, str]], Response]) -> Page:
        """A POST handler that gets the session and the form, after the CSRF (and Origin) check."""
        async def route(req: Request) -> Response:
            try:
                body = await req.body(FORM_LIMIT)
                fields = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                                     keep_blank_values=True).items()}
                return await run_blocking(self._checked, handler, req, fields)
            except DockyardError as exc:
                return self.failure(req, exc)
        functools.update_wrapper(route, handler)
        return route

    def _checked(self, handler: Callable[[Request, Session, dict[str, str]], Response], req: Request,
                 fields: dict[str, str]) -> Response:
        """Run a form handler when its token and origin are right."""
        session = self.session(req)
        origin = req.headers.get("origin")
        if origin is not None and urllib.parse.urlsplit(origin).netloc != req.headers.get("host", ""):
            raise Forbidden("cross-site form post refused")
        if session is None or not csrf_ok(session, fields.get("csrf", "")):
            raise Forbidden("missing or invalid CSRF token: reload the page and try again")
        return handler(req, session, fields)

    # ----- pages ---------------------------------------------------------------------------------

    def home(self, req: Request) -> Response:
        """The repository list, or search results with ?q=."""
        query = (req.arg("q") or "").strip()[:100]
        sort = req.arg("sort") or ("" if query else "name")
        if sort not in pages.SORTS:
            sort = "" if query else "name"
        number = _number(req.arg("page"))
        ordering = pages.SORTS[sort][1] if sort else "official"
        count, rows = self.hub.search(self.principal(req), query, (number - 1) * PAGE_SIZE, PAGE_SIZE, ordering)
        for row in rows:
            latest = self.hub.index.tags(row["id"], "last_updated", 0, 1)[1]
            row["latest_tag"] = latest[0]["name"] if latest else None
        return self.html(pages.home(self.viewer(req, self.session(req)), query, sort, number, count, rows,
                                    PAGE_SIZE))

    def repository(self, req: Request) -> Response:
        """One repository's page."""
        name = req.params["name"]
        who, row = self.api.visible(req, name)
        number = _number(req.arg("page"))
        count, tags = self.hub.index.tags(row["id"], "last_updated", (number - 1) * TAGS_PAGE_SIZE, TAGS_PAGE_SIZE)
        starred = who is not None and self.hub.index.starred(row["id"], who.name)
        return self.html(pages.repository(self.viewer(req, self.session(req)), row, self.hub.level(who, name),
                                          starred, req.headers.get("host", "localhost"), tags, count, number,
                                          TAGS_PAGE_SIZE))

    def tag(self, req: Request) -> Response:
        """One tag's page: layers, config, history of every platform."""
        name, tag = req.params["name"], req.params["tag"]
        _, row = self.api.visible(req, name)
        _, found = self.hub.index.tags(row["id"], "name", 0, 1, None, exact=tag)
        if not found:
            raise NotFound(f"no tag {tag!r} in {name}")
        images = self.api.images(req, name, tag)
        return self.html(pages.tag(self.viewer(req, self.session(req)), row, found[0], images,
                                   req.headers.get("host", "localhost")))

    def settings(self, req: Request) -> Response:
        """An owner's settings page."""
        name = req.params["name"]
        _, row = self.api.visible(req, name, LEVELS["admin"])
        _, tags = self.hub.index.tags(row["id"], "name", 0, 1000)
        return self.html(pages.settings(self.viewer(req, self.session(req)), row,
                                        self.hub.accounts.collaborators(name), tags, req.arg("done") or ""))

    def signin_page(self, req: Request) -> Response:
        """The sign-in form (an anonymous session carries its CSRF token); none without hub accounts."""
        if not self.accounts:
            raise NotFound("this registry has no hub accounts to sign in with")
        session, set_cookie = self.session(req), ""
        if session is None:
            session = self.sessions.create(None)
            set_cookie = cookie(session.sid, self.secure, ANONYMOUS_TTL)
        return self.html(pages.signin(self.viewer(req, session), safe_next(req.arg("next")), "",
                                      self.hub.settings.signup), set_cookie=set_cookie)

    def signup_page(self, req: Request) -> Response:
        """The sign-up form, when sign-up is on."""
        if not self.hub.settings.signup:
            raise NotFound("sign-up is disabled on this hub")
        session, set_cookie = self.session(req), ""
        if session is None:
            session = self.sessions.create(None)
            set_cookie = cookie(session.sid, self.secure, ANONYMOUS_TTL)
        return self.html(pages.signup(self.viewer(req, session), ""), set_cookie=set_cookie)

    # ----- forms ---------------------------------------------------------------------------------

    def _start(self, session: Session, user: str, target: str) -> Response:
        """Replace the anonymous session by a signed-in one (a new id) and go to `target`."""
        self.sessions.end(session.sid)
        fresh = self.sessions.create(user)
        return self.redirect(safe_next(target), cookie(fresh.sid, self.secure, SIGNED_IN_TTL))

    def signin(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """Check a user name and password; a signed-in session on success."""
        user = form.get("username", "").strip()
        who = self.hub.authenticate(user, form.get("password", "")) if self.accounts else None
        if who is None or who.token:
            problem = ("Sign in with your password, not an access token." if who is not None
                       else "Incorrect user name or password.")
            return self.html(pages.signin(self.viewer(req, session), safe_next(form.get("next")), problem,
                                          self.hub.settings.signup, user), 401)
        return self._start(session, who.name, form.get("next", "/"))

    def signup(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """Create an account and sign it in."""
        if not self.hub.settings.signup:
            raise Forbidden("sign-up is disabled on this hub")
        user, email = form.get("username", "").strip(), form.get("email", "").strip()
        password = form.get("password", "")
        try:
            if len(password) < 8:
                raise InvalidParameter("the password must have at least 8 characters")
            self.hub.accounts.add_user(user, password, email=email)
        except DockyardError as exc:
            return self.html(pages.signup(self.viewer(req, session), exc.message, user, email), status_of(exc))
        return self._start(session, user, "/")

    def signout(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """End the session."""
        self.sessions.end(session.sid)
        return self.redirect("/", cookie("", self.secure, 0))

    def star(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """Star or unstar."""
        name = req.params["name"]
        self.api.star(req, name, form.get("on") == "1")
        return self.redirect(url("r", name))

    def description(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """Save the short and full descriptions."""
        name = req.params["name"]
        self.api.update(req, name, {"description": form.get("description", "").strip(),
                                    "full_description": form.get("full_description", "").replace("\r\n", "\n")})
        return self.redirect(url("r", name, "-", "settings", done="description"))

    def visibility(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """Make the repository public or private."""
        name, choice = req.params["name"], form.get("visibility")
        if choice not in ("public", "private"):
            raise InvalidParameter("visibility must be public or private")
        self.api.update(req, name, {"is_private": choice == "private"})
        return self.redirect(url("r", name, "-", "settings", done="visibility"))

    def collaborators(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """Add, change or remove a collaborator."""
        name = req.params["name"]
        self.api.collaborator(req, name, {"user": form.get("user", "").strip(),
                                          "permission": form.get("permission", "read")})
        return self.redirect(url("r", name, "-", "settings", done="collaborators"))

    def delete_tag(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """Delete one tag."""
        name = req.params["name"]
        self.api.delete_tag(req, name, req.params["tag"])
        return self.redirect(url("r", name, "-", "settings", done="tag"))

    def delete(self, req: Request, session: Session, form: dict[str, str]) -> Response:
        """Delete the repository once its name was typed."""
        name = req.params["name"]
        if form.get("confirm", "").strip() != name:
            raise InvalidParameter(f"type the repository's name ({name}) to confirm its deletion")
        self.api.delete_repository(req, name)
        return self.redirect("/")


def static(name: str) -> Raw:
    """One of the files under static/ (nothing else)."""
    path = STATIC / name
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or "/" in name or name.startswith(".") or not path.is_file():
        raise NotFound("no such file")
    return Raw(path.read_bytes(), 200, kind, {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"})


def register(router: Router, web: WebFront) -> None:
    """Add the web front's routes (the longer /r/ paths before /r/{name:path})."""
    routes: list[tuple[str, str, Any]] = [
        ("GET", "/", web.page(web.home)),
        ("GET", "/signin", web.page(web.signin_page)),
        ("POST", "/signin", web.form(web.signin)),
        ("GET", "/signup", web.page(web.signup_page)),
        ("POST", "/signup", web.form(web.signup)),
        ("POST", "/signout", web.form(web.signout)),
        ("GET", "/r/{name:path}/-/tags/{tag}", web.page(web.tag)),
        ("POST", "/r/{name:path}/-/tags/{tag}/delete", web.form(web.delete_tag)),
        ("GET", "/r/{name:path}/-/settings", web.page(web.settings)),
        ("POST", "/r/{name:path}/-/description", web.form(web.description)),
        ("POST", "/r/{name:path}/-/visibility", web.form(web.visibility)),
        ("POST", "/r/{name:path}/-/collaborators", web.form(web.collaborators)),
        ("POST", "/r/{name:path}/-/delete", web.form(web.delete)),
        ("POST", "/r/{name:path}/-/star", web.form(web.star)),
        ("GET", "/r/{name:path}", web.page(web.repository)),
    ]
    for method, pattern, handler in routes:
        router.route(method, pattern)(handler)

    @router.get("/static/{file}")
    async def static_file(req: Request) -> Response:
        """The stylesheet, the script, the icon."""
        try:
            return static(req.params["file"])
        except NotFound as exc:
            return web.failure(req, exc)
