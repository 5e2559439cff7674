"""`swarm init/join/join-token/leave/update/unlock/unlock-key/ca`, with docker's flags, output and errors."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError, Context
from dockyard.cli.flags import Command, Flag

UNLOCK_TEXT = ("To unlock a swarm manager after it restarts, run the `docker swarm unlock`\ncommand and provide the "
               "following key:\n\n    {}\n\nRemember to store this key in a password manager, since without it "
               "you\nwill not be able to restart the manager.\n")


def _duration_ns(text: str, flag: str) -> int:
    """A Go duration flag in nanoseconds."""
    from dockyard.util.humanize import parse_duration
    try:
        return round(parse_duration(text) * 1_000_000_000)
    except ValueError as exc:
        raise CommandError(f'invalid argument "{text}" for "--{flag}" flag: {exc}') from None


def merge_spec_flags(spec: dict[str, Any], o: dict[str, Any]) -> dict[str, Any]:
    """The CLI's mergeSwarmSpec: only the flags given change the spec."""
    if o["task_history_limit"] is not None:
        spec.setdefault("Orchestration", {})["TaskHistoryRetentionLimit"] = o["task_history_limit"]
    if o["dispatcher_heartbeat"] is not None:
        spec.setdefault("Dispatcher", {})["HeartbeatPeriod"] = _duration_ns(o["dispatcher_heartbeat"],
                                                                            "dispatcher-heartbeat")
    if o["max_snapshots"] is not None:
        spec.setdefault("Raft", {})["KeepOldSnapshots"] = o["max_snapshots"]
    if o["snapshot_interval"] is not None:
        spec.setdefault("Raft", {})["SnapshotInterval"] = o["snapshot_interval"]
    if o["autolock"] is not None:
        spec.setdefault("EncryptionConfig", {})["AutoLockManagers"] = o["autolock"]
    if o["cert_expiry"] is not None:
        spec.setdefault("CAConfig", {})["NodeCertExpiry"] = _duration_ns(o["cert_expiry"], "cert-expiry")
    return spec


def print_join_command(ctx: Context, node_id: str, worker: bool, manager: bool) -> None:
    """The `docker swarm join --token ...` lines for the roles asked."""
    from dockyard.client.transport import quote
    node = ctx.api.get(f"/nodes/{quote(node_id)}")
    swarm = ctx.api.get("/swarm")
    address = (node.get("ManagerStatus") or {}).get("Addr")
    if address is None:
        return
    for role, wanted in (("worker", worker), ("manager", manager)):
        if wanted:
            token = swarm["JoinTokens"][role.title()]
            ctx.out(f"To add a {role} to this swarm, run the following command:\n\n"
                    f"    docker swarm join --token {token} {address}\n\n")


def _init(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker swarm init."""
    availability = ""
    if o["availability"] is not None:
        availability = o["availability"].lower()
        if availability not in ("active", "pause", "drain"):
            raise CommandError(f'invalid availability "{o["availability"]}", only active, pause and drain are '
                               "supported")
    body = {"ListenAddr": o["listen_addr"], "AdvertiseAddr": o["advertise_addr"] or "",
            "DataPathAddr": o["data_path_addr"] or "", "DataPathPort": o["data_path_port"] or 0,
            "DefaultAddrPool": o["default_addr_pool"] or None, "ForceNewCluster": o["force_new_cluster"],
            "Spec": merge_spec_flags({}, o), "AutoLockManagers": bool(o["autolock"]),
            "Availability": availability, "SubnetSize": o["default_addr_pool_mask_length"]}
    from dockyard.client.api import APIError
    try:
        node_id = ctx.api.post("/swarm/init", None, body)
    except APIError as exc:
        if "could not choose an IP address" in exc.message or "could not find the system's IP" in exc.message:
            raise CommandError(f"Error response from daemon: {exc.message} - specify one with --advertise-addr") \
                from None
        raise
    ctx.out(f"Swarm initialized: current node ({node_id}) is now a manager.\n\n")
    print_join_command(ctx, node_id, True, False)
    ctx.out("To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions.\n")
    if o["autolock"]:
        key = ctx.api.get("/swarm/unlockkey")["UnlockKey"]
        if key:
            ctx.out(UNLOCK_TEXT.format(key))
    return 0


def _join(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker swarm join: the role the node got is read back from /info, as the docker CLI does."""
    body = {"ListenAddr": o["listen_addr"], "AdvertiseAddr": o["advertise_addr"] or "",
            "DataPathAddr": o["data_path_addr"] or "", "RemoteAddrs": args, "JoinToken": o["token"] or "",
            "Availability": o["availability"] or ""}
    ctx.api.post("/swarm/join", None, body)
    role = "manager" if ctx.api.get("/info")["Swarm"].get("ControlAvailable") else "worker"
    ctx.out(f"This node joined a swarm as a {role}.\n")
    return 0


def _join_token(ctx: Context, o: dict[str, Any], args: list[str]) -> int:
    """docker swarm join-token [-q] [--rotate] (worker|manager)."""
    role = args[0]
    if role not in ("worker", "manager"):
        raise CommandError(f"unknown role {role}")
    if o["rotate"]:
        swarm = ctx.api.get("/swarm")
        ctx.api.post("/swarm/update", {"version": swarm["Version"]["Index"],
                                       "rotateWorkerToken": str(role == "worker").lower(),
                                       "rotateManagerToken": str(role == "manager").lower()}, swarm["Spec"])
        if not o["quiet"]:
            ctx.out(f"Successfully rotated {role} join token.\n\n")
    swarm = ctx.api.get("/swarm")
    if o["quiet"]:
        ctx.out(swarm["JoinTokens"][role.title()] + "\n")
        return 0
    node_id = ctx.api.get("/info")["Swarm"]["NodeID"]
    print_join_command(ctx, node_id, role == "worker", role == "manager")
    return 0


def _leave(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker swarm leave [-f]."""
    ctx.api.post("/swarm/leave", {"force": "1" if o["force"] else None})
    ctx.out("Node left the swarm.\n")
    return 0


def _update(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker swarm update: the flags given merged into the current spec."""
    swarm = ctx.api.get("/swarm")
    before = swarm["Spec"].get("EncryptionConfig", {}).get("AutoLockManagers", False)
    spec = merge_spec_flags(swarm["Spec"], o)
    ctx.api.post("/swarm/update", {"version": swarm["Version"]["Index"]}, spec)
    ctx.out("Swarm updated.\n")
    if spec.get("EncryptionConfig", {}).get("AutoLockManagers") and not before:
        ctx.out(UNLOCK_TEXT.format(ctx.api.get("/swarm/unlockkey")["UnlockKey"]))
    return 0


def _unlock(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker swarm unlock: the key from the terminal or stdin."""
    import sys
    state = ctx.api.get("/info")["Swarm"]["LocalNodeState"]
    if state == "inactive":
        raise CommandError("error: this node is not part of a swarm")
    if state != "locked":
        raise CommandError("error: swarm is not locked")
    if sys.stdin.isatty():
        import getpass
        key = getpass.getpass("Enter unlock key: ")
    else:
        key = sys.stdin.readline().strip()
    ctx.api.post("/swarm/unlock", None, {"UnlockKey": key})
    return 0


def _unlock_key(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker swarm unlock-key [-q] [--rotate]."""
    if o["rotate"]:
        swarm = ctx.api.get("/swarm")
        if not swarm["Spec"].get("EncryptionConfig", {}).get("AutoLockManagers"):
            raise CommandError("cannot rotate because autolock is not turned on")
        ctx.api.post("/swarm/update", {"version": swarm["Version"]["Index"], "rotateManagerUnlockKey": "true"},
                     swarm["Spec"])
        if not o["quiet"]:
            ctx.out("Successfully rotated manager unlock key.\n")
    key = ctx.api.get("/swarm/unlockkey")["UnlockKey"]
    if not key:
        raise CommandError("no unlock key is set")
    ctx.out(key + "\n" if o["quiet"] else UNLOCK_TEXT.format(key))
    return 0


def _ca(ctx: Context, o: dict[str, Any], _args: list[str]) -> int:
    """docker swarm ca: the root CA certificate; `--rotate` starts a root rotation and, unless `--detach`, follows it
    until every node has the new root, then prints it."""
    swarm = ctx.api.get("/swarm")
    if not o["rotate"]:
        for flag in ("ca_cert", "ca_key", "cert_expiry", "external_ca"):
            if o[flag] is not None:
                raise CommandError(f"`--{flag.replace('_', '-')}` flag requires the `--rotate` flag to update the CA")
        return _print_root(ctx, swarm)
    if o["external_ca"] and o["ca_cert"] is None:
        raise CommandError("rotating to an external CA requires the `--ca-cert` flag to specify the external CA's "
                           "cert - to add an external CA with the current root CA certificate, use the `update` "
                           "command instead")
    if o["ca_cert"] is not None and not o["external_ca"] and o["ca_key"] is None:
        raise CommandError("the --ca-cert flag requires that a --ca-key flag and/or --external-ca flag be provided "
                           "as well")
    spec = swarm["Spec"]
    ca = spec.setdefault("CAConfig", {})
    if o["cert_expiry"] is not None:
        ca["NodeCertExpiry"] = _duration_ns(o["cert_expiry"], "cert-expiry")
    for flag, key in (("ca_cert", "SigningCACert"), ("ca_key", "SigningCAKey")):
        if o[flag] is not None:
            with open(o[flag]) as pem:
                ca[key] = pem.read()
    if not ca.get("SigningCACert") and not ca.get("SigningCAKey"):
        ca["ForceRotate"] = ca.get("ForceRotate", 0) + 1
    ctx.api.post("/swarm/update", {"version": swarm["Version"]["Index"]}, spec)
    if o["detach"]:
        return 0
    _follow_rotation(ctx, o["quiet"])
    return _print_root(ctx, ctx.api.get("/swarm"))


def _print_root(ctx: Context, swarm: dict[str, Any]) -> int:
    """The swarm's trust root, as `docker swarm ca` prints it."""
    root = (swarm.get("TLSInfo") or {}).get("TrustRoot", "")
    if not root:
        raise CommandError("no CA information available")
    ctx.out(root.strip() + "\n")
    return 0


def _follow_rotation(ctx: Context, quiet: bool) -> None:
    """The docker CLI's RootRotationProgress as it reads without a terminal: the desired root's digest at every poll,
    until every node's certificate comes from the new issuer and every node trusts the new root."""
    import hashlib
    import time
    out = (lambda text: None) if quiet else ctx.out
    out("desired root digest: \n  rotated TLS certificates: \n  rotated CA certificates:  \n")
    done = False
    try:
        while True:
            swarm = ctx.api.get("/swarm")
            if done:
                return
            wanted = swarm.get("TLSInfo") or {}
            out(f"desired root digest: sha256:{hashlib.sha256(wanted.get('TrustRoot', '').encode()).hexdigest()}\n")
            infos = [(n.get("Description") or {}).get("TLSInfo") or {} for n in ctx.api.get("/nodes")]
            certs = all(i.get("CertIssuerPublicKey") == wanted.get("CertIssuerPublicKey")
                        and i.get("CertIssuerSubject") == wanted.get("CertIssuerSubject") for i in infos)
            roots = all(i.get("TrustRoot") == wanted.get("TrustRoot") for i in infos)
            done = certs and not swarm.get("RootRotationInProgress") and roots
            time.sleep(0.2)
    except KeyboardInterrupt:
        if not done:
            out("Operation continuing in background.\nUse `swarmctl cluster inspect default` to check progress.\n")


SPEC_FLAGS = [
    Flag("autolock", "", "optbool", help="Enable manager autolocking (requiring an unlock key to start a stopped "
                                         "manager)"),
    Flag("cert-expiry", "", "string", help="Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)",
         metavar="duration"),
    Flag("dispatcher-heartbeat", "", "string", help="Dispatcher heartbeat period (ns|us|ms|s|m|h) (default 5s)",
         metavar="duration"),
    Flag("max-snapshots", "", "int", help="Number of additional Raft snapshots to retain", metavar="uint"),
    Flag("snapshot-interval", "", "int", help="Number of log entries between Raft snapshots (default 10000)",
         metavar="uint"),
    Flag("task-history-limit", "", "int", help="Task history retention limit (default 5)", metavar="int"),
]
ADDRESS_FLAGS = [
    Flag("advertise-addr", "", "string", help="Advertised address (format: \"<ip|interface>[:port]\")"),
    Flag("availability", "", "string", help='Availability of the node ("active", "pause", "drain") (default "active")'),
    Flag("data-path-addr", "", "string", help="Address or interface to use for data path traffic (format: "
                                              "\"<ip|interface>\")"),
    Flag("listen-addr", "", "string", "0.0.0.0:2377", help="Listen address (format: \"<ip|interface>[:port]\") "
                                                           "(default 0.0.0.0:2377)", metavar="node-addr"),
]
INIT = Command("swarm init", "swarm init [OPTIONS]", "Initialize a swarm", _init, [
    *ADDRESS_FLAGS, *SPEC_FLAGS,
    Flag("data-path-port", "", "int", help="Port number to use for data path traffic (1024 - 49151). If no value "
                                           "is set or is set to 0, the default port (4789) is used.", metavar="uint32"),
    Flag("default-addr-pool", "", "list", help="default address pool in CIDR format", metavar="ipNetSlice"),
    Flag("default-addr-pool-mask-length", "", "int", 24, help="default address pool subnet mask length",
         metavar="uint32"),
    Flag("force-new-cluster", "", help="Force create a new cluster from current state"),
], max_args=0)
JOIN = Command("swarm join", "swarm join [OPTIONS] HOST:PORT", "Join a swarm as a node and/or manager", _join, [
    *ADDRESS_FLAGS, Flag("token", "", "string", help="Token for entry into the swarm"),
], min_args=1, max_args=1)
JOIN_TOKEN = Command("swarm join-token", "swarm join-token [OPTIONS] (worker|manager)", "Manage join tokens",
                     _join_token, [Flag("quiet", "q", help="Only display token"),
                                   Flag("rotate", "", help="Rotate join token")], min_args=1, max_args=1)
LEAVE = Command("swarm leave", "swarm leave [OPTIONS]", "Leave the swarm (workers only)", _leave, [
    Flag("force", "f", help="Force this node to leave the swarm, ignoring warnings"),
], max_args=0)
UPDATE = Command("swarm update", "swarm update [OPTIONS]", "Update the swarm", _update, SPEC_FLAGS, max_args=0)
UNLOCK = Command("swarm unlock", "swarm unlock", "Unlock swarm", _unlock, [], max_args=0)
CA = Command("swarm ca", "swarm ca [OPTIONS]", "Display and rotate the root CA", _ca, [
    Flag("ca-cert", "", "string", help="Path to the PEM-formatted root CA certificate to use for the new cluster",
         metavar="pem-file"),
    Flag("ca-key", "", "string", help="Path to the PEM-formatted root CA key to use for the new cluster",
         metavar="pem-file"),
    Flag("cert-expiry", "", "string", help="Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)",
         metavar="duration"),
    Flag("detach", "d", help="Exit immediately instead of waiting for the root rotation to converge"),
    Flag("external-ca", "", "string", help="Specifications of one or more certificate signing endpoints",
         metavar="external-ca"),
    Flag("quiet", "q", help="Suppress progress output"),
    Flag("rotate", "", help="Rotate the swarm CA - if no certificate or key are provided, new ones will be generated"),
], max_args=0)
UNLOCK_KEY = Command("swarm unlock-key", "swarm unlock-key [OPTIONS]", "Manage the unlock key", _unlock_key, [
    Flag("quiet", "q", help="Only display token"), Flag("rotate", "", help="Rotate unlock key"),
], max_args=0)
