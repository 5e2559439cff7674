"""The hub over the registry: its database, accounts, index, the policy behind auth mode "hub", the events the
registry routes report (push, pull, delete) and docker's /v1/search."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from dockyard.registry import digests
from dockyard.registry.accounts import ADMIN_NAMESPACES, LEVELS, Accounts, Principal
from dockyard.registry.auth import Scope, TokenIssuer
from dockyard.registry.hubdb import Database, open_db
from dockyard.registry.index import Index, like
from dockyard.registry.storage import Storage, is_tag
from dockyard.registry.webhooks import Webhooks, push_payload
from dockyard.server.routing import Json, Raw, Request, Router, run_blocking

HUB_SERVICE = "dockyard-hub"
HUB_TOKEN_TTL = 24 * 3600
ACTIONS_BY_LEVEL = {0: (), 1: ("pull",), 2: ("pull", "push"), 3: ("pull", "push", "delete", "*")}


@dataclass
class Settings:
    """Hub options from `dockyard registry serve`."""

    signup: bool = False
    private_by_default: bool = True
    url: str = ""  # the hub's public URL, for links in webhook payloads


class Hub:
    """Everything of the hub that lives next to a registry's storage."""

    def __init__(self, storage: Storage, settings: Settings | None = None, db: Database | None = None) -> None:
        self.storage = storage
        self.settings = settings or Settings()
        self.db = db or open_db(storage.root)
        self.accounts = Accounts(self.db)
        self.index = Index(self.db, storage, self.settings.private_by_default)
        self.webhooks = Webhooks(self.db)
        with self.db.write() as conn:  # the first process to get here makes it; everyone reads that one
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('token_secret', ?)", (secrets.token_hex(32),))
        self.secret = bytes.fromhex(self.db.get_meta("token_secret") or "")
        self.issuer = TokenIssuer(self.secret, HUB_SERVICE, HUB_TOKEN_TTL)

    # ----- the Policy of auth mode "hub" ---------------------------------------------------------

    def authenticate(self, user: str, secret: str) -> Principal | None:
        """A user by password or personal access token."""
        return self.accounts.authenticate(user, secret)

    def principal(self, name: str) -> Principal | None:
        """An existing user."""
        return self.accounts.principal(name)

    def actions(self, who: Principal | None, scope: Scope) -> tuple[str, ...]:
        """Repository actions by permission level; the catalog only for admins."""
        if scope.type == "repository":
            return ACTIONS_BY_LEVEL[self.level(who, scope.name)]
        if scope.type == "registry" and scope.name == "catalog" and who is not None and who.admin:
            return ("*",)
        return ()

    def level(self, who: Principal | None, name: str) -> int:
        """What `who` may do with repository `name` (0 none .. 3 admin)."""
        return self.accounts.level(who, name, self.index.visibility(name))

    def namespace_level(self, who: Principal | None, namespace: str) -> int:
        """What `who` may do in a namespace as a whole (its audit log): admin for owners and site admins."""
        if who is None:
            return 0
        if who.admin or (who.name == namespace and namespace not in ADMIN_NAMESPACES):
            return LEVELS["admin"]
        with self.db.read() as conn:
            owner = conn.execute("SELECT 1 FROM org_members WHERE org = ? AND user = ? AND role = 'owner'",
                                 (namespace, who.name)).fetchone()
        return min(LEVELS["admin"] if owner else 0, who.ceiling)

    # ----- events from the registry routes -------------------------------------------------------

    def pushed(self, name: str, reference: str, digest: str, actor: str) -> None:
        """A manifest was stored: update the index and the audit log, queue the webhooks of a tag push."""
        self.index.sync(name, actor or None, digests.parse(digest))
        self.index.audit(actor, "push", name, reference, digest)
        repository = self.index.repository(name)
        if is_tag(reference) and repository is not None:
            self.webhooks.enqueue(name, push_payload(repository, reference, actor, self.settings.url))

    def pulled(self, name: str, reference: str, digest: str, actor: str) -> None:
        """A manifest was fetched: count and log it when it is a pull of its own (not an index's platform)."""
        if self.index.pulled(name, reference):
            self.index.audit(actor, "pull", name, reference, digest)

    def deleted(self, name: str, reference: str, actor: str) -> None:
        """A tag or manifest was deleted."""
        self.index.sync(name)
        self.index.audit(actor, "delete", name, reference)

    def delete_repository(self, name: str, actor: str) -> None:
        """Delete every tag, manifest and blob link of a repository (blobs go at the next GC), its index row,
        webhooks and collaborators: a repository made again later starts afresh."""
        storage = self.storage
        with storage.locked():
            for tag in list(storage.tags(name)):
                storage.delete_tag(name, tag)
            for digest in storage.revisions(name):
                storage.unlink_manifest(name, digest)
            for digest in storage.layer_links(name):
                storage.unlink_layer(name, digest)
            storage.delete_repository_if_empty(name)
        self.deleted(name, "", actor)
        with self.db.write() as conn:
            conn.execute("DELETE FROM webhooks WHERE repository = ?", (name,))
            conn.execute("DELETE FROM collaborators WHERE repository = ?", (name,))

    # ----- reads shared by the pages and the APIs ------------------------------------------------

    def search(self, who: Principal | None, query: str, offset: int, limit: int,
               ordering: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """Repositories `who` may see whose name or description contains `query`, official ones first."""
        where, params = self.accounts.readable_filter(who)
        if query:
            where += " AND (r.name LIKE ? ESCAPE '\\' OR r.description LIKE ? ESCAPE '\\')"
            params = [*params, like(query), like(query)]
        return self.index.repositories(where, params, ordering or "official", offset, limit)


def official(name: str) -> bool:
    """Official images are library/'s (and one-component names, which only admins can push)."""
    return name.startswith("library/") or "/" not in name


def display_name(name: str) -> str:
    """What docker search shows: library/alpine -> alpine."""
    return name.removeprefix("library/")


def v1_search(hub: Hub, who: Principal | None, query: str, limit: int) -> dict[str, Any]:
    """docker search's answer: name, description, stars, official flag (Docker Hub's /v1/search shape)."""
    limit = max(1, min(limit, 100))
    count, repos = hub.search(who, query, 0, limit)
    results = [{"name": display_name(r["name"]), "description": r["description"], "star_count": r["star_count"],
                "is_official": official(r["name"]), "is_automated": False} for r in repos]
    return {"num_results": count, "num_pages": (count + limit - 1) // limit, "page": 1, "page_size": limit,
            "query": query, "results": results}


def now_iso(when: float | None) -> str | None:
    """Docker Hub's timestamp format, or None."""
    if when is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1e6):06d}Z"


def register_pages(router: Router, hub: Hub, viewer: Any) -> None:
    """Add /v1/search; `viewer(request)` is who asks."""

    @router.get("/v1/search")
    async def search_route(req: Request) -> Json:
        """GET /v1/search?q=&n=."""
        who = await run_blocking(viewer, req)
        return Json(await run_blocking(v1_search, hub, who, req.arg("q", "") or "", req.arg_int("n", 25) or 25))
