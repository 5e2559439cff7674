"""ClusterService: this node's swarm life (init, join as a worker, leave, unlock, restore after a daemon restart),
the swarm listener of a manager, the cluster object (`/swarm`), and the `Swarm` section of `/info`. Nodes, secrets
and configs live in their own modules and reach the store through `manager()`, which refuses with dockerd's texts
unless this node is an unlocked manager."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
import os
import secrets
import shutil
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from dockyard.cluster import addresses, rpcwire, spec as shapes
from dockyard.cluster.agent.remote import RemoteSession
from dockyard.cluster.ca import rotation
from dockyard.cluster.ca.authority import ClusterCA
from dockyard.cluster.ca.nodecert import NodeCerts, issue, min_expiry_ns, new_key_and_csr
from dockyard.cluster.ca.keys import KeyFile, human_unlock_key, new_key, parse_unlock_key, seal, unseal
from dockyard.cluster.ca.renewal import NodeTLS
from dockyard.cluster.ca.root import INVALID, RootCA
from dockyard.cluster.ca.tokens import SECRET_BYTES, base36, new_token, parse_token
from dockyard.cluster.etcd.member import EtcdMember, EtcdMissing, MemberConfig, etcd_binary
from dockyard.cluster.events import EventPublisher, publish_changes
from dockyard.cluster.manager.leader import Leadership
from dockyard.cluster.store.backend import Record
from dockyard.cluster.store.etcd import EtcdStore
from dockyard.errors import (Conflict, DockyardError, InvalidParameter, NotImplementedYet, SystemError_,
                             Unavailable)
from dockyard.util.aio import cancel_and_wait, run_blocking, wait_within
from dockyard.util.atomic import write_atomic
from dockyard.util.humanize import go_duration
from dockyard.util.tls import client_context
from dockyard.util.timeutil import now_rfc3339

log = logging.getLogger(__name__)

ERR_NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
                   'node to swarm and try again.')
ERR_NO_SWARM = "This node is not part of a swarm"
ERR_EXISTS = ('This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another '
              'one.')
ERR_LOCKED = ('Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" '
              'to unlock it.')
ERR_LEAVE_LOCKED = "Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message."
ERR_LEAVE_LAST_MANAGER = ("You are attempting to leave the swarm on a node that is participating as a manager. "
                          "Removing the last manager erases all current state of the swarm. Use `--force` to ignore "
                          "this message. ")
ERR_NOT_LOCKED = "swarm is not locked"
ERR_SPEC_NAME = 'swarm spec must be named "default"'
ERR_WORKER = ("This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please "
              "run this command on a manager node or promote the current node to a manager.")
ERR_JOIN_TIMEOUT = ('Timeout was reached before node joined. The attempt to join the swarm will continue in the '
                    'background. Use the "docker info" command to see the current swarm status of your node.')
ERR_NO_REMOTE = "at least 1 RemoteAddr is required to join"
JOIN_TIMEOUT = 20.0  # dockerd's swarmConnectTimeout

CLUSTER = "cluster"
NODES = "nodes"
DATA_PATH_ADDR = "DataPathAddr"  # a node's VXLAN endpoint when given apart from its advertise address (not shown)
LEADER_TIMEOUT = 10.0
DEFAULT_SPEC: dict[str, Any] = {
    "Name": "default", "Labels": {},
    "Orchestration": {"TaskHistoryRetentionLimit": 5},
    "Raft": {"SnapshotInterval": 10000, "KeepOldSnapshots": 0, "LogEntriesForSlowFollowers": 500,
             "ElectionTick": 10, "HeartbeatTick": 1},
    "Dispatcher": {"HeartbeatPeriod": 5_000_000_000},
    "CAConfig": {"NodeCertExpiry": 7_776_000_000_000_000},
    "TaskDefaults": {},
    "EncryptionConfig": {"AutoLockManagers": False},
}
DEFAULT_ADDR_POOL = ["10.0.0.0/8"]
DEFAULT_SUBNET_SIZE = 24
DEFAULT_DATA_PATH_PORT = 4789


def new_id() -> str:
    """swarmkit's identity.NewID: 128 random bits in base 36, 25 characters."""
    return base36(int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big"), 25)


class SwarmWorker(Protocol):
    """Work that runs while this node is an active manager (the control loops, dispatcher and agent)."""

    def start(self, store: EtcdStore, leadership: Leadership, node_id: str) -> None:
        """Begin, once the store and the leadership campaign run."""

    async def stop(self) -> None:
        """Stop (the daemon stops, or the swarm locks); task containers keep running."""

    def start_remote(self, node_id: str, source: RemoteSession) -> None:
        """Begin on a worker: the agent follows the node's session with a manager."""

    async def erase(self) -> None:
        """This node leaves the swarm: stop and remove what the work made."""


class SwarmListener(Protocol):
    """The swarm listener (`ListenAddr`) serving the cluster API over mutual TLS, handed in by `daemon/`."""

    async def open(self, address: str, context: ssl.SSLContext) -> None:
        """Listen on "ip:port" with the node's TLS context."""

    async def close(self) -> None:
        """Stop listening."""


@dataclass
class LocalNode:
    """What this node remembers of its swarm membership (`<swarm-dir>/state.json`)."""

    node_id: str
    cluster_id: str
    advertise_addr: str
    listen_addr: str
    data_path_addr: str
    role: str = "manager"
    managers: list[dict[str, str]] = field(default_factory=list)  # a worker's [{NodeID, Addr}]

    @classmethod
    def load(cls, path: Path) -> LocalNode | None:
        """The saved membership, if any."""
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None

    def save(self, path: Path) -> None:
        """Persist the membership."""
        write_atomic(path, json.dumps(self.__dict__).encode(), mode=0o600)


class ClusterService:
    """The swarm as seen from this daemon."""

    def __init__(self, data_root: Path, exec_root: Path, describe_node: Callable[[], dict[str, Any]],
                 events: EventPublisher | None = None) -> None:
        self.swarm_dir = data_root / "swarm"
        self.run_dir = exec_root / "swarm"
        self.describe_node = describe_node
        self.events = events
        self._event_task: asyncio.Task[None] | None = None
        self.member = EtcdMember(self.swarm_dir, self.run_dir)
        self.keyfile = KeyFile(self.swarm_dir / "keys.json")
        self.certs = NodeCerts(self.swarm_dir / "certificates")
        self.listener: SwarmListener | None = None
        self.remote: RemoteSession | None = None  # a worker's session with its managers
        self.local: LocalNode | None = None
        self.store: EtcdStore | None = None
        self.leadership: Leadership | None = None
        self.keys: dict[str, str] | None = None  # DEK and CA key(s), once unlocked
        self.tls: NodeTLS | None = None  # this node's certificate as it is renewed
        self.ca: ClusterCA | None = None  # a manager's certificate authority
        self._ca_task: asyncio.Task[None] | None = None  # a manager's CA loop, a worker's certificate renewal
        self.workers: list[SwarmWorker] = []
        self.error = ""  # why a swarm this node is in could not be restored
        self._supervisor: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def state_path(self) -> Path:
        """Where the membership is saved."""
        return self.swarm_dir / "state.json"

    # --- life cycle -------------------------------------------------------------------------------------------

    async def restore(self) -> None:
        """At daemon start: re-adopt (or restart) the etcd member of a swarm this node is in; stay locked when the
        keys are sealed."""
        self.local = LocalNode.load(self.state_path)
        if self.local is None:
            if self.member.adopt() or self.swarm_dir.exists():  # a daemon killed in the middle of `swarm init`
                log.warning("removing the remains of a swarm init that never completed")
                await self._erase()
            return
        if self.local.role == "worker":
            self._start_worker()
            return
        try:
            await self._start_member(MemberConfig(self.local.node_id, new_cluster=not self.member.has_data()))
            if self.keyfile.locked():
                log.info("swarm is autolocked: manager functions wait for `swarm unlock`")
                return
            await self._resume(self.keyfile.read())
        except DockyardError as exc:  # the daemon serves anyway; /info says why the swarm is not there
            log.error("swarm could not be restored: %s", exc.message)
            self.error = exc.message

    async def shutdown(self) -> None:
        """At daemon stop: stop following the store; the etcd member keeps running (re-adopted at the next start)."""
        await self._deactivate()
        await self._stop_supervising()

    async def _start_member(self, config: MemberConfig) -> None:
        """Start (or adopt) the member, and restart it whenever it exits while this daemon runs."""
        await self.member.start(config)
        self._supervisor = asyncio.create_task(self.member.supervise(config), name="etcd-member-supervisor")

    async def _stop_supervising(self) -> None:
        """Stop restarting the member."""
        if self._supervisor is not None:
            await cancel_and_wait(self._supervisor)
            self._supervisor = None

    async def _activate(self, keys: dict[str, str]) -> None:
        """Start the store and the leadership with unlocked keys."""
        assert self.local is not None
        self.keys = keys
        self.store = EtcdStore(self.member.client())
        await self.store.start()
        if self.events is not None:
            self._event_task = asyncio.create_task(publish_changes(self.store, self.events), name="swarm-events")
        self.leadership = Leadership(self.store, {"NodeID": self.local.node_id,
                                                  "Addr": self.local.advertise_addr})
        self.leadership.start()
        for worker in self.workers:
            worker.start(self.store, self.leadership, self.local.node_id)

    async def _listen(self) -> None:
        """Open the swarm listener on ListenAddr (dockerd's text when the address is taken)."""
        assert self.local is not None
        if self.listener is None:
            return
        if self.tls is None:
            self.tls = NodeTLS(self.certs)
        try:
            await self.listener.open(self.local.listen_addr, self.tls.server_context())
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise SystemError_(f"listen tcp {self.local.listen_addr}: bind: {reason}") from exc

    async def _resume(self, keys: dict[str, str]) -> None:
        """Activate a swarm this node was already in (daemon start, unlock); a listener that cannot open is logged
        and shown in /info's Error, the rest runs."""
        await self._activate(keys)
        try:
            await self._listen()
        except DockyardError as exc:
            log.error("swarm listener: %s", exc.message)
            self.error = exc.message
        self._start_ca()

    def _start_ca(self) -> None:
        """A manager's certificate authority: its own certificate renewed, root rotations carried through."""
        assert self.store is not None and self.keys is not None and self.local is not None
        leadership = self.leadership
        if self.tls is None:
            self.tls = NodeTLS(self.certs)
        self.ca = ClusterCA(self.store, lambda: leadership.fence if leadership is not None else None, self.keys,
                            lambda keys: self.keyfile.write(keys, self._unlock_bytes(self.cluster_record())))
        self._ca_task = asyncio.create_task(self.ca.run(self.tls, self.local.node_id), name="swarm-ca")

    def _start_worker(self) -> None:
        """A worker's agent, on its session with the managers it knows (its stored certificate proves who it is)."""
        assert self.local is not None
        self.tls = NodeTLS(self.certs)
        self.remote = RemoteSession(self.tls, [m["Addr"] for m in self.local.managers],
                                    self.describe_node, self.local.advertise_addr.rpartition(":")[0])
        for worker in self.workers:
            worker.start_remote(self.local.node_id, self.remote)
        self._ca_task = asyncio.create_task(self.tls.run(self.remote.renew), name="swarm-cert-renewal")

    async def _deactivate(self) -> None:
        """Stop the work (remote sessions end), the certificates' renewal, the listener, the events, the leadership
        and the store."""
        for worker in self.workers:
            await worker.stop()
        if self._ca_task is not None:
            await cancel_and_wait(self._ca_task)
            self._ca_task = None
        if self.listener is not None:
            await self.listener.close()
        self.remote = None
        self.ca = self.tls = None
        if self._event_task is not None:
            await cancel_and_wait(self._event_task)
            self._event_task = None
        if self.leadership is not None:
            await self.leadership.stop()
            self.leadership = None
        if self.store is not None:
            await self.store.stop()
            self.store = None
        self.keys = None

    def local_state(self) -> str:
        """LocalNodeState: inactive, active, locked, or error (the member could not be started)."""
        if self.local is None:
            return "inactive"
        if self.store is not None or self.remote is not None:
            return "active"
        return "error" if self.error else "locked"

    def manager(self) -> EtcdStore:
        """The store, for manager-only work; dockerd's 503 texts when this node is not an unlocked manager."""
        if self.store is None:
            if self.local is not None and self.local.role == "worker":
                raise Unavailable(ERR_WORKER)
            raise Unavailable(ERR_LOCKED if self.local_state() == "locked" else ERR_NOT_MANAGER)
        return self.store

    def dek(self) -> bytes:
        """The cluster data key (secrets at rest)."""
        self.manager()
        assert self.keys is not None
        return bytes.fromhex(self.keys["dek"])

    @property
    def node_id(self) -> str:
        """This node's id (in a swarm)."""
        assert self.local is not None
        return self.local.node_id

    # --- init / join / leave / unlock -------------------------------------------------------------------------

    async def init(self, body: dict[str, Any]) -> str:
        """POST /swarm/init: a new single-manager swarm; the node id."""
        async with self._lock:
            if self.local is not None:
                raise Unavailable(ERR_EXISTS)
            listen = addresses.validate_listen(body.get("ListenAddr"))
            sent = shapes.render(shapes.SWARM_SPEC, body.get("Spec"), "swarm.Spec")
            if sent.get("Name", "default") != "default":
                raise InvalidParameter(ERR_SPEC_NAME)
            listen_ip, listen_port = addresses.resolve_listen(listen)
            advertise_ip, advertise_port = await run_blocking(  # netlink (pyroute2) wants a thread of its own
                addresses.resolve_advertise, body.get("AdvertiseAddr"), listen_port)
            data_path = addresses.resolve_data_path(body.get("DataPathAddr"))
            pool, subnet_size, data_port = _address_pool(body)
            availability = body.get("Availability") or "active"
            if availability not in ("active", "pause", "drain"):
                raise InvalidParameter(f'invalid Availability: "{availability}"')
            if body.get("ForceNewCluster"):
                raise Unavailable(ERR_NOT_MANAGER)
            if etcd_binary() is None:
                raise EtcdMissing()
            spec = merge_spec(DEFAULT_SPEC, sent)
            if body.get("AutoLockManagers"):
                spec["EncryptionConfig"]["AutoLockManagers"] = True
            local = LocalNode(new_id(), new_id(), f"{advertise_ip}:{advertise_port}", f"{listen_ip}:{listen_port}",
                              data_path)
            try:
                await self._create(local, spec, pool, subnet_size, data_port, availability)
            except BaseException:
                await self._erase()
                raise
            return local.node_id

    async def _create(self, local: LocalNode, spec: dict[str, Any], pool: list[str], subnet_size: int,
                      data_port: int, availability: str) -> None:
        """Start the member, write the keys, the cluster and the node, and take the leadership."""
        self.swarm_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        await self._start_member(MemberConfig(local.node_id, heartbeat_tick=spec["Raft"]["HeartbeatTick"],
                                              election_tick=spec["Raft"]["ElectionTick"],
                                              snapshot_count=spec["Raft"]["SnapshotInterval"]))
        root = RootCA.create()
        keys = {"dek": new_key().hex(), "ca_key": root.key_pem}
        unlock = new_key() if spec["EncryptionConfig"]["AutoLockManagers"] else None
        self.keyfile.write(keys, unlock)
        key, csr = new_key_and_csr()
        self.certs.save(key, issue(root, csr, local.node_id, "manager", local.cluster_id,
                                   local.advertise_addr.rpartition(":")[0], spec["CAConfig"]["NodeCertExpiry"]),
                        root.cert_pem)
        self.local = local
        await self._listen()  # before anything runs on the store: a taken address stops init at once
        await self._activate(keys)
        store = self.manager()
        assert self.leadership is not None
        fence = await self.leadership.wait_leading(LEADER_TIMEOUT)
        now = now_rfc3339()
        digest = root.digest()
        cluster = {"CreatedAt": now, "UpdatedAt": now, "Spec": spec, "CACert": root.cert_pem,
                   "DefaultAddrPool": pool, "SubnetSize": subnet_size, "DataPathPort": data_port,
                   "JoinTokens": {"Worker": new_token(digest), "Manager": new_token(digest)},
                   "UnlockKey": seal(self.dek(), unlock, local.cluster_id) if unlock else None}
        await store.create(CLUSTER, local.cluster_id, cluster, name="default", fence=fence)
        node_spec = {"Labels": {}, "Role": "manager", "Availability": availability}
        description = {**self.describe_node(), "TLSInfo": root.tls_info()}
        node = {"CreatedAt": now, "UpdatedAt": now, "Spec": node_spec, "Description": description,
                "Status": {"State": "ready", "Addr": local.advertise_addr.rpartition(":")[0]},
                "ManagerStatus": {"Reachability": "reachable", "Addr": local.advertise_addr},
                DATA_PATH_ADDR: local.data_path_addr}
        await store.create(NODES, local.node_id, node, fence=fence)
        local.save(self.state_path)
        self._start_ca()

    async def join(self, body: dict[str, Any]) -> None:
        """POST /swarm/join as a worker: fetch the root CA from a manager and check it against the token's digest,
        ask for a node certificate over TLS verified with that CA, store the node's files, and return once the node
        holds a live session (dockerd's timeout text after JOIN_TIMEOUT; the session goes on trying)."""
        async with self._lock:
            if self.local is not None:
                raise Unavailable(ERR_EXISTS)
            listen_ip, listen_port = addresses.resolve_listen(addresses.validate_listen(body.get("ListenAddr")))
            remotes = [a if addresses.split_host_port(a) else f"{a}:{addresses.DEFAULT_PORT}"
                       for a in body.get("RemoteAddrs") or []]
            if not remotes:
                raise InvalidParameter(ERR_NO_REMOTE)
            token = str(body.get("JoinToken") or "")
            digest, _ = parse_token(token)
            answer = await rpcwire.Peer(remotes[0], client_context(verify=False)).call("GET", rpcwire.CA)
            ca_pem = str(answer.get("Certificate") or "")
            if hashlib.sha256(ca_pem.encode()).hexdigest() != digest:
                raise InvalidParameter(f"remote CA does not match fingerprint. Expected: {digest}")
            if body.get("AdvertiseAddr"):
                advertise_ip, _ = await run_blocking(addresses.resolve_advertise, body["AdvertiseAddr"], listen_port)
            else:
                advertise_ip = _source_address(remotes[0])
            data_path = addresses.resolve_data_path(body.get("DataPathAddr"))
            key, csr = new_key_and_csr()
            joined = await rpcwire.Peer(remotes[0], client_context(ca_pem.encode())).call("POST", rpcwire.JOIN, {
                "Token": token, "CSR": csr, "Availability": body.get("Availability") or "active",
                "Description": self.describe_node(), "Addr": advertise_ip, DATA_PATH_ADDR: data_path})
            self.swarm_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.certs.save(key, joined["Certificate"], joined["CACert"])
            local = LocalNode(joined["NodeID"], self.certs.identity().cluster_id, f"{advertise_ip}:{listen_port}",
                              f"{listen_ip}:{listen_port}", data_path, "worker", list(joined["Managers"]))
            local.save(self.state_path)
            self.local = local
            self._start_worker()
            assert self.remote is not None
            try:
                await wait_within(self.remote.connected.wait(), JOIN_TIMEOUT)
            except asyncio.TimeoutError:
                raise Unavailable(ERR_JOIN_TIMEOUT) from None

    async def leave(self, force: bool) -> None:
        """POST /swarm/leave: the last manager leaves only with force; erases the member, its data and every swarm
        artefact of this node."""
        async with self._lock:
            state = self.local_state()
            if state == "inactive":
                raise Unavailable(ERR_NO_SWARM)
            if state == "locked" and not force:
                raise Unavailable(ERR_LEAVE_LOCKED)
            assert self.local is not None
            if not force and self.local.role == "manager":
                raise Unavailable(ERR_LEAVE_LAST_MANAGER)
            await self._erase()

    async def _erase(self) -> None:
        """Stop everything of the swarm on this node and delete its files (the member and the files go even when
        stopping what runs on the store failed: a leave must not leave an etcd behind)."""
        try:
            for worker in self.workers:
                await worker.erase()
            await self._deactivate()
        finally:
            await self._stop_supervising()
            await self.member.destroy()
            self.local = None
            self.error = ""
            for path in (self.swarm_dir, self.run_dir):
                if path.exists():
                    shutil.rmtree(path)

    async def unlock(self, body: dict[str, Any]) -> None:
        """POST /swarm/unlock."""
        async with self._lock:
            state = self.local_state()
            if state == "active":
                raise Conflict(ERR_NOT_LOCKED)
            if state != "locked":
                raise Unavailable(ERR_NOT_MANAGER)
            key = parse_unlock_key(str(body.get("UnlockKey") or ""))
            await self._resume(self.keyfile.read(key))

    # --- the cluster object -----------------------------------------------------------------------------------

    def cluster_record(self) -> Record:
        """The cluster record."""
        store = self.manager()
        record = store.find(CLUSTER, "default")
        if record is None:
            raise Unavailable(ERR_NOT_MANAGER)
        return record

    def cluster_info(self) -> dict[str, Any]:
        """ClusterInfo as dockerd renders it."""
        record = self.cluster_record()
        value = record.value
        return {"ID": record.id, "Version": {"Index": record.version}, "CreatedAt": value["CreatedAt"],
                "UpdatedAt": value["UpdatedAt"],
                "Spec": shapes.with_labels(shapes.render(shapes.SWARM_SPEC, value["Spec"])),
                "TLSInfo": rotation.cluster_tls_info(value), "RootRotationInProgress": bool(value.get("RootRotation")),
                "DefaultAddrPool": value["DefaultAddrPool"], "SubnetSize": value["SubnetSize"],
                "DataPathPort": value["DataPathPort"]}

    def inspect(self) -> dict[str, Any]:
        """GET /swarm."""
        return {**self.cluster_info(), "JoinTokens": dict(self.cluster_record().value["JoinTokens"])}

    async def update(self, version: int, body: Any, rotate_worker: bool, rotate_manager: bool,
                     rotate_unlock: bool) -> None:
        """POST /swarm/update: the sent spec merged into the current one (moby's MergeSwarmSpecToGRPC), join
        tokens and the unlock key rotated on request, a root CA rotation begun when `CAConfig` asks for one (the
        signing certificate and key are never stored in the spec), the key file re-sealed when it changes."""
        async with self._lock:
            record = self.cluster_record()
            store = self.manager()
            sent = shapes.render(shapes.SWARM_SPEC, body, "swarm.Spec")
            if sent.get("Name", "default") != "default":
                raise InvalidParameter(ERR_SPEC_NAME)
            ca_config = sent.get("CAConfig", {})
            _check_ca_config(ca_config)
            assert self.keys is not None
            value, keys = rotation.plan(dict(record.value), dict(self.keys), ca_config)  # copies: changed below
            sent["CAConfig"] = {k: v for k, v in ca_config.items() if k not in ("SigningCACert", "SigningCAKey")}
            value["Spec"] = merge_spec(value["Spec"], sent)
            tokens = dict(value["JoinTokens"])
            digest = RootCA(value["CACert"], "").digest()
            if rotate_worker:
                tokens["Worker"] = new_token(digest)
            if rotate_manager:
                tokens["Manager"] = new_token(digest)
            value["JoinTokens"] = tokens
            unlock = self._unlock_bytes(record)
            if keys != self.keys:  # a new root's key is on disk before the cluster object names it
                self.keyfile.write({**self.keys, **keys}, unlock)
            if not value["Spec"]["EncryptionConfig"]["AutoLockManagers"]:
                unlock = None
            elif unlock is None or rotate_unlock:
                unlock = new_key()
            value["UnlockKey"] = seal(self.dek(), unlock, record.id) if unlock else None
            value["UpdatedAt"] = now_rfc3339()
            await store.update(CLUSTER, record.id, value, version=version, name="default")
            self.keys.clear()
            self.keys.update(keys)
            self.keyfile.write(self.keys, unlock)

    def _unlock_bytes(self, record: Record) -> bytes | None:
        """The current unlock key (sealed with the DEK in the cluster object)."""
        sealed = record.value.get("UnlockKey")
        return unseal(self.dek(), sealed, record.id) if sealed else None

    def unlock_key(self) -> dict[str, str]:
        """GET /swarm/unlockkey: "" when autolock is off."""
        unlock = self._unlock_bytes(self.cluster_record())
        return {"UnlockKey": human_unlock_key(unlock) if unlock else ""}

    # --- /info ------------------------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The `Swarm` section of /info."""
        state = self.local_state()
        if self.local is None:
            return {"NodeID": "", "NodeAddr": "", "LocalNodeState": state, "ControlAvailable": False,
                    "Error": "", "RemoteManagers": None}
        section: dict[str, Any] = {"NodeID": self.local.node_id,
                                   "NodeAddr": self.local.advertise_addr.rpartition(":")[0],
                                   "LocalNodeState": state, "ControlAvailable": False, "Error": self.error,
                                   "RemoteManagers": None}
        if self.local.role == "worker":
            section["RemoteManagers"] = [dict(m) for m in self.local.managers]
        if self.store is None:
            return section
        nodes = self.store.list(NODES)
        managers = [n for n in nodes if n.value["Spec"].get("Role") == "manager"]
        section.update({"ControlAvailable": True,
                        "RemoteManagers": [{"NodeID": n.id, "Addr": n.value["ManagerStatus"]["Addr"]}
                                           for n in managers],
                        "Nodes": len(nodes), "Managers": len(managers), "Cluster": self.cluster_info()})
        return section


def _check_ca_config(ca: dict[str, Any]) -> None:
    """swarmkit's validateClusterSpec for CAConfig: NodeCertExpiry at least the minimum; external CAs are not built
    (refused, never stored as if used)."""
    expiry = ca.get("NodeCertExpiry") or 0
    if expiry and expiry < min_expiry_ns():
        raise InvalidParameter(f"{INVALID}minimum certificate expiry time is: {go_duration(min_expiry_ns())}")
    if ca.get("ExternalCAs"):
        raise NotImplementedYet("external CAs are not supported yet: the swarm signs node certificates itself")


def merge_spec(current: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """moby's MergeSwarmSpecToGRPC: non-zero fields of the sent spec replace the current ones; ForceRotate and
    AutoLockManagers are always taken from the sent spec."""
    merged = json.loads(json.dumps(current))
    if sent.get("Name"):
        merged["Name"] = sent["Name"]
    if sent.get("Labels"):
        merged["Labels"] = sent["Labels"]
    for section in ("Orchestration", "Raft", "Dispatcher", "CAConfig", "TaskDefaults"):
        for key, value in sent.get(section, {}).items():
            if value is not None and value != 0 or key in ("KeepOldSnapshots", "TaskHistoryRetentionLimit"):
                merged.setdefault(section, {})[key] = value
    merged.setdefault("CAConfig", {})["ForceRotate"] = sent.get("CAConfig", {}).get("ForceRotate", 0)
    if not merged["CAConfig"]["ForceRotate"]:
        del merged["CAConfig"]["ForceRotate"]
    merged["EncryptionConfig"] = {"AutoLockManagers": bool(sent.get("EncryptionConfig", {})
                                                           .get("AutoLockManagers"))}
    return merged


def _address_pool(body: dict[str, Any]) -> tuple[list[str], int, int]:
    """DefaultAddrPool, SubnetSize and DataPathPort of an init request, with dockerd's defaults and checks."""
    pool = body.get("DefaultAddrPool") or DEFAULT_ADDR_POOL
    size = body.get("SubnetSize") or DEFAULT_SUBNET_SIZE
    port = body.get("DataPathPort") or DEFAULT_DATA_PATH_PORT
    if not isinstance(size, int) or not 0 < size <= 29:
        raise InvalidParameter(f"subnet size is out of range: {size}")
    for prefix in pool:
        try:
            network = ipaddress.ip_network(prefix, strict=False)
        except (ValueError, TypeError) as exc:
            raise InvalidParameter(f"invalid CIDR: {prefix!r}") from exc
        if network.prefixlen > size:
            raise InvalidParameter(f"invalid CIDR: {prefix!r}. Subnet size is too small for pool: {size}")
    if not isinstance(port, int) or not 1024 <= port <= 49151:
        raise InvalidParameter(f"Datapath port number is not in valid range (1024-49151) : {port}")
    return list(pool), size, port


def _source_address(remote: str) -> str:
    """dockerd's advertise address when a joining node is given none: the local address it reaches the manager
    from."""
    host, _, port = remote.rpartition(":")
    probe = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((host.strip("[]"), int(port)))  # UDP: no packet is sent, the kernel only picks a route
        return str(probe.getsockname()[0])
    except OSError as exc:
        raise InvalidParameter(f"could not find a local address to reach {remote}: {exc.strerror}") from exc
    finally:
        probe.close()
