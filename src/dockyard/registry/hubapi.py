"""The hub's JSON API in Docker Hub's shapes: repositories, tags, search, login, stars, tokens, audit log.

Paths and field names follow Docker Hub's API (/v2/repositories/{namespace}/{name}/, .../tags/,
/v2/search/repositories/, /v2/users/login, /v2/access-tokens, /v2/auditlogs/{namespace}); pagination is
`page`/`page_size` with absolute `next`/`previous` URLs. Stars, collaborators, sign-up and the all-repositories
listing are Dockyard's own, in the same style.
"""

from __future__ import annotations

import time
import urllib.parse
from typing import Any, Callable

from dockyard.errors import Forbidden, InvalidParameter, NotFound, Unauthorized
from dockyard.registry import manifests
from dockyard.registry.accounts import LEVELS, Principal
from dockyard.registry.errors import ManifestUnknown, NameUnknown
from dockyard.registry.hub import Hub, display_name, now_iso, official
from dockyard.registry.hubviews import (audit_json, delivery_json, image_json, repository_summary, tag_json,
                                        token_json, webhook_json)
from dockyard.registry.storage import validate_name
from dockyard.server.routing import Empty, Json, Request, Router, run_blocking

MAX_PAGE_SIZE = 100


def page_args(req: Request) -> tuple[int, int]:
    """(page, page_size) with Docker Hub's defaults (1, 10) and limit (100)."""
    page, size = req.arg_int("page", 1) or 1, req.arg_int("page_size", 10) or 10
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidParameter(f"page must be 1 or more and page_size between 1 and {MAX_PAGE_SIZE}")
    return page, size


def paged(req: Request, base: str, count: int, results: list[Any], page: int, size: int) -> dict[str, Any]:
    """{"count", "next", "previous", "results"} as Docker Hub pages."""
    def link(number: int) -> str:
        query = {k: v[-1] for k, v in req.query.items()}
        query.update(page=str(number), page_size=str(size))
        return f"{base}{req.path}?{urllib.parse.urlencode(query)}"
    return {"count": count, "next": link(page + 1) if page * size < count else None,
            "previous": link(page - 1) if page > 1 else None, "results": results}


class HubApi:
    """The handlers, over a Hub and a way to tell who asks."""

    def __init__(self, hub: Hub, viewer: Callable[[Request], Principal | None], base_of: Callable[[Request], str]):
        self.hub = hub
        self.viewer = viewer
        self.base_of = base_of

    def user(self, req: Request) -> Principal:
        """The signed-in caller; 401 for anonymous."""
        who = self.viewer(req)
        if who is None:
            raise Unauthorized("authentication required")
        return who

    def token_manager(self, req: Request) -> Principal:
        """The signed-in caller, who must have come with their password: access tokens never manage tokens."""
        who = self.user(req)
        if who.token:
            raise Forbidden("access tokens cannot manage access tokens: sign in with your password")
        return who

    def visible(self, req: Request, name: str, need: int = LEVELS["read"]) -> tuple[Principal | None, dict[str, Any]]:
        """(caller, repository row) when the caller has `need` on it; 404 when hidden, 403 when too little."""
        validate_name(name)
        who = self.viewer(req)
        row = self.hub.index.repository(name)
        level = self.hub.level(who, name) if row is not None else 0
        if row is None or level < LEVELS["read"]:
            raise NotFound("object not found")
        if level < need:
            raise Forbidden("you do not have permission to do that")
        return who, row

    def repository(self, req: Request, name: str) -> dict[str, Any]:
        """GET /v2/repositories/{namespace}/{name}/."""
        who, row = self.visible(req, name)
        level = self.hub.level(who, name)
        _, tags = self.hub.index.tags(row["id"], None, 0, MAX_PAGE_SIZE)
        collaborators = len(self.hub.accounts.collaborators(name))
        media = sorted({t["media_type"] for t in tags})
        return {**repository_summary(row), "user": row["namespace"], "hub_user": row["namespace"],
                "collaborator_count": collaborators, "full_description": row["full_description"],
                "has_starred": who is not None and self.hub.index.starred(row["id"], who.name),
                "permissions": {"read": level >= 1, "write": level >= 2, "admin": level >= 3},
                "media_types": media, "storage_size": sum(t["size"] for t in tags),
                "last_pusher": row["last_pusher"]}

    def listing(self, req: Request, namespace: str | None) -> dict[str, Any]:
        """GET /v2/repositories/{namespace}/ (or every visible repository without one)."""
        page, size = page_args(req)
        where, params = self.hub.accounts.readable_filter(self.viewer(req))
        if namespace is not None:
            where, params = where + " AND r.namespace = ?", [*params, namespace]
        count, found = self.hub.index.repositories(where, params, req.arg("ordering"), (page - 1) * size, size)
        return paged(req, self.base_of(req), count, [repository_summary(r) for r in found], page, size)

    def search(self, req: Request) -> dict[str, Any]:
        """GET /v2/search/repositories/?query=."""
        page, size = page_args(req)
        query = req.arg("query") or req.arg("q") or ""
        count, found = self.hub.search(self.viewer(req), query, (page - 1) * size, size, req.arg("ordering"))
        results = [{"repo_name": display_name(r["name"]), "short_description": r["description"],
                    "star_count": r["star_count"], "pull_count": r["pull_count"],
                    "repo_owner": r["namespace"], "is_automated": False, "is_official": official(r["name"]),
                    "is_private": bool(r["private"]), "last_updated": now_iso(r["last_pushed"])} for r in found]
        return paged(req, self.base_of(req), count, results, page, size)

    def tags(self, req: Request, name: str) -> dict[str, Any]:
        """GET .../tags/?page=&page_size=&ordering=&name=."""
        _, row = self.visible(req, name)
        page, size = page_args(req)
        count, found = self.hub.index.tags(row["id"], req.arg("ordering"), (page - 1) * size, size, req.arg("name"))
        return paged(req, self.base_of(req), count, [tag_json(t, row["id"]) for t in found], page, size)

    def tag(self, req: Request, name: str, tag: str) -> dict[str, Any]:
        """GET .../tags/{tag}/."""
        _, row = self.visible(req, name)
        _, found = self.hub.index.tags(row["id"], "name", 0, 1, None, exact=tag)
        if not found:
            raise NotFound("object not found")
        return tag_json(found[0], row["id"])

    def images(self, req: Request, name: str, tag: str) -> list[dict[str, Any]]:
        """GET .../tags/{tag}/images/: every platform's layers (size, instruction) and image config, read from
        storage (one tag, so a few small blobs)."""
        self.visible(req, name)
        storage = self.hub.storage
        try:
            digest = storage.resolve(name, tag)
        except (NameUnknown, ManifestUnknown):
            raise NotFound("object not found") from None
        top = manifests.parse(storage.read_blob(digest), None)
        entries = [(digest, top, {})] if not top.children else [
            (d, manifests.parse(storage.read_blob(d), None), e.get("platform") or {})
            for d, e in zip(top.children, top.doc.get("manifests", []))
            if (e.get("platform") or {}).get("os") != "unknown" and storage.blob_exists(d)]
        return [image_json(storage, d, m, p) for d, m, p in entries]

    def update(self, req: Request, name: str, body: Any) -> dict[str, Any]:
        """PATCH .../: description, full_description, is_private (admin on the repository)."""
        who, _ = self.visible(req, name, LEVELS["admin"])
        if not isinstance(body, dict):
            raise InvalidParameter("expected a JSON object")
        fields: dict[str, Any] = {}
        for key in ("description", "full_description"):
            if key in body:
                if not isinstance(body[key], str) or len(body[key]) > (100 if key == "description" else 25000):
                    raise InvalidParameter(f"{key} must be a string of at most "
                                           f"{100 if key == 'description' else 25000} characters")
                fields[key] = body[key]
        if "is_private" in body:
            if not isinstance(body["is_private"], bool):
                raise InvalidParameter("is_private must be true or false")
            fields["private"] = int(body["is_private"])
        self.hub.index.update(name, **fields)
        self.hub.index.audit(who.name if who else "", "update", name, ",".join(sorted(fields)))
        return self.repository(req, name)

    def delete_repository(self, req: Request, name: str) -> None:
        """DELETE .../: every manifest and tag (blobs go at the next GC)."""
        who, _ = self.visible(req, name, LEVELS["admin"])
        self.hub.delete_repository(name, who.name if who else "")

    def delete_tag(self, req: Request, name: str, tag: str) -> None:
        """DELETE .../tags/{tag}/ (admin on the repository)."""
        who, _ = self.visible(req, name, LEVELS["admin"])
        self.hub.storage.delete_tag(name, tag)
        self.hub.deleted(name, tag, who.name if who else "")

    def star(self, req: Request, name: str, on: bool) -> None:
        """POST/DELETE .../stars/."""
        who = self.user(req)
        self.visible(req, name)
        self.hub.index.star(name, who.name, on)

    def collaborator(self, req: Request, name: str, body: Any = None) -> dict[str, Any]:
        """GET (list) or POST {"user", "permission"} (set; "none" removes) .../collaborators/ (admin)."""
        self.visible(req, name, LEVELS["admin"])
        if body is not None:
            if not isinstance(body, dict) or not isinstance(body.get("user"), str):
                raise InvalidParameter('expected {"user": ..., "permission": "read|write|admin|none"}')
            self.hub.accounts.set_collaborator(name, body["user"], str(body.get("permission", "read")))
        found = self.hub.accounts.collaborators(name)
        return {"count": len(found), "next": None, "previous": None, "results": found}

    def webhooks(self, req: Request, name: str, body: Any = None) -> dict[str, Any]:
        """GET (list) or POST {"name", "hook_url"} (add) .../webhooks/ (admin on the repository)."""
        self.visible(req, name, LEVELS["admin"])
        hooks = self.hub.webhooks
        if body is None:
            found = hooks.hooks(name)
            return {"count": len(found), "next": None, "previous": None, "results": [webhook_json(h) for h in found]}
        if not isinstance(body, dict) or not isinstance(body.get("hook_url"), str):
            raise InvalidParameter('expected {"name": ..., "hook_url": "https://..."}')
        return webhook_json(hooks.add(name, str(body.get("name") or ""), body["hook_url"]))

    def webhook(self, req: Request, name: str, hook_id: str, delete: bool = False) -> dict[str, Any]:
        """GET .../webhooks/{id}/ with its delivery history, or DELETE it (admin on the repository)."""
        self.visible(req, name, LEVELS["admin"])
        if not hook_id.isdigit():
            raise NotFound("object not found")
        if delete:
            self.hub.webhooks.remove(name, int(hook_id))
            return {}
        hook = webhook_json(self.hub.webhooks.get(name, int(hook_id)))
        hook["deliveries"] = [delivery_json(d) for d in self.hub.webhooks.deliveries(name, int(hook_id))]
        return hook

    def audit(self, req: Request, namespace: str) -> dict[str, Any]:
        """GET /v2/auditlogs/{namespace}/?repository= (namespace owners and admins)."""
        who = self.user(req)
        if self.hub.namespace_level(who, namespace) < LEVELS["admin"]:
            raise Forbidden("only the namespace's owners can read its audit log")
        page, size = page_args(req)
        repository = req.arg("repository")
        count, found = self.hub.index.audit_log(namespace, repository, (page - 1) * size, size)
        out = paged(req, self.base_of(req), count, [audit_json(r) for r in found], page, size)
        out["logs"] = out["results"]
        return out

    def login(self, body: Any) -> dict[str, Any]:
        """POST /v2/users/login {"username", "password"}: a hub token (a personal access token works too)."""
        if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
                or not isinstance(body.get("password"), str):
            raise InvalidParameter('expected {"username": ..., "password": ...}')
        who = self.hub.authenticate(body["username"], body["password"])
        if who is None:
            raise Unauthorized("Incorrect authentication credentials")
        return {"token": self.hub.issuer.issue(who.name, [], extra=who.claims())["token"]}

    def signup(self, body: Any) -> dict[str, Any]:
        """POST /v2/users/signup {"username", "password", "email"} when sign-up is enabled."""
        if not self.hub.settings.signup:
            raise Forbidden("sign-up is disabled on this hub")
        if not isinstance(body, dict) or not isinstance(body.get("username"), str) \
                or not isinstance(body.get("password"), str):
            raise InvalidParameter('expected {"username": ..., "password": ..., "email": ...}')
        self.hub.accounts.add_user(body["username"], body["password"], email=str(body.get("email") or ""))
        return {"username": body["username"], "date_joined": now_iso(time.time())}


def _name(req: Request) -> str:
    """The repository name of a /v2/repositories/{namespace}/{name}/ path."""
    return f"{req.params['namespace']}/{req.params['name']}"


def register(router: Router, api: HubApi) -> None:
    """Add the hub API's routes (longer paths first: {name:path} would swallow /tags/)."""
    block = run_blocking

    @router.post("/v2/users/login")
    async def login(req: Request) -> Json:
        """Username and password (or access token) in, a hub token out."""
        return Json(await block(api.login, await req.json()))

    @router.post("/v2/users/signup")
    async def signup(req: Request) -> Json:
        """Create an account when sign-up is enabled."""
        return Json(await block(api.signup, await req.json()), 201)

    @router.get("/v2/search/repositories/")
    async def search(req: Request) -> Json:
        """Search repositories by name and description."""
        return Json(await block(api.search, req))

    @router.get("/v2/repositories/")
    async def everything(req: Request) -> Json:
        """Every repository the caller may see (Dockyard's own, for the web front)."""
        return Json(await block(api.listing, req, None))

    @router.get("/v2/repositories/{namespace}/")
    async def namespace(req: Request) -> Json:
        """A namespace's repositories."""
        return Json(await block(api.listing, req, req.params["namespace"]))

    @router.get("/v2/repositories/{namespace}/{name:path}/tags/{tag}/images/")
    async def tag_images(req: Request) -> Json:
        """A tag's platforms with layers, instructions and image config."""
        return Json(await block(api.images, req, _name(req), req.params["tag"]))

    @router.get("/v2/repositories/{namespace}/{name:path}/tags/{tag}/")
    async def tag(req: Request) -> Json:
        """One tag."""
        return Json(await block(api.tag, req, _name(req), req.params["tag"]))

    @router.delete("/v2/repositories/{namespace}/{name:path}/tags/{tag}/")
    async def tag_delete(req: Request) -> Empty:
        """Delete one tag."""
        await block(api.delete_tag, req, _name(req), req.params["tag"])
        return Empty(204)

    @router.get("/v2/repositories/{namespace}/{name:path}/webhooks/{hook}/")
    async def webhook(req: Request) -> Json:
        """One webhook with its delivery history."""
        return Json(await block(api.webhook, req, _name(req), req.params["hook"]))

    @router.delete("/v2/repositories/{namespace}/{name:path}/webhooks/{hook}/")
    async def webhook_delete(req: Request) -> Empty:
        """Remove a webhook."""
        await block(api.webhook, req, _name(req), req.params["hook"], True)
        return Empty(204)

    @router.get("/v2/repositories/{namespace}/{name:path}/webhooks/")
    async def webhooks(req: Request) -> Json:
        """A repository's webhooks."""
        return Json(await block(api.webhooks, req, _name(req)))

    @router.post("/v2/repositories/{namespace}/{name:path}/webhooks/")
    async def webhook_add(req: Request) -> Json:
        """Add a webhook called on every tag push."""
        return Json(await block(api.webhooks, req, _name(req), await req.json()), 201)

    @router.get("/v2/repositories/{namespace}/{name:path}/tags/")
    async def tags(req: Request) -> Json:
        """A repository's tags."""
        return Json(await block(api.tags, req, _name(req)))

    @router.post("/v2/repositories/{namespace}/{name:path}/stars/")
    async def star(req: Request) -> Empty:
        """Star a repository."""
        await block(api.star, req, _name(req), True)
        return Empty(204)

    @router.delete("/v2/repositories/{namespace}/{name:path}/stars/")
    async def unstar(req: Request) -> Empty:
        """Unstar a repository."""
        await block(api.star, req, _name(req), False)
        return Empty(204)

    @router.get("/v2/repositories/{namespace}/{name:path}/collaborators/")
    async def collaborators(req: Request) -> Json:
        """A repository's collaborators."""
        return Json(await block(api.collaborator, req, _name(req)))

    @router.post("/v2/repositories/{namespace}/{name:path}/collaborators/")
    async def collaborator(req: Request) -> Json:
        """Add, change or remove a collaborator; the list as it is now."""
        return Json(await block(api.collaborator, req, _name(req), await req.json()))

    @router.get("/v2/repositories/{namespace}/{name:path}/")
    async def repository(req: Request) -> Json:
        """One repository."""
        return Json(await block(api.repository, req, _name(req)))

    @router.route("PATCH", "/v2/repositories/{namespace}/{name:path}/")
    async def update(req: Request) -> Json:
        """Change description, full description or visibility."""
        return Json(await block(api.update, req, _name(req), await req.json()))

    @router.delete("/v2/repositories/{namespace}/{name:path}/")
    async def delete(req: Request) -> Empty:
        """Delete a repository."""
        await block(api.delete_repository, req, _name(req))
        return Empty(202)

    @router.get("/v2/auditlogs/{namespace}/")
    async def audit(req: Request) -> Json:
        """A namespace's audit log."""
        return Json(await block(api.audit, req, req.params["namespace"]))

    @router.post("/v2/access-tokens")
    async def token_create(req: Request) -> Json:
        """Create a personal access token (its secret is in this answer only)."""
        body = await req.json()
        if not isinstance(body, dict):
            raise InvalidParameter('expected {"token_label": ..., "scopes": [...]}')
        scopes = body.get("scopes") or ["repo:admin"]
        who = await block(api.token_manager, req)
        record = await block(api.hub.accounts.create_token, who.name, str(body.get("token_label") or ""),
                             str(scopes[0]))
        return Json(token_json(record), 201)

    @router.get("/v2/access-tokens")
    async def token_list(req: Request) -> Json:
        """The caller's tokens."""
        who = await block(api.token_manager, req)
        page, size = page_args(req)
        found = await block(api.hub.accounts.tokens, who.name)
        chosen = found[(page - 1) * size:page * size]
        return Json({**paged(req, api.base_of(req), len(found), [token_json(t) for t in chosen], page, size),
                     "active_count": sum(1 for t in found if t["active"])})

    @router.delete("/v2/access-tokens/{uuid}")
    async def token_revoke(req: Request) -> Empty:
        """Revoke one of the caller's tokens."""
        who = await block(api.token_manager, req)
        await block(api.hub.accounts.revoke_token, who.name, req.params["uuid"])
        return Empty(204)

