"""`dockyard registry serve|gc|htpasswd|user|token|org|team|repo`: run the registry (and hub), collect garbage,
make htpasswd entries, manage hub accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.registry import gc, hubcli
from dockyard.registry.app import serve
from dockyard.registry.auth import Authorizer, Htpasswd, TokenIssuer, bcrypt_entry
from dockyard.registry.hub import Hub, Settings
from dockyard.registry.storage import Storage


def parser() -> argparse.ArgumentParser:
    """The argument parser of `dockyard registry`."""
    top = argparse.ArgumentParser(prog="dockyard registry", description="Dockyard's OCI registry")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="serve the registry")
    run.add_argument("--addr", default="127.0.0.1:5000", help="host:port to listen on")
    run.add_argument("--root", required=True, type=Path, help="storage directory")
    run.add_argument("--htpasswd", type=Path, help="htpasswd file (bcrypt or {SHA} entries)")
    run.add_argument("--auth", choices=("none", "basic", "token", "hub"),
                     help="auth mode (basic when --htpasswd); hub: the hub's accounts and permissions")
    run.add_argument("--signup", action="store_true", help="hub: let anyone create an account")
    run.add_argument("--public-by-default", action="store_true",
                     help="hub: repositories are public on first push (default private)")
    run.add_argument("--url", default="", help="hub: its public URL (webhook payloads link to it)")
    run.add_argument("--anonymous-read", action="store_true", help="allow pulls without credentials")
    run.add_argument("--realm", help="token realm URL (default: this server's /auth/token)")
    run.add_argument("--tls-cert", help="TLS certificate (PEM)")
    run.add_argument("--tls-key", help="TLS private key (PEM)")
    run.add_argument("--debug", action="store_true", help="log debug messages")
    collect = sub.add_parser("gc", help="delete unreferenced blobs and untagged manifests (online)")
    collect.add_argument("--root", required=True, type=Path, help="storage directory")
    collect.add_argument("--dry-run", action="store_true", help="only report what would be deleted")
    collect.add_argument("--grace", type=float, default=gc.DEFAULT_GRACE,
                         help="keep anything touched in the last GRACE seconds (default %(default)s)")
    collect.add_argument("--keep-untagged", action="store_true", help="do not delete untagged manifests")
    entry = sub.add_parser("htpasswd", help="print a bcrypt htpasswd line (password on stdin)")
    entry.add_argument("user")
    hubcli.add_parsers(sub)
    return top


def _authorizer(args: argparse.Namespace, hub: Hub) -> Authorizer:
    """The Authorizer the serve flags describe."""
    mode = args.auth or ("basic" if args.htpasswd else "none")
    if mode == "hub":
        return Authorizer("hub", None, False, args.realm, TokenIssuer(hub.secret), policy=hub)
    users = Htpasswd(args.htpasswd) if args.htpasswd else None
    return Authorizer(mode, users, args.anonymous_read, args.realm)


async def _serve(args: argparse.Namespace) -> None:
    """Serve until SIGINT or SIGTERM."""
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    hub = Hub(Storage(args.root), Settings(args.signup, not args.public_by_default, args.url))
    server = await serve(hub, f"tcp://{args.addr}", _authorizer(args, hub), tls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host, port = server.addresses[0][:2]
    print(f"dockyard registry listening on {'https' if tls else 'http'}://{host}:{port}", file=sys.stderr,
          flush=True)
    await stop.wait()
    await server.close(grace=2)
    await asyncio.get_running_loop().run_in_executor(None, hub.webhooks.stop)


def main(argv: list[str]) -> int:
    """Run `dockyard registry ...`; returns the exit status."""
    args = parser().parse_args(argv)
    if args.command == "serve":
        if bool(args.tls_cert) != bool(args.tls_key):
            print("--tls-cert and --tls-key go together", file=sys.stderr)
            return 2
        logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        asyncio.run(_serve(args))
        return 0
    if args.command == "gc":
        storage = Storage(args.root)
        report = gc.collect(storage, args.dry_run, args.grace, not args.keep_untagged, Hub(storage).index)
        for line in report.lines():
            print(line)
        return 0
    if args.command in hubcli.COMMANDS:
        try:
            return hubcli.run(args)
        except DockyardError as exc:
            print(f"Error: {exc.message}", file=sys.stderr)
            return 1
    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass()
    print(bcrypt_entry(args.user, password))
    return 0
