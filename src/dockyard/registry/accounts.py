"""Hub accounts: users (scrypt password hashes), organisations, teams, collaborators, personal access tokens,
and what each of them may do with a repository."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.registry.hubdb import Database, rows

# scrypt with N=2**15, r=8, p=1: OWASP's minimum for scrypt; ~50 ms and 32 MiB a check
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
TOKEN_PREFIX = "dyh_pat_"
NAME = re.compile(r"[a-z0-9]{2,30}\Z")
# first path components the hub's own routes use, and the admins' namespace
RESERVED = frozenset({"library", "repositories", "search", "users", "orgs", "auditlogs", "access-tokens",
                      "admin", "root", "v1", "v2", "auth", "static", "login", "logout", "signup"})
LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}
# personal access token scopes as Docker Hub names them, and the most each allows
TOKEN_SCOPES = {"repo:admin": 3, "repo:write": 2, "repo:read": 1, "repo:public_read": 1}
ADMIN_NAMESPACES = ("library", "")


def hash_password(password: str) -> str:
    """"scrypt$N$r$p$salt$hash" for `password` (never stored plain)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 << 20)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    """True when `password` matches a hash_password() value."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    n, r, p = (int(x) for x in parts[1:4])
    salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 << 20, dklen=len(expected))
    return hmac.compare_digest(digest, expected)


@functools.cache
def _unknown_user_hash() -> str:
    """A hash to check a password of an unknown user against (made once, on first use)."""
    return hash_password(secrets.token_hex(16))


def _token_hash(secret: str) -> str:
    """Tokens are 32 random bytes: a plain SHA-256 is enough to store them (no guessing to slow down)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def namespace_of(repository: str) -> str:
    """The namespace (first path component) of a repository; "" for a one-component name."""
    first, sep, _ = repository.partition("/")
    return first if sep else ""


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a user, whether a site admin, and when they came with a personal access token,
    the most it allows (tokens never manage tokens)."""

    name: str
    admin: bool = False
    ceiling: int = LEVELS["admin"]
    public_only: bool = False
    token: bool = False

    def claims(self) -> dict[str, Any]:
        """What a hub login token must carry so it grants no more than this principal."""
        return {"ceiling": self.ceiling, "public_only": self.public_only, "token": self.token}

    def capped(self, claims: dict[str, Any]) -> Principal:
        """This user as far as a hub login token's claims allow."""
        ceiling = min(self.ceiling, int(claims.get("ceiling", 0)))
        return Principal(self.name, self.admin and ceiling >= LEVELS["admin"] and not claims.get("public_only"),
                         ceiling, bool(claims.get("public_only")), bool(claims.get("token", True)))


class Accounts:
    """Users, organisations, teams, collaborators and tokens in the hub database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ----- users ---------------------------------------------------------------------------------

    def _check_new_name(self, conn: Any, name: str) -> None:
        """A user or organisation name must be lowercase [a-z0-9]{2,30}, not reserved and not taken."""
        if not NAME.match(name) or name in RESERVED:
            raise InvalidParameter(f"invalid or reserved name {name!r}: 2-30 lowercase letters and digits")
        taken = conn.execute("SELECT 1 FROM users WHERE name = ? UNION SELECT 1 FROM orgs WHERE name = ?",
                             (name, name)).fetchone()
        if taken:
            raise Conflict(f"the name {name!r} is already taken")

    def add_user(self, name: str, password: str, admin: bool = False, email: str = "") -> None:
        """Create a user."""
        if len(password) < 8:
            raise InvalidParameter("a password needs at least 8 characters")
        hashed = hash_password(password)
        with self.db.write() as conn:
            self._check_new_name(conn, name)
            conn.execute("INSERT INTO users (name, email, password, admin, created) VALUES (?, ?, ?, ?, ?)",
                         (name, email, hashed, int(admin), time.time()))

    def remove_user(self, name: str) -> None:
        """Delete a user with their tokens, memberships and stars (their repositories stay)."""
        with self.db.write() as conn:
            if conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no such user: {name}")
            conn.execute("DELETE FROM stars WHERE user = ?", (name,))

    def set_password(self, name: str, password: str) -> None:
        """Change a user's password."""
        if len(password) < 8:
            raise InvalidParameter("a password needs at least 8 characters")
        hashed = hash_password(password)
        with self.db.write() as conn:
            if conn.execute("UPDATE users SET password = ? WHERE name = ?", (hashed, name)).rowcount == 0:
                raise NotFound(f"no such user: {name}")

    def users(self) -> list[dict[str, Any]]:
        """Every user (name, email, admin, created), by name."""
        with self.db.read() as conn:
            return rows(conn.execute("SELECT name, email, admin, created FROM users ORDER BY name"))

    def user(self, name: str) -> dict[str, Any] | None:
        """One user's public fields, or None."""
        with self.db.read() as conn:
            row = conn.execute("SELECT name, email, admin, created FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else dict(row)

    def authenticate(self, name: str, secret: str) -> Principal | None:
        """The principal a username with a password or a personal access token stands for; None when wrong."""
        if secret.startswith(TOKEN_PREFIX):
            return self._by_token(name, secret)
        with self.db.read() as conn:
            row = conn.execute("SELECT password, admin FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            check_password(secret, _unknown_user_hash())  # as slow as for a known user: no name probing by timing
            return None
        if not check_password(secret, row["password"]):
            return None
        return Principal(name, bool(row["admin"]))

    def principal(self, name: str) -> Principal | None:
        """The principal of an existing user (for a token whose subject is `name`)."""
        found = self.user(name)
        return None if found is None else Principal(name, bool(found["admin"]))

    # ----- personal access tokens ----------------------------------------------------------------

    def create_token(self, user: str, label: str, scope: str = "repo:admin") -> dict[str, Any]:
        """A new token for `user`: its record with the secret, which is shown only this once."""
        if scope not in TOKEN_SCOPES:
            raise InvalidParameter(f"unknown token scope {scope!r}: one of {', '.join(TOKEN_SCOPES)}")
        secret = TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(30)).decode()
        record = {"uuid": str(uuid.uuid4()), "user": user, "label": label, "scope": scope,
                  "created": time.time(), "last_used": None, "active": 1}
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (user,)).fetchone() is None:
                raise NotFound(f"no such user: {user}")
            conn.execute("INSERT INTO tokens (uuid, user, label, scope, hash, created, active) "
                         "VALUES (?, ?, ?, ?, ?, ?, 1)",
                         (record["uuid"], user, label, scope, _token_hash(secret), record["created"]))
        return {**record, "token": secret}

    def tokens(self, user: str) -> list[dict[str, Any]]:
        """A user's tokens (never their secrets), newest first."""
        with self.db.read() as conn:
            return rows(conn.execute("SELECT uuid, user, label, scope, created, last_used, active FROM tokens "
                                     "WHERE user = ? ORDER BY created DESC", (user,)))

    def revoke_token(self, user: str, token_id: str) -> None:
        """Delete a token of `user` (by uuid or its first characters)."""
        with self.db.write() as conn:
            found = conn.execute("SELECT uuid FROM tokens WHERE user = ? AND uuid LIKE ?",
                                 (user, token_id.replace("%", "") + "%")).fetchall()
            if len(found) != 1:
                raise NotFound(f"no single token of {user} matches {token_id!r}")
            conn.execute("DELETE FROM tokens WHERE uuid = ?", (found[0]["uuid"],))

    def _by_token(self, name: str, secret: str) -> Principal | None:
        """The principal of an active token of user `name`."""
        with self.db.write() as conn:
            row = conn.execute("SELECT t.uuid, t.scope, u.admin FROM tokens t JOIN users u ON u.name = t.user "
                               "WHERE t.hash = ? AND t.user = ? AND t.active = 1",
                               (_token_hash(secret), name)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE tokens SET last_used = ? WHERE uuid = ?", (time.time(), row["uuid"]))
        scope = row["scope"]
        return Principal(name, bool(row["admin"]) and scope == "repo:admin", TOKEN_SCOPES[scope],
                         scope == "repo:public_read", token=True)

    # ----- organisations and teams ---------------------------------------------------------------

    def create_org(self, name: str, owner: str) -> None:
        """Create an organisation with `owner` as its first owner."""
        with self.db.write() as conn:
            self._check_new_name(conn, name)
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (owner,)).fetchone() is None:
                raise NotFound(f"no such user: {owner}")
            conn.execute("INSERT INTO orgs (name, created) VALUES (?, ?)", (name, time.time()))
            conn.execute("INSERT INTO org_members (org, user, role) VALUES (?, ?, 'owner')", (name, owner))

    def remove_org(self, name: str) -> None:
        """Delete an organisation with its teams and memberships (its repositories stay)."""
        with self.db.write() as conn:
            if conn.execute("DELETE FROM orgs WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no such organisation: {name}")

    def orgs(self) -> list[dict[str, Any]]:
        """Every organisation with its members' names and roles."""
        with self.db.read() as conn:
            out = rows(conn.execute("SELECT name, created FROM orgs ORDER BY name"))
            for org in out:
                org["members"] = rows(conn.execute("SELECT user, role FROM org_members WHERE org = ? "
                                                   "ORDER BY user", (org["name"],)))
                org["teams"] = [r["name"] for r in conn.execute("SELECT name FROM teams WHERE org = ? ORDER BY name",
                                                                (org["name"],))]
        return out

    def set_member(self, org: str, user: str, role: str = "member") -> None:
        """Add `user` to `org` (or change their role)."""
        if role not in ("owner", "member"):
            raise InvalidParameter(f"invalid role {role!r}: owner or member")
        with self.db.write() as conn:
            self._need(conn, "orgs", org)
            self._need(conn, "users", user)
            conn.execute("INSERT OR REPLACE INTO org_members (org, user, role) VALUES (?, ?, ?)", (org, user, role))

    def remove_member(self, org: str, user: str) -> None:
        """Take `user` out of `org` and of its teams."""
        with self.db.write() as conn:
            if conn.execute("DELETE FROM org_members WHERE org = ? AND user = ?", (org, user)).rowcount == 0:
                raise NotFound(f"{user} is not a member of {org}")
            conn.execute("DELETE FROM team_members WHERE org = ? AND user = ?", (org, user))

    def create_team(self, org: str, team: str) -> None:
        """Create a team in `org`."""
        if not re.match(r"[a-z0-9][a-z0-9_-]{0,29}\Z", team):
            raise InvalidParameter(f"invalid team name {team!r}")
        with self.db.write() as conn:
            self._need(conn, "orgs", org)
            if conn.execute("SELECT 1 FROM teams WHERE org = ? AND name = ?", (org, team)).fetchone():
                raise Conflict(f"team {org}/{team} exists")
            conn.execute("INSERT INTO teams (org, name) VALUES (?, ?)", (org, team))

    def add_team_member(self, org: str, team: str, user: str) -> None:
        """Put `user` in a team (making them an organisation member when they are not)."""
        with self.db.write() as conn:
            self._need_team(conn, org, team)
            self._need(conn, "users", user)
            conn.execute("INSERT OR IGNORE INTO org_members (org, user, role) VALUES (?, ?, 'member')", (org, user))
            conn.execute("INSERT OR IGNORE INTO team_members (org, team, user) VALUES (?, ?, ?)", (org, team, user))

    def grant_team(self, org: str, team: str, repository: str, permission: str) -> None:
        """Give a team read, write or admin on a repository of its organisation ("none" removes the grant)."""
        name = repository if "/" in repository else f"{org}/{repository}"
        if namespace_of(name) != org:
            raise InvalidParameter(f"{name} is not a repository of {org}")
        with self.db.write() as conn:
            self._need_team(conn, org, team)
            if permission == "none":
                conn.execute("DELETE FROM team_repos WHERE org = ? AND team = ? AND repository = ?",
                             (org, team, name))
                return
            if permission not in ("read", "write", "admin"):
                raise InvalidParameter(f"invalid permission {permission!r}: read, write, admin or none")
            conn.execute("INSERT OR REPLACE INTO team_repos (org, team, repository, permission) VALUES (?, ?, ?, ?)",
                         (org, team, name, permission))

    def set_collaborator(self, repository: str, user: str, permission: str) -> None:
        """Give a user read, write or admin on one repository ("none" removes them)."""
        with self.db.write() as conn:
            self._need(conn, "users", user)
            if permission == "none":
                conn.execute("DELETE FROM collaborators WHERE repository = ? AND user = ?", (repository, user))
                return
            if permission not in ("read", "write", "admin"):
                raise InvalidParameter(f"invalid permission {permission!r}: read, write, admin or none")
            conn.execute("INSERT OR REPLACE INTO collaborators (repository, user, permission) VALUES (?, ?, ?)",
                         (repository, user, permission))

    def collaborators(self, repository: str) -> list[dict[str, Any]]:
        """A repository's collaborators and their permissions, by name."""
        with self.db.read() as conn:
            return rows(conn.execute("SELECT user, permission FROM collaborators WHERE repository = ? ORDER BY user",
                                     (repository,)))

    @staticmethod
    def _need(conn: Any, table: str, name: str) -> None:
        if conn.execute(f"SELECT 1 FROM {table} WHERE name = ?", (name,)).fetchone() is None:
            raise NotFound(f"no such {'organisation' if table == 'orgs' else 'user'}: {name}")

    @staticmethod
    def _need_team(conn: Any, org: str, team: str) -> None:
        if conn.execute("SELECT 1 FROM teams WHERE org = ? AND name = ?", (org, team)).fetchone() is None:
            raise NotFound(f"no such team: {org}/{team}")

    # ----- permissions ---------------------------------------------------------------------------

    def level(self, who: Principal | None, repository: str, private: bool | None) -> int:
        """What `who` (None: anonymous) may do with `repository`: 0 none, 1 read, 2 write, 3 admin.

        `private` is the repository's visibility, None when it does not exist yet."""
        public = private is False
        if who is None:
            return LEVELS["read"] if public else 0
        if who.public_only:
            return LEVELS["read"] if public else 0
        own = self._own_level(who, repository)
        if public:
            own = max(own, LEVELS["read"])
        return min(own, who.ceiling)

    def _own_level(self, who: Principal, repository: str) -> int:
        """The level `who` has through ownership, organisations, teams and collaboration."""
        namespace = namespace_of(repository)
        if who.admin:
            return LEVELS["admin"]
        if namespace in ADMIN_NAMESPACES:
            return 0
        if namespace == who.name:
            return LEVELS["admin"]
        with self.db.read() as conn:
            role = conn.execute("SELECT role FROM org_members WHERE org = ? AND user = ?",
                                (namespace, who.name)).fetchone()
            if role is not None and role["role"] == "owner":
                return LEVELS["admin"]
            grants = conn.execute(
                "SELECT tr.permission FROM team_repos tr JOIN team_members tm ON tm.org = tr.org AND tm.team = tr.team "
                "WHERE tr.repository = ? AND tm.user = ? "
                "UNION ALL SELECT permission FROM collaborators WHERE repository = ? AND user = ?",
                (repository, who.name, repository, who.name)).fetchall()
        return max((LEVELS[g["permission"]] for g in grants), default=0)

    def readable_filter(self, who: Principal | None) -> tuple[str, list[Any]]:
        """An SQL condition on the `repositories` table (alias r) selecting what `who` may see."""
        if who is not None and who.admin and not who.public_only:
            return "1", []
        if who is None or who.public_only:
            return "r.private = 0", []
        return ("(r.private = 0 OR r.namespace = ? "
                "OR r.namespace IN (SELECT org FROM org_members WHERE user = ? AND role = 'owner') "
                "OR r.name IN (SELECT tr.repository FROM team_repos tr JOIN team_members tm "
                "ON tm.org = tr.org AND tm.team = tr.team WHERE tm.user = ?) "
                "OR r.name IN (SELECT repository FROM collaborators WHERE user = ?))",
                [who.name] * 4)
