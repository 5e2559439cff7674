"""`dockyard registry user|token|org|team|repo ...`: manage the hub's accounts in a registry's data root."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path
from typing import Any, Callable

from dockyard.registry.accounts import TOKEN_SCOPES
from dockyard.registry.hub import Hub
from dockyard.registry.storage import Storage

COMMANDS = ("user", "token", "org", "team", "repo")


def _root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", required=True, type=Path, help="registry storage directory")


def add_parsers(sub: Any) -> None:
    """Add the account commands to `dockyard registry`'s subparsers."""
    user = sub.add_parser("user", help="hub users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="add a user (password on stdin)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="a site admin (owns library/)")
    add.add_argument("--email", default="")
    user.add_parser("ls", help="list users")
    user.add_parser("rm", help="remove a user").add_argument("name")
    user.add_parser("passwd", help="set a user's password (on stdin)").add_argument("name")
    token = sub.add_parser("token", help="personal access tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="create a token; its secret is printed once")
    create.add_argument("user")
    create.add_argument("--label", default="")
    create.add_argument("--scope", default="repo:admin", choices=list(TOKEN_SCOPES))
    token.add_parser("ls", help="list a user's tokens").add_argument("user")
    revoke = token.add_parser("revoke", help="revoke a token")
    revoke.add_argument("user")
    revoke.add_argument("id", help="the token's uuid (or its first characters)")
    org = sub.add_parser("org", help="organisations").add_subparsers(dest="action", required=True)
    made = org.add_parser("create", help="create an organisation")
    made.add_argument("name")
    made.add_argument("--owner", required=True)
    org.add_parser("ls", help="list organisations")
    org.add_parser("rm", help="remove an organisation").add_argument("name")
    member = org.add_parser("member", help="add a member or change their role")
    member.add_argument("org")
    member.add_argument("user")
    member.add_argument("--role", default="member", choices=("owner", "member"))
    unmember = org.add_parser("unmember", help="remove a member")
    unmember.add_argument("org")
    unmember.add_argument("user")
    team = sub.add_parser("team", help="teams of an organisation").add_subparsers(dest="action", required=True)
    made = team.add_parser("create", help="create a team")
    made.add_argument("org")
    made.add_argument("team")
    join = team.add_parser("add", help="put a user in a team")
    join.add_argument("org")
    join.add_argument("team")
    join.add_argument("user")
    grant = team.add_parser("grant", help="give a team read, write or admin on a repository (none removes)")
    grant.add_argument("org")
    grant.add_argument("team")
    grant.add_argument("repository")
    grant.add_argument("permission", choices=("read", "write", "admin", "none"))
    repo = sub.add_parser("repo", help="repository settings").add_subparsers(dest="action", required=True)
    setting = repo.add_parser("set", help="visibility and descriptions")
    setting.add_argument("name")
    setting.add_argument("--visibility", choices=("public", "private"))
    setting.add_argument("--description")
    collab = repo.add_parser("collaborator", help="give a user read, write or admin (none removes)")
    collab.add_argument("name")
    collab.add_argument("user")
    collab.add_argument("permission", choices=("read", "write", "admin", "none"))
    for group in (user, token, org, team, repo):
        for parser in group.choices.values():
            _root(parser)


def _password(prompt: str = "Password: ") -> str:
    """A password from stdin (one line) or the terminal."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip("\n")


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


def _table(rows: list[list[str]]) -> None:
    """Print left-aligned columns like docker does."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _user(hub: Hub, args: argparse.Namespace) -> None:
    accounts = hub.accounts
    if args.action == "add":
        accounts.add_user(args.name, _password(), args.admin, args.email)
    elif args.action == "ls":
        _table([["NAME", "ADMIN", "EMAIL", "CREATED"]] +
               [[u["name"], "yes" if u["admin"] else "no", u["email"], _when(u["created"])] for u in accounts.users()])
    elif args.action == "rm":
        accounts.remove_user(args.name)
    else:
        accounts.set_password(args.name, _password("New password: "))


def _token(hub: Hub, args: argparse.Namespace) -> None:
    accounts = hub.accounts
    if args.action == "create":
        record = accounts.create_token(args.user, args.label, args.scope)
        print(record["token"])
        print(f"token {record['uuid']} ({args.scope}); the secret above is shown only this once", file=sys.stderr)
    elif args.action == "ls":
        _table([["ID", "LABEL", "SCOPE", "CREATED", "LAST USED"]] +
               [[t["uuid"], t["label"], t["scope"], _when(t["created"]), _when(t["last_used"])]
                for t in accounts.tokens(args.user)])
    else:
        accounts.revoke_token(args.user, args.id)


def _org(hub: Hub, args: argparse.Namespace) -> None:
    accounts = hub.accounts
    if args.action == "create":
        accounts.create_org(args.name, args.owner)
    elif args.action == "ls":
        _table([["NAME", "OWNERS", "MEMBERS", "TEAMS"]] +
               [[o["name"], ",".join(m["user"] for m in o["members"] if m["role"] == "owner"),
                 ",".join(m["user"] for m in o["members"] if m["role"] == "member"), ",".join(o["teams"])]
                for o in accounts.orgs()])
    elif args.action == "rm":
        accounts.remove_org(args.name)
    elif args.action == "member":
        accounts.set_member(args.org, args.user, args.role)
    else:
        accounts.remove_member(args.org, args.user)


def _team(hub: Hub, args: argparse.Namespace) -> None:
    if args.action == "create":
        hub.accounts.create_team(args.org, args.team)
    elif args.action == "add":
        hub.accounts.add_team_member(args.org, args.team, args.user)
    else:
        hub.accounts.grant_team(args.org, args.team, args.repository, args.permission)


def _repo(hub: Hub, args: argparse.Namespace) -> None:
    if args.action == "collaborator":
        hub.accounts.set_collaborator(args.name, args.user, args.permission)
        return
    fields: dict[str, Any] = {}
    if args.visibility:
        fields["private"] = int(args.visibility == "private")
    if args.description is not None:
        fields["description"] = args.description
    hub.index.ensure()
    hub.index.update(args.name, **fields)


HANDLERS: dict[str, Callable[[Hub, argparse.Namespace], None]] = {
    "user": _user, "token": _token, "org": _org, "team": _team, "repo": _repo}


def run(args: argparse.Namespace) -> int:
    """Run one account command against the hub database under --root."""
    hub = Hub(Storage(args.root))
    try:
        HANDLERS[args.command](hub, args)
    finally:
        hub.db.close()
    return 0
