"""Webhooks on push: a JSON POST (Docker Hub's payload) to each URL a repository's owner configured, retried
with exponential back-off, every delivery and its attempts kept in the hub database for the owner to read.

Deliveries are rows first (state pending, next_at), so a restart carries on with what was not delivered; one
worker thread sends what is due and sleeps until the next one is.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from dockyard.errors import InvalidParameter, NotFound
from dockyard.registry.hubdb import Database, rows

log = logging.getLogger(__name__)

ATTEMPTS = 5
FIRST_DELAY = 1.0  # seconds before the second attempt; doubles each time
TIMEOUT = 10.0
IDLE_WAIT = 30.0


class Webhooks:
    """Webhook settings, the delivery queue and its worker."""

    def __init__(self, db: Database, first_delay: float = FIRST_DELAY, attempts: int = ATTEMPTS) -> None:
        self.db = db
        self.first_delay = first_delay
        self.attempts = attempts
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ----- settings ------------------------------------------------------------------------------

    def add(self, repository: str, name: str, url: str) -> dict[str, Any]:
        """Add a webhook to a repository; http(s) URLs only."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidParameter(f"webhook URL must be http:// or https://, not {url!r}")
        with self.db.write() as conn:
            cursor = conn.execute("INSERT INTO webhooks (repository, name, url, created) VALUES (?, ?, ?, ?)",
                                  (repository, name or parts.netloc, url, time.time()))
            hook_id = cursor.lastrowid
        return self.get(repository, int(hook_id or 0))

    def get(self, repository: str, hook_id: int) -> dict[str, Any]:
        """One webhook of a repository."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM webhooks WHERE id = ? AND repository = ?",
                               (hook_id, repository)).fetchone()
        if row is None:
            raise NotFound(f"no webhook {hook_id} on {repository}")
        return dict(row)

    def hooks(self, repository: str) -> list[dict[str, Any]]:
        """A repository's webhooks."""
        with self.db.read() as conn:
            return rows(conn.execute("SELECT * FROM webhooks WHERE repository = ? ORDER BY id", (repository,)))

    def remove(self, repository: str, hook_id: int) -> None:
        """Delete a webhook with its delivery history."""
        with self.db.write() as conn:
            if conn.execute("DELETE FROM webhooks WHERE id = ? AND repository = ?",
                            (hook_id, repository)).rowcount == 0:
                raise NotFound(f"no webhook {hook_id} on {repository}")

    def deliveries(self, repository: str, hook_id: int, limit: int = 100) -> list[dict[str, Any]]:
        """A webhook's deliveries, newest first, payload decoded."""
        self.get(repository, hook_id)
        with self.db.read() as conn:
            found = rows(conn.execute("SELECT * FROM deliveries WHERE webhook = ? ORDER BY id DESC LIMIT ?",
                                      (hook_id, limit)))
        for row in found:
            row["payload"] = json.loads(row["payload"])
        return found

    # ----- delivery ------------------------------------------------------------------------------

    def enqueue(self, repository: str, payload: dict[str, Any]) -> int:
        """Queue `payload` for every webhook of `repository`; how many deliveries were queued."""
        now = time.time()
        with self.db.write() as conn:
            hooks = [r["id"] for r in conn.execute("SELECT id FROM webhooks WHERE repository = ?", (repository,))]
            conn.executemany("INSERT INTO deliveries (webhook, created, payload, state, next_at) "
                             "VALUES (?, ?, ?, 'pending', ?)", [(h, now, json.dumps(payload), now) for h in hooks])
        if hooks:
            self._wake.set()
        return len(hooks)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._run, name="hub-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the worker (pending deliveries stay queued)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(TIMEOUT + 5)

    def _run(self) -> None:
        """Send what is due, then sleep until the next delivery is due or a new one is queued."""
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self.deliver_due()
            except Exception:  # noqa: BLE001 - the worker must outlive one bad round; the error is logged
                log.exception("webhook delivery round failed")
                wait = self.first_delay
            self._wake.wait(wait)

    def deliver_due(self) -> float:
        """Attempt every due delivery once; seconds until the next one is due."""
        now = time.time()
        with self.db.read() as conn:
            due = rows(conn.execute("SELECT d.id, d.payload, d.attempts, w.url FROM deliveries d "
                                    "JOIN webhooks w ON w.id = d.webhook WHERE d.state = 'pending' "
                                    "AND d.next_at <= ? ORDER BY d.next_at LIMIT 50", (now,)))
        for delivery in due:
            if self._stop.is_set():
                break
            self._attempt(delivery)
        with self.db.read() as conn:
            upcoming = conn.execute("SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'").fetchone()[0]
        return IDLE_WAIT if upcoming is None else max(0.0, min(IDLE_WAIT, upcoming - time.time()))

    def _attempt(self, delivery: dict[str, Any]) -> None:
        """POST one delivery and record the outcome: delivered, retry later, or failed for good."""
        status, error = _post(delivery["url"], delivery["payload"].encode())
        attempts = delivery["attempts"] + 1
        now = time.time()
        if status is not None and 200 <= status < 300:
            state, next_at = "delivered", now
        elif attempts >= self.attempts:
            state, next_at = "failed", now
        else:
            state, next_at = "pending", now + self.first_delay * 2 ** (attempts - 1)
        with self.db.write() as conn:
            conn.execute("UPDATE deliveries SET state = ?, attempts = ?, next_at = ?, last_status = ?, "
                         "last_error = ?, finished = ? WHERE id = ?",
                         (state, attempts, next_at, status, error, None if state == "pending" else now,
                          delivery["id"]))


def _post(url: str, body: bytes) -> tuple[int | None, str]:
    """(HTTP status or None, error text) of one JSON POST."""
    request = urllib.request.Request(url, body, {"Content-Type": "application/json",
                                                 "User-Agent": "Dockyard-Hub-Webhook"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) checked at add
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))


def push_payload(repository: dict[str, Any], tag: str, pusher: str, base_url: str) -> dict[str, Any]:
    """Docker Hub's webhook payload for a push (repo_url only when the hub's public URL is configured)."""
    namespace, _, name = repository["name"].rpartition("/")
    return {"callback_url": "",
            "push_data": {"pushed_at": int(time.time()), "pusher": pusher, "tag": tag},
            "repository": {"comment_count": 0, "date_created": int(repository["created"]),
                           "description": repository["description"], "full_description": repository["full_description"],
                           "is_official": namespace in ("library", ""), "is_private": bool(repository["private"]),
                           "is_trusted": False, "name": name, "namespace": namespace, "owner": namespace,
                           "repo_name": repository["name"],
                           "repo_url": f"{base_url.rstrip('/')}/r/{repository['name']}" if base_url else "",
                           "star_count": repository["star_count"], "status": "Active"}}
