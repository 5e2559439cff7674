"""A small hub: an HTML page listing repositories, tags and layers, and docker's /v1/search."""

from __future__ import annotations

import html

from dockyard.registry import manifests
from dockyard.registry.storage import Storage
from dockyard.server.routing import Json, Raw, Request, Router, run_blocking


def search(storage: Storage, query: str, limit: int) -> dict:
    """docker search's answer: repositories whose name contains `query`."""
    names = [n for n in storage.repositories() if query.lower() in n.lower()][:limit]
    results = [{"name": n, "description": "", "star_count": 0, "is_official": False, "is_automated": False}
               for n in names]
    return {"num_results": len(results), "query": query, "results": results}


def _layers(storage: Storage, name: str, tag: str) -> str:
    """HTML list items describing a tag's manifest and layers."""
    digest = storage.resolve(name, tag)
    manifest = manifests.parse(storage.read_blob(digest), None)
    items = [f"<li>{html.escape(manifest.media_type)} <code>{digest}</code></li>"]
    for layer in manifest.doc.get("layers", []):
        items.append(f"<li>layer <code>{html.escape(str(layer.get('digest')))}</code> "
                     f"{int(layer.get('size', 0))} bytes</li>")
    for child in manifest.doc.get("manifests", []):
        platform = child.get("platform") or {}
        items.append(f"<li>{html.escape(platform.get('os', '?'))}/{html.escape(platform.get('architecture', '?'))}"
                     f" <code>{html.escape(str(child.get('digest')))}</code></li>")
    return "".join(items)


def page(storage: Storage) -> str:
    """The whole hub page."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Dockyard Registry</title></head>",
             "<body><h1>Dockyard Registry</h1>"]
    for name in storage.repositories():
        parts.append(f"<h2>{html.escape(name)}</h2><ul>")
        for tag in sorted(storage.tags(name)):
            parts.append(f"<li><b>{html.escape(tag)}</b><ul>{_layers(storage, name, tag)}</ul></li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "".join(parts)


def register(router: Router, storage: Storage) -> None:
    """Add / and /v1/search."""

    @router.get("/")
    async def index(req: Request) -> Raw:
        """The HTML hub page."""
        return Raw((await run_blocking(page, storage)).encode(), content_type="text/html; charset=utf-8")

    @router.get("/v1/search")
    async def search_route(req: Request) -> Json:
        """GET /v1/search?q=&n=."""
        return Json(await run_blocking(search, storage, req.arg("q", "") or "", req.arg_int("n", 25) or 25))
