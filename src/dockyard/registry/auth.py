"""Registry authentication: htpasswd users or hub accounts, basic auth, and docker's bearer-token flow with scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dockyard.registry.accounts import Principal
from dockyard.registry.errors import AuthRequired, Denied

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # bcrypt ($2y$/$2b$) and md5-crypt through libxcrypt; deprecated but present in 3.11

SERVICE = "dockyard-registry"
TOKEN_TTL = 300
ALL_ACTIONS = ("pull", "push", "delete")


class Htpasswd:
    """Users from an htpasswd file: bcrypt ($2y$, $2b$, $2a$), crypt ($1$, $5$, $6$) and {SHA} entries."""

    def __init__(self, path: Path) -> None:
        self.users: dict[str, str] = {}
        for line in Path(path).read_text().splitlines():
            user, sep, hashed = line.strip().partition(":")
            if sep and user and not user.startswith("#"):
                self.users[user] = hashed

    def verify(self, user: str, password: str) -> bool:
        """True when `password` matches the entry of `user`."""
        hashed = self.users.get(user)
        if hashed is None:
            return False
        if hashed.startswith("{SHA}"):
            expected = "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
            return hmac.compare_digest(expected, hashed)
        if hashed.startswith("$2y$"):
            hashed_for_crypt = "$2b$" + hashed[4:]
            return hmac.compare_digest(crypt.crypt(password, hashed_for_crypt) or "", hashed_for_crypt)
        if hashed.startswith("$"):
            return hmac.compare_digest(crypt.crypt(password, hashed) or "", hashed)
        return False


def bcrypt_entry(user: str, password: str) -> str:
    """An htpasswd line with a bcrypt hash (what `htpasswd -B` writes)."""
    return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}"


@dataclass(frozen=True)
class Scope:
    """What a request needs: resource type, name and actions (repository:foo/bar:pull,push)."""

    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scopes(values: list[str]) -> list[Scope]:
    """Parse the `scope` parameters of a token request (several may share one parameter, space-separated)."""
    out = []
    for value in values:
        for item in value.split():
            kind, _, rest = item.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                out.append(Scope(kind, name, tuple(a for a in actions.split(",") if a)))
    return out


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Signs and checks HS256 JWTs granting per-repository actions."""

    def __init__(self, secret: bytes | None = None, service: str = SERVICE, ttl: int = TOKEN_TTL) -> None:
        self.secret = secret or secrets.token_bytes(32)
        self.service = service
        self.ttl = ttl

    def issue(self, subject: str, granted: list[Scope], now: float | None = None,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The token endpoint's answer for `subject` with `granted` scopes (and `extra` claims)."""
        issued = int(now or time.time())
        claims = {**(extra or {}), "iss": "dockyard", "sub": subject, "aud": self.service, "iat": issued,
                  "nbf": issued - 5, "exp": issued + self.ttl, "jti": secrets.token_hex(8),
                  "access": [{"type": s.type, "name": s.name, "actions": list(s.actions)} for s in granted]}
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        signature = _b64(hmac.new(self.secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
        token = f"{head}.{body}.{signature}"
        return {"token": token, "access_token": token, "expires_in": self.ttl,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued))}

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired token of ours; None otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = _b64(hmac.new(self.secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
        except ValueError:
            return None
        now = time.time()
        if claims.get("aud") != self.service or not claims.get("nbf", 0) <= now < claims.get("exp", 0):
            return None
        return claims


def _basic(header: str) -> tuple[str, str] | None:
    """(user, password) from a Basic Authorization header."""
    kind, _, value = header.partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class Policy(Protocol):
    """Hub accounts behind the Authorizer's "hub" mode: who a login is and what they may do."""

    def authenticate(self, user: str, secret: str) -> Principal | None:
        """The principal of a username and password (or access token); None when wrong."""

    def principal(self, name: str) -> Principal | None:
        """The principal of an existing user."""

    def actions(self, who: Principal | None, scope: Scope) -> tuple[str, ...]:
        """The actions of `scope` that `who` (None: anonymous) may take."""


CATALOG = Scope("registry", "catalog", ("*",))
DENIED_MESSAGE = "requested access to the resource is denied"


class Authorizer:
    """Decides each request: open, basic (htpasswd), token or hub (accounts) mode; anonymous pulls when allowed."""

    def __init__(self, mode: str = "none", users: Htpasswd | None = None, anonymous_read: bool = False,
                 realm: str | None = None, issuer: TokenIssuer | None = None, policy: Policy | None = None) -> None:
        if mode not in ("none", "basic", "token", "hub"):
            raise ValueError(f"unknown auth mode {mode!r}")
        if mode in ("basic", "token") and users is None:
            raise ValueError(f"auth mode {mode!r} needs an htpasswd file")
        if mode == "hub" and policy is None:
            raise ValueError("auth mode 'hub' needs the hub's accounts")
        self.mode = mode
        self.users = users
        self.policy = policy
        self.anonymous_read = anonymous_read
        self.realm = realm
        self.issuer = issuer or TokenIssuer()

    def authenticate(self, authorization: str) -> Principal | None:
        """Who a Basic header authenticates; AuthRequired when it is wrong; None when absent."""
        credentials = _basic(authorization) if authorization else None
        if credentials is None:
            return None
        if self.policy is not None:
            who = self.policy.authenticate(*credentials)
        else:
            who = Principal(credentials[0]) if self.users and self.users.verify(*credentials) else None
        if who is None:
            raise AuthRequired("authentication required: invalid username or password",
                               headers=self._challenge(None, "http://localhost"))
        return who

    def user_of(self, authorization: str) -> str | None:
        """The user a Basic header authenticates; AuthRequired when it is wrong; None when absent."""
        who = self.authenticate(authorization)
        return None if who is None else who.name

    def grant(self, who: Principal | None, wanted: list[Scope]) -> list[Scope]:
        """What a principal (None: anonymous) gets of the wanted scopes."""
        granted = []
        for scope in wanted:
            if self.policy is not None:
                allowed = self.policy.actions(who, scope)
            elif who is not None:
                allowed = ALL_ACTIONS if scope.type == "repository" else ("*",)
            else:
                allowed = ("pull",) if self.anonymous_read and scope.type == "repository" else ()
            actions = tuple(a for a in scope.actions if a in allowed or "*" in allowed)
            granted.append(Scope(scope.type, scope.name, actions))
        return granted

    def token(self, authorization: str, scopes: list[str]) -> dict[str, Any]:
        """The token endpoint: check Basic credentials (optional) and sign the granted scopes."""
        who = self.authenticate(authorization)
        return self.issuer.issue(who.name if who else "", self.grant(who, parse_scopes(scopes)))

    def subject(self, authorization: str) -> str:
        """The user name a request carries (bearer token subject or Basic user), "" when anonymous."""
        kind, _, value = authorization.partition(" ")
        if kind.lower() == "bearer":
            claims = self.issuer.claims(value.strip())
            return str(claims.get("sub") or "") if claims else ""
        credentials = _basic(authorization)
        return credentials[0] if credentials else ""

    def check(self, authorization: str, scope: Scope | None, base_url: str) -> None:
        """Allow the request or raise AuthRequired / Denied with the right challenge."""
        if self.mode == "none":
            return
        if self.mode == "basic":
            user = self.user_of(authorization)
            if user is not None or self._anonymous_ok(scope):
                return
            raise AuthRequired("authentication required", headers=self._challenge(scope, base_url))
        kind, _, value = authorization.partition(" ")
        if kind.lower() == "bearer":
            claims = self.issuer.claims(value.strip())
            if claims is not None and (scope is None or _covers(claims.get("access", []), scope)):
                return
            if claims is not None and self.mode == "hub":
                raise Denied(DENIED_MESSAGE, headers=self._challenge(scope, base_url, "insufficient_scope"))
        elif self.mode == "hub" and kind.lower() == "basic":
            who = self.authenticate(authorization)
            if scope is None or self.grant(who, [scope])[0].actions == scope.actions:
                return
            raise Denied(DENIED_MESSAGE)
        elif self._anonymous_ok(scope):
            return
        raise AuthRequired("authentication required", {"access": [str(scope)] if scope else []},
                           headers=self._challenge(scope, base_url))

    def viewer(self, authorization: str, base_url: str, hub_issuer: TokenIssuer | None = None) -> Principal | None:
        """Who reads the hub's pages and API: a hub login token (never a registry token: it carries no limits
        of the access token it came from) or Basic credentials (password or access token).

        Outside hub mode there are no private repositories: whoever passes the catalog check sees all."""
        if self.mode != "hub" or self.policy is None:
            self.check(authorization, CATALOG, base_url)
            return Principal(self.subject(authorization), admin=True)
        kind, _, value = authorization.partition(" ")
        if kind.lower() in ("bearer", "jwt"):
            claims = hub_issuer.claims(value.strip()) if hub_issuer is not None else None
            user = self.policy.principal(str(claims.get("sub") or "")) if claims else None
            if claims is None or user is None:
                raise AuthRequired("authentication required: invalid or expired token")
            return user.capped(claims)
        return self.authenticate(authorization)

    def _anonymous_ok(self, scope: Scope | None) -> bool:
        if self.mode == "hub" and self.policy is not None:
            return scope is not None and bool(scope.actions) and \
                set(scope.actions) <= set(self.policy.actions(None, scope))
        return (self.anonymous_read and scope is not None and scope.type == "repository"
                and set(scope.actions) <= {"pull"})

    def _challenge(self, scope: Scope | None, base_url: str, error: str = "") -> dict[str, str]:
        """The WWW-Authenticate header for this mode."""
        if self.mode == "basic":
            return {"WWW-Authenticate": 'Basic realm="Dockyard Registry"'}
        realm = self.realm or f"{base_url}/auth/token"
        value = f'Bearer realm="{realm}",service="{self.issuer.service}"'
        if scope is not None:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return {"WWW-Authenticate": value}


def _covers(access: list[dict[str, Any]], scope: Scope) -> bool:
    """True when a token's access list grants every action of `scope`."""
    for entry in access:
        if entry.get("type") == scope.type and entry.get("name") == scope.name:
            actions = set(entry.get("actions") or [])
            if "*" in actions or set(scope.actions) <= actions:
                return True
    return False

