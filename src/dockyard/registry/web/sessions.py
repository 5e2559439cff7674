"""Server-side web sessions in the hub database: random ids kept only as SHA-256, a CSRF token each, expiry.

A visitor gets an anonymous session the first time a page with a form is shown (so the sign-in form has a CSRF
token too); signing in replaces it with a new id (no session fixation); signing out deletes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from dockyard.registry.hubdb import Database

COOKIE = "dyhub_session"
SIGNED_IN_TTL = 12 * 3600
ANONYMOUS_TTL = 2 * 3600

SCHEMA = """
CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash TEXT PRIMARY KEY, user TEXT, csrf TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS web_sessions_expires ON web_sessions (expires);
"""


@dataclass(frozen=True)
class Session:
    """One browser's session: its cookie value (only in the answer that sets it), user, CSRF token."""

    sid: str
    user: str | None
    csrf: str


def _hash(sid: str) -> str:
    """What the database keeps of a session id."""
    return hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    """Create, find, end sessions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with self.db.write() as conn:
            for statement in SCHEMA.strip().split(";\n"):
                conn.execute(statement)

    def create(self, user: str | None) -> Session:
        """A new session (and the end of every expired one)."""
        sid, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time()
        ttl = SIGNED_IN_TTL if user else ANONYMOUS_TTL
        with self.db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE expires < ?", (now,))
            conn.execute("INSERT INTO web_sessions (id_hash, user, csrf, created, expires) VALUES (?, ?, ?, ?, ?)",
                         (_hash(sid), user, csrf, now, now + ttl))
        return Session(sid, user, csrf)

    def find(self, sid: str) -> Session | None:
        """The live session with cookie value `sid`, or None."""
        if not sid:
            return None
        with self.db.read() as conn:
            row = conn.execute("SELECT user, csrf FROM web_sessions WHERE id_hash = ? AND expires >= ?",
                               (_hash(sid), time.time())).fetchone()
        return None if row is None else Session(sid, row["user"], row["csrf"])

    def end(self, sid: str) -> None:
        """Delete a session."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE id_hash = ?", (_hash(sid),))


def csrf_ok(session: Session | None, token: str) -> bool:
    """Whether a form's token is its session's."""
    return session is not None and bool(token) and hmac.compare_digest(session.csrf, token)


def cookie(sid: str, secure: bool, max_age: int) -> str:
    """The Set-Cookie value of a session (max_age 0 removes it)."""
    parts = [f"{COOKIE}={sid}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
