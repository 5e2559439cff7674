"""Docker Hub's JSON shapes for the hub's rows: repositories, tags, tag images, audit entries, tokens, webhooks."""

from __future__ import annotations

from typing import Any

from dockyard.registry import manifests
from dockyard.registry.digests import Digest
from dockyard.registry.hub import now_iso
from dockyard.registry.index import read_config
from dockyard.registry.storage import Storage


def repository_summary(row: dict[str, Any]) -> dict[str, Any]:
    """One repository as Docker Hub lists it."""
    namespace, _, short = row["name"].rpartition("/")
    return {"name": short, "namespace": namespace, "repository_type": "image", "status": 1,
            "status_description": "active", "description": row["description"], "is_private": bool(row["private"]),
            "is_automated": False, "star_count": row["star_count"], "pull_count": row["pull_count"],
            "last_updated": now_iso(row["last_pushed"]), "last_modified": now_iso(row["last_pushed"]),
            "date_registered": now_iso(row["created"]), "affiliation": None, "media_types": [],
            "content_types": ["image"], "categories": []}


def tag_json(row: dict[str, Any], repo_id: int) -> dict[str, Any]:
    """One tag as Docker Hub lists it, every platform an entry of `images`."""
    images = [{"architecture": p.get("architecture", ""), "features": "", "variant": p.get("variant"),
               "digest": p.get("digest"), "os": p.get("os", ""), "os_features": "", "os_version": None,
               "size": p.get("size", 0), "status": "active", "last_pulled": now_iso(row["last_pulled"]),
               "last_pushed": now_iso(row["pushed"])} for p in row["platforms"]]
    return {"creator": None, "id": row["id"], "images": images, "last_updated": now_iso(row["pushed"]),
            "last_updater": None, "last_updater_username": row["pusher"], "name": row["name"],
            "repository": repo_id, "full_size": row["size"], "v2": True, "tag_status": "active",
            "tag_last_pulled": now_iso(row["last_pulled"]), "tag_last_pushed": now_iso(row["pushed"]),
            "media_type": row["media_type"], "content_type": "image", "digest": row["digest"]}


def audit_json(row: dict[str, Any]) -> dict[str, Any]:
    """One audit entry as Docker Hub's audit log shows it."""
    return {"account": row["namespace"], "action": f"repo.{row['action']}", "name": row["repository"],
            "actor": row["actor"] or "anonymous", "data": {"tag": row["reference"], "digest": row["digest"]},
            "timestamp": now_iso(row["time"]), "action_description": f"{row['action']} {row['reference']}"}


def token_json(record: dict[str, Any]) -> dict[str, Any]:
    """A personal access token as Docker Hub describes it (the secret only when just created)."""
    out = {"uuid": record["uuid"], "client_id": "dockyard", "creator_ip": "", "creator_ua": "",
           "created_at": now_iso(record["created"]), "last_used": now_iso(record["last_used"]),
           "generated_by": "manual", "is_active": bool(record["active"]), "token_label": record["label"],
           "scopes": [record["scope"]]}
    if "token" in record:
        out["token"] = record["token"]
    return out


def image_json(storage: Storage, digest: Digest, manifest: manifests.Manifest,
               platform: dict[str, Any]) -> dict[str, Any]:
    """One platform of a tag as Docker Hub's tag images: layers with their instructions, plus the config."""
    config = read_config(storage, manifest)
    steps = [h for h in config.get("history") or [] if isinstance(h, dict) and not h.get("empty_layer")]
    layers = []
    for i, layer in enumerate(l for l in manifest.doc.get("layers", []) if isinstance(l, dict)):
        instruction = str(steps[i].get("created_by", "")) if i < len(steps) else ""
        layers.append({"digest": layer.get("digest"), "size": int(layer.get("size", 0)),
                       "media_type": layer.get("mediaType"),
                       "instruction": instruction.removeprefix("/bin/sh -c #(nop) ").strip()})
    settings = config.get("config") or {}
    return {"architecture": platform.get("architecture") or config.get("architecture", ""),
            "os": platform.get("os") or config.get("os", ""),
            "variant": platform.get("variant") or config.get("variant"),
            "digest": str(digest), "size": sum(l["size"] for l in layers), "layers": layers,
            "config": {key: settings.get(src) for key, src in (
                ("entrypoint", "Entrypoint"), ("cmd", "Cmd"), ("env", "Env"), ("exposed_ports", "ExposedPorts"),
                ("labels", "Labels"), ("working_dir", "WorkingDir"), ("user", "User"))},
            "history": [{"created": h.get("created"), "created_by": h.get("created_by", ""),
                         "empty_layer": bool(h.get("empty_layer"))}
                        for h in config.get("history") or [] if isinstance(h, dict)]}


def webhook_json(row: dict[str, Any]) -> dict[str, Any]:
    """A webhook's settings."""
    return {"id": row["id"], "name": row["name"], "hook_url": row["url"], "created": now_iso(row["created"])}


def delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    """One delivery: its state (pending, delivered, failed), attempts, last answer and payload."""
    return {"id": row["id"], "created": now_iso(row["created"]), "state": row["state"], "attempts": row["attempts"],
            "last_status": row["last_status"], "last_error": row["last_error"], "finished": now_iso(row["finished"]),
            "next_attempt": now_iso(row["next_at"]) if row["state"] == "pending" else None, "payload": row["payload"]}
