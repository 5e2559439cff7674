"""The container service: create, start, stop, kill, pause, wait, remove, rename, list, inspect."""

from __future__ import annotations

import asyncio
import builtins
import functools
import json
import logging
import os
import secrets
import signal as signals
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dockyard.containers import hostdefaults, record
from dockyard.containers.config import command_of, merge_with_image, validate_config, validate_host_config
from dockyard.containers.filters import matches
from dockyard.containers.health import HealthMonitor
from dockyard.containers.host_features import discard_unsupported
from dockyard.containers.launcher import CGROUP_PARENT, Launch, Launcher, container_env
from dockyard.containers.links import Links, drop_hosts_entries, link_names, shown, without
from dockyard.containers.logdrivers import keeps_logs
from dockyard.containers.mounts import MountManager
from dockyard.containers.networking import ContainerNetworking, container_ref
from dockyard.containers.protocols import (ContainerSnapshots, EventPublisher, ImageLookup, NetworkAttachment, Shim,
                                           ShimFactory, VolumeMounts)
from dockyard.containers.record import ContainerRecord
from dockyard.containers.restart import RestartSupervisor, clear_restarting
from dockyard.containers.steps import ThrowawayRunner
from dockyard.containers.store import ContainerStore
from dockyard.containers.top import ps_table
from dockyard.containers.update import apply_update, changes_of, drop_unsupported
from dockyard.containers.userns_ids import UsernsAllocator
from dockyard.containers.views import inspect_view, summary
from dockyard.errors import Conflict, DockyardError, InvalidParameter, NotFound, NotModified, RuntimeFailure
from dockyard.runtime.cgroup_spare import SPARE_PREFIX, SpareCgroup
from dockyard.runtime.cgroups import is_cgroup2, open_cgroup, remove_idle_children
from dockyard.runtime.probe import run_probe
from dockyard.util.aio import run_blocking, wait_within
from dockyard.util.fsutil import remove_tree
from dockyard.util.filters import check_keys
from dockyard.util.names import random_name, validate_name

log = logging.getLogger(__name__)

DEFAULT_STOP_TIMEOUT = 10
KILL_WAIT = 10.0  # seconds `kill` waits for a SIGKILLed container's exit to be recorded
IDLE_CGROUP_AGE = 60.0  # an empty cgroup no container owns, older than this, is a leftover
LIST_FILTERS = ("id", "name", "label", "status", "exited", "ancestor", "before", "since", "health",
                "network", "volume", "publish", "expose", "is-task")


@dataclass
class Live:
    """What the daemon holds in memory for one container between restarts.

    `lock` orders every change of the container's process: start (by a user or a restart policy), the
    recording of an exit, update. `shim` is set exactly while a shim of the container runs, from the
    launch (or the adoption at restore) until its exit has been recorded; a start proceeds only without
    one, so at most one init ever runs per container."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shim: Shim | None = None
    monitor: asyncio.Task | None = None
    removing: bool = False  # a removal is under way: no start may begin
    exit_waiters: list[asyncio.Future] = field(default_factory=list)
    remove_waiters: list[asyncio.Future] = field(default_factory=list)
    exits: int = 0  # how many times the container has exited since the daemon started


class ContainerService:
    """Owns container records and their lifecycle; talks to images, snapshots and the runtime."""

    def __init__(self, data_root: Path, exec_root: Path, store: ContainerStore, images: ImageLookup,
                 snapshots: ContainerSnapshots, events: EventPublisher, shim_factory: ShimFactory, *,
                 network: NetworkAttachment, volumes: VolumeMounts) -> None:
        self._containers_dir = data_root / "containers"
        self._bundles_dir = exec_root / "containers"
        self._store = store
        self._images = images
        self._snapshots = snapshots
        self._events = events
        self._shim_factory = shim_factory
        self._network = network
        self._networking = ContainerNetworking(network)
        self._mounts = MountManager(volumes)  # volumes, binds, tmpfs (dockyard.containers.mounts)
        self._live: dict[str, Live] = {}
        self._spare_cgroup = SpareCgroup(CGROUP_PARENT)
        self._background: set[asyncio.Task] = set()
        self._docs: dict[str, ContainerRecord] = {}  # the records: read and changed on the loop only
        # copies of the records as last saved, for worker threads: replaced (never changed) on the loop
        self._copies: dict[str, ContainerRecord] = {}
        userns = UsernsAllocator(data_root / "userns.json", lambda: set(self._copies))  # --userns=auto ids
        self._launcher = Launcher(shim_factory, self._mounts, userns, self._spare_cgroup, self._copy_of)
        self._throwaways = ThrowawayRunner(network, self._launcher, self._refill_spare_cgroup)
        self._restarts = RestartSupervisor(self._docs.get, self._save, self._start_by_policy,
                                           self._kill_for_policy, self._publish)
        self._health = HealthMonitor(self._save, self._publish, self._probe, self._restarts.restart_unhealthy)
        self._links = Links(self._copy_of, lambda: self._copies.values())

    # ----- lookups -------------------------------------------------------------------------------

    def _get(self, ref: str) -> ContainerRecord:
        container_id = self._store.find_id(ref)
        doc = self._docs.get(container_id)
        if doc is None:
            raise NotFound(f"No such container: {ref}")
        return doc

    def _copy_of(self, ref: str) -> ContainerRecord:
        """A container's record as last saved (a copy that nobody changes): for worker threads."""
        doc = self._copies.get(self._store.find_id(ref))
        if doc is None:
            raise NotFound(f"No such container: {ref}")
        return doc

    def _share(self, doc: ContainerRecord) -> ContainerRecord:
        """Refresh the copy worker threads see of a recorded container (on the loop); returns the copy."""
        snapshot = doc.copy()
        if doc.id in self._docs:
            self._copies = {**self._copies, doc.id: snapshot}
        return snapshot

    def _unshare(self, container_id: str) -> None:
        self._copies = {cid: d for cid, d in self._copies.items() if cid != container_id}

    def _live_of(self, container_id: str) -> Live:
        return self._live.setdefault(container_id, Live())

    def bundle(self, container_id: str) -> Path:
        return self._bundles_dir / container_id

    def container_dir(self, container_id: str) -> Path:
        return self._containers_dir / container_id

    def resolve_id(self, ref: str) -> str:
        """Full id of a container named by id, prefix or name (from any thread)."""
        return self._copy_of(ref).id

    def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        """GET /containers/{id}/json (from any thread: it reads the record as last saved)."""
        doc = self.record(ref)
        doc.host_config["Links"] = shown(doc, {d.id: d.name for d in self._copies.values()})
        return inspect_view(doc, self._sizes(doc) if size else None)

    def record(self, ref: str) -> ContainerRecord:
        """The container's record as last saved with its GraphDriver filled in: a copy (from any thread)."""
        doc = self._copy_of(ref).copy()
        doc.graph_driver = self._graph_driver(doc)
        return doc

    def _graph_driver(self, doc: ContainerRecord) -> dict[str, Any]:
        container_id = doc.id
        upper = self._snapshots.container_upper(container_id)
        image = self._images.resolve(doc.image)
        lowers = self._snapshots.lower_dirs(image.chain_id) if image.chain_id else []
        return {"Name": "overlay2", "Data": {
            "LowerDir": ":".join(str(p) for p in lowers),
            "MergedDir": str(self.bundle(container_id) / "rootfs"),
            "UpperDir": str(upper),
            "WorkDir": str(upper.parent / "work"),
        }}

    def _sizes(self, doc: ContainerRecord) -> tuple[int, int]:
        rw = self._snapshots.container_size(doc.id)
        try:
            base = self._images.inspect(doc.image).get("Size", 0)
        except NotFound:
            base = 0
        return rw, rw + base

    def counts(self) -> dict[str, int]:
        """Totals for /info (from any thread)."""
        states = [d.state for d in self._copies.values()]
        paused = sum(1 for s in states if s.paused)
        running = sum(1 for s in states if s.running) - paused
        return {"total": len(states), "running": running, "paused": paused,
                "stopped": len(states) - running - paused}

    def image_users(self, image_id: str) -> builtins.list[tuple[str, bool]]:
        """Containers created from an image, and whether each runs (for rmi's conflicts; from any thread)."""
        return [(d.id, d.state.running) for d in self._copies.values() if d.image == image_id]

    def list(self, all_: bool = False, limit: int = -1, size: bool = False,
             filters: dict[str, builtins.list[str]] | None = None) -> builtins.list[dict[str, Any]]:
        """GET /containers/json: newest first, docker's filters (from any thread)."""
        filters = filters or {}
        check_keys(filters, LIST_FILTERS)
        copies = self._copies
        docs = sorted(copies.values(), key=lambda d: d.created, reverse=True)
        if not all_ and limit <= 0 and not filters.get("status") and not filters.get("exited"):
            docs = [d for d in docs if d.state.running]
        docs = [d for d in docs if matches(d, filters, copies, self._store, self._images)]
        if limit > 0:
            docs = docs[:limit]
        linked = link_names(copies.values())
        return [summary(d, self._sizes(d) if size else None, linked.get(d.id, [])) for d in docs]

    # ----- events ---------------------------------------------------------------------------------

    def publish(self, ref: str, action: str, **extra: str) -> None:
        """Publish a container event with docker's attributes (image, name, labels) for an action done elsewhere
        (from any thread)."""
        self._publish(self._copy_of(ref), action, **extra)

    def _publish(self, doc: ContainerRecord, action: str, **extra: str) -> None:
        attributes = dict(doc.config.get("Labels") or {})
        attributes.update(image=doc.config.get("Image", ""), name=doc.name.lstrip("/"), **extra)
        self._events.publish("container", action, doc.id, attributes)

    # ----- create ---------------------------------------------------------------------------------

    async def create(self, body: Any, name: str | None) -> dict[str, Any]:
        """POST /containers/create: validate, merge with the image, record, prepare the writable layer."""
        config = validate_config(body)
        host = validate_host_config(config.pop("HostConfig", None))
        networks = self._network.plan(host, config.pop("NetworkingConfig", None), config)
        joined = self._joined(host)
        host["Links"] = self._links.register(host)
        image = await run_blocking(self._images.resolve, config["Image"])
        config = merge_with_image(config, image.config.get("config") or {})
        path, args = command_of(config)
        container_id = secrets.token_hex(32)
        config.setdefault("Hostname", "")
        if joined is not None:  # docker: the joined container's name, as its namespace and /etc files are shared
            config["Hostname"] = joined.config["Hostname"]
        elif not config["Hostname"]:
            # docker: a container on the host's network or UTS namespace has the host's name, others their short id
            on_host = "host" in (host["NetworkMode"], host.get("UTSMode"))
            config["Hostname"] = socket.gethostname() if on_host else container_id[:12]
        config.setdefault("Domainname", "")
        for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"):
            config.setdefault(key, False)
        warnings = discard_unsupported(host)
        host = hostdefaults.complete(host, cgroup2=is_cgroup2())
        container_dir = self.container_dir(container_id)
        doc = record.new_record(container_id, "", config, host, image.id, path, args, container_dir)
        doc.network_settings.networks = networks
        await run_blocking(self._prepare_dirs, container_id, image.chain_id)
        try:
            doc.mounts = await run_blocking(self._mounts.prepare, container_id, config, host, self._copy_of)
            await run_blocking(self._insert_named, doc, name)
        except BaseException:
            await run_blocking(self._mounts.release, container_id, doc.mounts, True)
            await run_blocking(self._remove_files, container_id)
            raise
        self._docs[container_id] = doc
        self._share(doc)
        self._live_of(container_id)
        self._publish(doc, "create")
        return {"Id": container_id, "Warnings": warnings}

    def _prepare_dirs(self, container_id: str, chain_id: str | None) -> None:
        container_dir = self.container_dir(container_id)
        container_dir.mkdir(parents=True, exist_ok=True)
        # the log exists from the start, so an attach made before `start` can follow it
        (container_dir / f"{container_id}-json.log").touch(mode=0o640)
        (self.bundle(container_id) / "rootfs").mkdir(parents=True, exist_ok=True)
        self._snapshots.prepare_container(container_id, chain_id)

    def _insert_named(self, doc: ContainerRecord, name: str | None) -> None:
        if name:
            doc.name = validate_name(name)
            self._store.insert(doc)
            return
        for attempt in range(10):
            doc.name = "/" + random_name(attempt)
            try:
                self._store.insert(doc)
                return
            except Conflict:
                continue
        raise Conflict("could not find a free random name")

    # ----- start ----------------------------------------------------------------------------------

    async def start(self, ref: str) -> None:
        """POST /containers/{id}/start: mount, write the bundle, launch the shim, watch for the exit."""
        doc = self._get(ref)
        await self._start_shielded(doc, by_policy=False)

    async def _start_by_policy(self, container_id: str) -> bool:
        """A restart policy's start: only of a container still `restarting`; False when there was nothing to do."""
        doc = self._docs.get(container_id)
        if doc is None:
            return False
        return await self._start_shielded(doc, by_policy=True)

    async def _start_shielded(self, doc: ContainerRecord, by_policy: bool) -> bool:
        """Run a start to its end even when the caller is cancelled: the launch goes on in its thread, and a
        container launched but not recorded would run unseen (and be started a second time)."""
        task = asyncio.ensure_future(self._start_locked(doc, by_policy))
        task.add_done_callback(_retrieve)
        return await asyncio.shield(task)

    async def _start_locked(self, doc: ContainerRecord, by_policy: bool) -> bool:
        live = self._live_of(doc.id)
        async with live.lock:
            state = doc.state
            if by_policy:
                # restarting -> running, once: a stop, a removal or another start that came first wins
                if not state.restarting or live.shim is not None or live.removing or doc.id not in self._docs:
                    return False
            else:
                if state.paused:
                    raise Conflict("cannot start a paused container, try unpause instead")
                if state.running or live.shim is not None:
                    raise NotModified("container already started")
                if state.status in ("removing", "dead") or live.removing:
                    raise Conflict("container is marked for removal and cannot be started")
                self._restarts.started_by_user(doc)
            failed: BaseException | None
            try:
                await self._networking.attach(doc)
                pid, shim = await run_blocking(self._launch, doc.copy(), self._launch_in(doc))
            except BaseException as error:
                await self._networking.release(doc)
                if by_policy:
                    clear_restarting(doc)  # docker: a restart that fails leaves the container stopped
                    doc.state.error = getattr(error, "message", None) or str(error)
                if isinstance(error, RuntimeFailure):
                    record.mark_start_failed(doc, error.exit_code, error.message)
                await self._save(doc)
                failed = error
            else:
                failed = None
                log.debug("container %s started (pid %d%s)", doc.id[:12], pid, ", by its policy" if by_policy else "")
                record.mark_running(doc, pid)
                live.shim = shim
                live.monitor = asyncio.create_task(self._monitor(doc.id, shim))
                await self._save(doc)
        if failed is not None:
            if isinstance(failed, Exception) and doc.host_config.get("AutoRemove"):  # dockerd: whatever failed
                await self.remove(doc.id)
            raise failed
        self._publish(doc, "start")
        self._refill_spare_cgroup()
        self._watch_health(doc)
        return True

    def _joined(self, host: dict[str, Any]) -> ContainerRecord | None:
        """The container whose network namespace NetworkMode container:<ref> joins (the mode rewritten to its
        full id, as dockerd shows it); a missing one is the request's fault (a 404 would make the CLI pull)."""
        mode = host.get("NetworkMode") or ""
        if not mode.startswith("container:"):
            return None
        try:
            joined = self._get(mode.partition(":")[2])
        except NotFound as missing:
            raise InvalidParameter(missing.message) from None
        host["NetworkMode"] = f"container:{joined.id}"
        return joined

    def _launch_in(self, doc: ContainerRecord) -> Launch:
        """Where and with what a recorded container launches (taken on the loop); a container in another's
        network namespace shares that one's /etc files."""
        container_id = doc.id
        mode = doc.host_config.get("NetworkMode") or ""
        etc_owner = mode.partition(":")[2] if mode.startswith("container:") else container_id
        kept = keeps_logs(doc.host_config.get("LogConfig"))
        linked = self._links.at_start(doc)
        return Launch(self.bundle(container_id), self.container_dir(etc_owner),
                      Path(doc.log_path) if kept else Path(os.devnull),
                      self._network.etc_plan(container_id),
                      functools.partial(container_env, doc.config, doc.config["Hostname"], linked=linked.env),
                      link_hosts=linked.hosts)

    def _launch(self, doc: ContainerRecord, where: Launch) -> tuple[int, Shim]:
        """Mount the container's rootfs and launch it (in a worker thread, from a copy of the record)."""
        container_id = doc.id
        rootfs = where.bundle / "rootfs"
        rootfs.mkdir(parents=True, exist_ok=True)
        previous = self._shim_factory(where.bundle)
        if previous.alive():  # never a second init next to a shim this daemon lost track of
            raise Conflict(f"container {container_id} already has a running shim")
        previous.wait_gone()  # a shim a killed daemon was launching or one closing down
        self._snapshots.unmount(rootfs)  # what a start cut short left: no shim runs, so nothing uses it
        self._snapshots.mount_container(container_id, rootfs)
        try:
            return self._launcher.launch(doc, where)
        except BaseException:
            self._mounts.stopped(doc)
            self._snapshots.unmount(rootfs)
            raise

    async def run_throwaway(self, container_id: str, bundle: Path, config: dict[str, Any],
                            host_config: dict[str, Any], mounts: builtins.list[dict[str, Any]],
                            output: Callable[[str], None]) -> int:
        """Run a container that is never recorded (a build's RUN step) through `docker run`'s launch path:
        `config` (Cmd, Env as it is, WorkingDir, User, Hostname) in `bundle` (its rootfs/ mounted); returns its
        exit code once it has ended."""
        return await self._throwaways.run(container_id, bundle, config, host_config, mounts, output)

    # ----- exits ----------------------------------------------------------------------------------

    async def _monitor(self, container_id: str, shim: Any) -> None:
        """Wait for the shim to report the exit, then record it (also after a daemon restart)."""
        status = await shim.wait()
        await self._handle_exit(container_id, shim, status.exit_code, status.finished_at, status.oom_killed,
                                status.error)

    async def _handle_exit(self, container_id: str, shim: Any, exit_code: int, finished_at: str, oom: bool,
                           error: str = "") -> None:
        """Record an exit under the container's lock: running (or paused) -> exited, or -> restarting when
        the policy says so, with nothing observable in between."""
        doc = self._docs.get(container_id)
        live = self._live.get(container_id)
        if doc is None or live is None:
            return
        async with live.lock:
            if live.shim is not shim:
                return  # recorded already
            try:
                await run_blocking(self._release, doc.copy(), shim)
            except Exception:  # the exit is recorded all the same: a stuck "running" would block stop and rm
                log.exception("cleaning up after container %s failed", container_id[:12])
            try:
                await self._networking.release(doc)
            except Exception:
                log.exception("releasing the network of container %s failed", container_id[:12])
            log.debug("container %s exited with %d", container_id[:12], exit_code)
            record.mark_exited(doc, exit_code, finished_at, oom, error)
            self._health.unwatch(container_id)
            restarting = self._restarts.after_exit(doc, exit_code)
            live.shim = None
            live.monitor = None
            live.exits += 1
            await self._save(doc)
            if oom:
                self._publish(doc, "oom")
            self._publish(doc, "die", exitCode=str(exit_code))
            for waiter in live.exit_waiters:
                if not waiter.done():
                    waiter.set_result(exit_code)
            live.exit_waiters.clear()
        if doc.host_config.get("AutoRemove") and not restarting and not live.removing:
            await self.remove(container_id, force=False, volumes=True)

    def _release(self, doc: ContainerRecord, shim: Shim | None) -> None:
        """After an exit (in a worker thread, from a copy of the record): volumes, rootfs and shim let go."""
        self._mounts.stopped(doc)
        self._snapshots.unmount(self.bundle(doc.id) / "rootfs")
        if shim is not None:
            shim.cleanup()

    async def restore(self) -> None:
        """After a daemon (re)start: load records, reconnect to live shims, settle the dead ones.

        A shim found listening is adopted (its container runs, whatever the record says). One still
        there but not listening was being launched by the daemon that died (it cannot report to it, so
        it ends) or is closing down: restore waits for it to go before settling the container, so no
        start can run next to it. Restart policies act once everything is settled."""
        docs = await run_blocking(lambda: list(self._store.all()))
        for doc in docs:
            self._docs[doc.id] = doc
            self._live_of(doc.id)
        self._copies = {cid: doc.copy() for cid, doc in self._docs.items()}
        await run_blocking(self._mounts.reconcile, [doc.copy() for doc in docs], set(self._docs))
        await self._release_unrecorded_sandboxes()
        idle = []
        for doc in docs:
            live = self._live_of(doc.id)
            shim = self._shim_factory(self.bundle(doc.id))
            if not await run_blocking(shim.alive):
                try:
                    await run_blocking(shim.wait_gone)
                except DockyardError as stuck:
                    log.error("%s", stuck.message)
            if await run_blocking(shim.alive):
                log.debug("restore: container %s runs (recorded %s): adopted", doc.id[:12], doc.state.status)
                live.shim = shim
                if not doc.state.running or doc.state.restarting:
                    # launched, but the daemon died before it recorded the start
                    record.mark_running(doc, await run_blocking(_adopted_pid, shim))
                    await self._save(doc)
                live.monitor = asyncio.create_task(self._monitor(doc.id, shim))
                self._watch_health(doc)
                continue
            log.debug("restore: container %s does not run (recorded %s)", doc.id[:12], doc.state.status)
            if not doc.state.running or doc.state.restarting:
                # a start or restart the daemon died in may have left the rootfs mounted or a cgroup
                await run_blocking(self._release, doc.copy(),
                                   shim if (self.bundle(doc.id) / "config.json").exists() else None)
                await self._networking.release(doc)
                idle.append(doc)
                continue
            live.shim = shim
            status = await shim.wait()
            await self._handle_exit(doc.id, shim, status.exit_code, status.finished_at, status.oom_killed,
                                    status.error)
        await run_blocking(self._sweep_orphans, set(self._docs))
        await run_blocking(self._spare_cgroup.sweep)
        await run_blocking(self._sweep_idle_cgroups)
        self._refill_spare_cgroup()
        await self._restarts.resume(idle)

    def _watch_health(self, doc: ContainerRecord) -> None:
        """Probe a started container's health (status `starting` from now on, as inspect shows)."""
        self._health.watch(doc)
        self._share(doc)

    async def _release_unrecorded_sandboxes(self) -> None:
        """Release network sandboxes no container record owns: throwaway containers (RUN steps) a crash cut off."""
        for sandbox_id in self._network.sandbox_ids():
            if sandbox_id not in self._docs:
                await self._network.release(sandbox_id)

    async def _save(self, doc: ContainerRecord) -> None:
        """Persist a record from a copy taken now, which worker threads see from here on."""
        await run_blocking(self._store.save, self._share(doc))

    async def _kill_for_policy(self, container_id: str) -> None:
        """SIGKILL from a policy (unhealthy): unlike `docker kill` it does not cancel restarts."""
        live = self._live_of(container_id)
        if live.shim is not None:
            await self._kill_exiting(self._docs[container_id], live)

    async def _probe(self, doc: ContainerRecord, argv: builtins.list[str], timeout: float) -> tuple[int, str]:
        """Run a healthcheck command inside the running container."""
        return await run_probe(self.bundle(doc.id), doc.state.pid, argv, timeout)

    def _refill_spare_cgroup(self) -> None:
        """Make the next start's cgroup in the background."""
        task = asyncio.get_running_loop().create_task(run_blocking(self._spare_cgroup.fill))
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("background work failed: %s", task.exception())

    async def shutdown(self) -> None:
        """Stop watching containers (they keep running: their shims own them)."""
        await asyncio.gather(*self._background, return_exceptions=True)
        await run_blocking(self._spare_cgroup.drain)
        await self._health.close()
        tasks = [live.monitor for live in self._live.values() if live.monitor]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await run_blocking(open_cgroup(CGROUP_PARENT).remove_if_unused)
        except OSError as busy:  # another daemon's container appeared under the parent meanwhile
            log.warning("cgroup %s kept: %s", CGROUP_PARENT, busy)

    # ----- wait -----------------------------------------------------------------------------------

    def register_wait(self, ref: str, condition: str) -> asyncio.Future:
        """Register a waiter now (before the response headers go out); the future gives the exit code."""
        if condition not in ("", "not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        doc = self._get(ref)
        live = self._live_of(doc.id)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        state = doc.state
        if condition == "removed":
            live.remove_waiters.append(future)
        elif condition == "next-exit" or state.running:
            live.exit_waiters.append(future)
        else:
            future.set_result(state.exit_code)
        return future

    def exit_count(self, container_id: str) -> int:
        """How often the container has exited; -1 once it is removed (attach streams end then)."""
        live = self._live.get(container_id)
        return live.exits if live is not None else -1

    async def update_host_config(self, ref: str, apply: Callable[[ContainerRecord], dict[str, Any]]) -> ContainerRecord:
        """docker update: under the container's lock, `apply(record)` (blocking) returns HostConfig changes to save."""
        doc = self._get(ref)
        async with self._live_of(doc.id).lock:
            changes = await run_blocking(apply, doc.copy())
            doc.host_config.update(changes)
            await self._save(doc)
        return doc

    def is_running(self, container_id: str) -> bool:
        """Whether the container runs (from any thread)."""
        doc = self._copies.get(container_id)
        return bool(doc and doc.state.running)

    # ----- signals --------------------------------------------------------------------------------

    async def kill(self, ref: str, signal: str | None = None) -> None:
        """POST /containers/{id}/kill. With SIGKILL it returns once the exit is recorded (as dockerd's does,
        bounded), so an inspect right after shows the container exited; a process that was exiting
        already counts as killed."""
        doc = self._get(ref)
        number = parse_signal(signal or "SIGKILL")
        live = self._live_of(doc.id)
        if number in (signals.SIGKILL, parse_signal(doc.config.get("StopSignal") or "SIGTERM")):
            await self._restarts.stopped_by_user(doc)
        if not doc.state.running or live.shim is None:
            raise Conflict(f"Cannot kill container: {ref}: Container {doc.id} is not running")
        if number != signals.SIGKILL:
            await self._signal(doc, live, number)
            return
        exited = self.register_wait(doc.id, "next-exit")
        await self._kill_exiting(doc, live)
        try:
            await wait_within(asyncio.shield(exited), KILL_WAIT)
        except asyncio.TimeoutError:
            log.warning("container %s: no exit recorded %ss after SIGKILL", doc.id[:12], KILL_WAIT)

    async def _signal(self, doc: ContainerRecord, live: Live, number: int) -> None:
        shim = live.shim
        if shim is None:
            raise Conflict(f"Container {doc.id} is not running")
        await run_blocking(shim.kill, number)  # a SIGKILL thaws a paused container (runtime/shim.py)
        self._publish(doc, "kill", signal=str(number))

    async def _kill_exiting(self, doc: ContainerRecord, live: Live) -> None:
        """SIGKILL a container that must end now; one that is exiting already needs none (its exit follows)."""
        try:
            await self._signal(doc, live, signals.SIGKILL)
        except Conflict:
            pass  # the process is gone: the monitor records its exit

    @staticmethod
    async def _resume_quietly(shim: Any) -> None:
        try:
            await run_blocking(shim.resume)
        except Conflict:
            pass  # it exited meanwhile

    async def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        """POST /containers/{id}/stop: the stop signal, then SIGKILL after the timeout.

        304 only for a container that was not running when the request came; one that exits by itself
        meanwhile, even exactly at the deadline, is simply stopped."""
        doc = self._get(ref)
        live = self._live_of(doc.id)
        was_running = doc.state.running or live.shim is not None  # restarting counts, as in docker
        await self._restarts.stopped_by_user(doc)
        async with live.lock:
            pass  # a start in flight (a policy restart) finishes first, so it is stopped too
        if live.shim is None:
            if not was_running:
                raise NotModified("container already stopped")
            self._publish(doc, "stop")
            return
        config = doc.config
        if timeout is None:
            timeout = config.get("StopTimeout")
            timeout = DEFAULT_STOP_TIMEOUT if timeout is None else timeout
        number = parse_signal(signal or config.get("StopSignal") or "SIGTERM")
        exited = self.register_wait(doc.id, "next-exit")
        shim = live.shim
        try:
            await self._signal(doc, live, number)
        except Conflict:
            pass  # exiting already: wait for its exit below
        else:
            if doc.state.paused:
                await self._resume_quietly(shim)
        try:
            await wait_within(asyncio.shield(exited), None if timeout < 0 else timeout)
        except asyncio.TimeoutError:
            if live.shim is shim:
                await self._kill_exiting(doc, live)
            await exited
        self._publish(doc, "stop")

    async def restart(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        doc = self._get(ref)
        try:
            await self.stop(ref, timeout, signal)
        except NotModified:
            pass  # docker restarts a stopped container too
        try:
            await self.start(doc.id)
        except NotModified:
            pass  # started by someone else meanwhile: it runs, as asked
        self._publish(doc, "restart")

    async def pause(self, ref: str) -> None:
        doc = self._get(ref)
        live = self._live_of(doc.id)
        if not doc.state.running or live.shim is None:
            raise Conflict(f"Container {doc.id} is not running")
        if doc.state.paused:
            raise Conflict(f"Container {doc.id} is already paused")
        await run_blocking(live.shim.pause)
        record.set_paused(doc, True)
        await self._save(doc)
        self._publish(doc, "pause")

    async def unpause(self, ref: str) -> None:
        doc = self._get(ref)
        live = self._live_of(doc.id)
        if not doc.state.paused or live.shim is None:
            raise Conflict(f"Container {doc.id} is not paused")
        await run_blocking(live.shim.resume)
        record.set_paused(doc, False)
        await self._save(doc)
        self._publish(doc, "unpause")

    # ----- remove / rename / prune ---------------------------------------------------------------

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """DELETE /containers/{id}: 409 while running unless forced."""
        doc = self._get(ref)
        container_id = doc.id
        live = self._live_of(container_id)
        if doc.state.restarting and not force:
            raise Conflict(f'cannot remove container "{doc.name}": container is restarting: '
                           "stop the container before removing or force remove")
        if force:
            await self._restarts.stopped_by_user(doc)
        async with live.lock:
            # a start in flight (a policy restart) finishes first, so it is removed too
            if live.shim is not None and not force:
                raise Conflict(f'cannot remove container "{doc.name}": container is running: '
                               "stop the container before removing or force remove")
            if live.removing:
                raise Conflict(f"removal of container {doc.id} is already in progress")
            live.removing = True  # no start may begin from here on
        try:
            if live.shim is not None:
                exited = self.register_wait(container_id, "next-exit")
                await self._kill_exiting(doc, live)
                await exited
            if container_id not in self._docs:
                return  # an AutoRemove exit handler got there first
            status, doc.state.status = doc.state.status, "removing"
            self._share(doc)
            self._restarts.forget(container_id)
            self._health.unwatch(container_id)
            try:
                # references first: a crash after them leaves a record whose references restore() makes
                # again, so a reference to a container without a record can only be a create never finished
                await run_blocking(self._mounts.release, container_id, doc.mounts, volumes)
                await run_blocking(self._store.delete, container_id)
            except BaseException:
                doc.state.status = status
                self._share(doc)
                raise
        except BaseException:
            live.removing = False
            raise
        self._docs.pop(container_id, None)
        self._unshare(container_id)
        for parent_id in self._links.parents_of(container_id):  # the links to it go with it
            parent = self._docs.get(parent_id)
            if parent is not None:  # unless that parent was removed meanwhile
                parent.host_config["Links"] = without(parent.host_config.get("Links"), child_id=container_id)
                await self._save(parent)
        self._publish(doc, "destroy")
        gone = self._live.pop(container_id, live)
        for waiter in gone.remove_waiters:
            if not waiter.done():
                waiter.set_result(doc.state.exit_code)
        # the record is gone, so nothing can reach these files any more; restore() sweeps what a crash left
        await run_blocking(self._remove_files, container_id)

    def _remove_files(self, container_id: str) -> None:
        self._snapshots.unmount(self.bundle(container_id) / "rootfs")
        self._snapshots.remove_container(container_id)
        remove_tree(self.container_dir(container_id))
        remove_tree(self.bundle(container_id))

    def _sweep_idle_cgroups(self) -> None:
        """Empty cgroups no container owns (a RUN step whose clean-up a crash cut off); spares are swept apart."""
        recorded = set(self._docs)

        def owned(name: str) -> bool:
            return name in recorded or name.startswith(SPARE_PREFIX)

        for name in remove_idle_children(CGROUP_PARENT, owned, IDLE_CGROUP_AGE):
            log.info("removed the leftover cgroup %s/%s", CGROUP_PARENT, name)

    def _sweep_orphans(self, recorded: set[str]) -> None:
        """Files of containers whose record is gone (a crash between the delete and the clean-up)."""
        for parent in (self._containers_dir, self._bundles_dir):
            if parent.is_dir():
                for entry in parent.iterdir():
                    if entry.name not in recorded:
                        self._remove_files(entry.name)

    async def remove_link(self, link_name: str) -> None:
        """DELETE /containers/{/parent/alias}?link=1: the parent loses the link (and, running, its hosts entry)."""
        parent_id, alias = self._links.find(link_name)
        parent = self._docs[parent_id]
        parent.host_config["Links"] = without(parent.host_config.get("Links"), alias=alias)
        await self._save(parent)
        if parent.state.running:
            await run_blocking(drop_hosts_entries, Path(parent.hosts_path), alias)

    async def rename(self, ref: str, new_name: str) -> None:
        doc = self._get(ref)
        if not new_name:
            raise InvalidParameter("Neither old nor new names may be empty")
        old = doc.name
        name = validate_name(new_name)
        if name == old:
            raise Conflict("Renaming a container with the same name as its current name")
        await run_blocking(self._store.rename, doc.copy(), name)
        doc.name = name
        self._share(doc)
        self._publish(doc, "rename", oldName=old)

    async def prune(self, filters: dict[str, builtins.list[str]]) -> dict[str, Any]:
        """POST /containers/prune: remove every stopped container the filters select."""
        check_keys(filters, ("until", "label", "label!"))
        deleted, reclaimed = [], 0
        for doc in list(self._docs.values()):
            if doc.state.running or not matches(doc, filters, self._docs, self._store, self._images):
                continue
            reclaimed += self._snapshots.container_size(doc.id)
            await self.remove(doc.id)
            deleted.append(doc.id)
        self._events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ----- processes ------------------------------------------------------------------------------

    def pids(self, ref: str) -> builtins.list[int]:
        """Host pids of the container's processes (for `top`; from any thread); 409 when it is not running."""
        doc = self._copy_of(ref)
        shim = self._shim_of(doc.id)
        if not doc.state.running or shim is None:
            raise Conflict(f"Container {doc.id} is not running")
        return shim.pids()

    def linked_env(self, doc: ContainerRecord) -> builtins.list[str]:
        """The links' variables an exec in `doc` gets, as its process did (from any thread)."""
        return list(self._links.at_start(doc).env)

    def runtime_of(self, ref: str) -> tuple[ContainerRecord, Any]:
        """The container's record as last saved (a copy nobody changes) and its live shim handle, None unless
        running (attach, exec; from any thread)."""
        doc = self._copy_of(ref)
        return doc, self._shim_of(doc.id)

    def _shim_of(self, container_id: str) -> Shim | None:
        live = self._live.get(container_id)
        return live.shim if live is not None else None

    def log_path(self, ref: str) -> tuple[str, Path | None, bool]:
        """Id, json log file (None when the log driver keeps nothing) and whether the container has a TTY
        (from any thread)."""
        doc = self._copy_of(ref)
        kept = keeps_logs(doc.host_config.get("LogConfig"))
        return doc.id, Path(doc.log_path) if kept else None, bool(doc.config.get("Tty"))

    async def connect_network(self, network_ref: str, body: Any) -> None:
        """POST /networks/{id}/connect: join a running container now, a stopped one at its next start."""
        container = container_ref(body)
        network_id = self._network.get(network_ref)["Id"]
        doc = self._get(container)
        async with self._live_of(doc.id).lock:
            await self._networking.connect(network_id, doc, body.get("EndpointConfig"))
            await self._save(doc)

    async def disconnect_network(self, network_ref: str, body: Any) -> None:
        """POST /networks/{id}/disconnect."""
        container = container_ref(body)
        network_id = self._network.get(network_ref)["Id"]
        doc = self._get(container)
        async with self._live_of(doc.id).lock:
            await self._networking.disconnect(network_id, doc)
            await self._save(doc)

    def require_attachable(self, ref: str) -> str:
        """The id of a container attach may join (from any thread): neither paused nor restarting, as dockerd
        says. A stopped one may be attached to (its log replayed with logs=1): refusing that is the docker
        CLI's own check, not the daemon's."""
        doc = self._copy_of(ref)
        state = doc.state
        if state.paused:
            raise Conflict(f"container {ref} is paused, unpause the container before attach")
        if state.restarting:
            raise Conflict(f"container {ref} is restarting, wait until the container is running")
        return doc.id

    # ----- resize, update and top (whole requests of their routers) ----------------------------------------

    async def resize(self, ref: str, height: int, width: int) -> None:
        """POST /containers/{id}/resize: the TTY window size of a running container."""
        doc, shim = self.runtime_of(ref)
        if shim is None:
            raise Conflict(f"Container {doc.id} is not running")
        await run_blocking(shim.resize, height, width)
        self.publish(doc.id, "resize", height=str(height), width=str(width))

    async def update(self, ref: str, body: Any) -> builtins.list[str]:
        """POST /containers/{id}/update: check the new limits, program a running container's cgroup, keep them in
        HostConfig; docker's warnings for what this host cannot apply."""
        changes = changes_of(body)
        warnings = drop_unsupported(changes)
        container_id = self.resolve_id(ref)
        bundle = self.bundle(container_id)
        await self.update_host_config(container_id, lambda doc: apply_update(doc, changes, bundle))
        return warnings

    def top(self, ref: str, ps_args: str) -> dict[str, Any]:
        """GET /containers/{id}/top: the rows of the host's `ps` for the container's processes."""
        return ps_table(ps_args, self.pids(ref))


def _retrieve(task: asyncio.Future) -> None:
    """Done callback of a shielded start: its error was raised to the caller, unless that went away; log it then."""
    if not task.cancelled() and task.exception() is not None and not isinstance(task.exception(), DockyardError):
        log.debug("start finished after its caller went away: %r", task.exception())


def _adopted_pid(shim: Any) -> int:
    """The init pid of a shim found alive at restore; 0 while that shim is still starting its container."""
    try:
        return shim.pid or 0
    except FileNotFoundError:
        return 0


def parse_signal(text: str) -> int:
    """`SIGTERM`, `TERM`, `term` or `15` to a number; InvalidParameter for anything else."""
    value = text.strip()
    if value.isascii() and value.isdigit() and len(value) <= 3:  # never int() a 5000-digit string
        number = int(value)
        if 0 < number < 65:
            return number
    else:
        name = value.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        if name in signals.Signals.__members__:
            return int(signals.Signals[name])
    raise InvalidParameter(f"Invalid signal: {text}")
