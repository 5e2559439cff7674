"""`dockyard tls create`: a CA and the server and client certificates of a TLS daemon, in one command."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag


def _create(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """Write ca.pem/ca-key.pem, server-cert.pem/server-key.pem and client/{ca,cert,key}.pem (keys 0600)."""
    from pathlib import Path

    from dockyard.util.certgen import create_all
    if o["days"] <= 0:
        raise CommandError("--days must be a positive number of days")
    folder = Path(o["dir"])
    files = create_all(folder, args, o["client_name"], o["days"])
    ctx.out(f"CA:     {files['ca']} (key {files['ca-key']}; reused when it exists)\n"
            f"Server: {files['server-cert']} {files['server-key']} for {', '.join(args)}\n"
            f"Client: {files['client-cert'].parent}/ (ca.pem, cert.pem, key.pem)\n\n"
            f"dockyard daemon -H tcp://{args[0]}:2376 --tlsverify --tlscacert {files['ca']} "
            f"--tlscert {files['server-cert']} --tlskey {files['server-key']}\n"
            f"DOCKER_HOST=tcp://{args[0]}:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH={files['client-cert'].parent} "
            "docker ps\n")
    return 0


CREATE = Command("tls create", "tls create [OPTIONS] NAME_OR_IP [NAME_OR_IP...]",
                 "Make a CA, a server certificate for these names and addresses, and a client certificate",
                 _create, [
                     Flag("dir", "", "string", "certs", help="Folder to write the files to"),
                     Flag("days", "", "int", 365, help="How long the certificates are valid"),
                     Flag("client-name", "", "string", "client", help="Common name of the client certificate"),
                 ], min_args=1)
