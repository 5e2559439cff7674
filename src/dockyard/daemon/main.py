"""`dockyard daemon`: the one place that builds the stores and services and serves the API."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from dockyard.daemon.config import ConfigError, DaemonConfig, load
from dockyard.daemon.lock import AlreadyRunning, DataRootLock

log = logging.getLogger("dockyard.daemon")


async def run(config: DaemonConfig, tls: ssl.SSLContext | None = None) -> None:
    """Wire everything, restore containers, serve until SIGTERM/SIGINT, then shut down cleanly (the tcp
    listeners with `tls` when given)."""
    from dockyard.containers.service import ContainerService
    from dockyard.containers.store import ContainerStore
    from dockyard.content.store import ContentStore
    from dockyard.events.bus import EventBus
    from dockyard.images.service import ImageService
    from dockyard.metadata.db import MetadataDB
    from dockyard.runtime.client import ShimClient
    from dockyard.server.app import build_router, serve
    from dockyard.server.services import Services
    from dockyard.snapshots.overlay import Snapshotter
    from dockyard.system.service import SystemService
    from dockyard.util import tarsafe

    if config.max_extract_file_size is not None:
        tarsafe.max_file_size = config.max_extract_file_size
    loop = asyncio.get_running_loop()
    root = config.data_root
    db = MetadataDB(root / "metadata.db")
    events = EventBus()
    events.bind_loop(loop)
    content = ContentStore(root / "content")
    snapshots = Snapshotter(root / "snapshots", db)
    images = ImageService(root / "images", db, content, snapshots, events, registry_config=config.raw)
    from dockyard.network.service import NetworkService
    from dockyard.network.servicedns import ServiceTable
    from dockyard.network.store import NetworkStore
    from dockyard.system.service import load_engine_id
    service_records = ServiceTable()  # fed by the cluster agent, read by the embedded DNS
    networks = NetworkService(NetworkStore(db), config.exec_root, events, service_records,
                              host_id=load_engine_id(root))
    await networks.restore()
    from dockyard.plugins.service import PluginService
    from dockyard.util.aio import run_blocking
    from dockyard.volumes.service import VolumeService
    plugins = PluginService(root / "plugins", config.exec_root, db, events)
    volumes = VolumeService(root / "volumes", db, events, drivers=plugins)
    plugins.set_usage_check(volumes.driver_users)
    await run_blocking(plugins.restore)
    containers = ContainerService(root, config.exec_root, ContainerStore(db), images, snapshots, events, ShimClient,
                                  network=networks, volumes=volumes)
    images.set_usage_check(containers.image_users)
    system = SystemService(config.raw, root, images, containers, events=events)
    await containers.restore()
    volumes.keep_users({c["Id"] for c in containers.list(all_=True)})
    from dockyard.builder.cache import BuildCache
    from dockyard.builder.executor import Builder
    builder = Builder(images, snapshots, events, BuildCache(db), root / "builder" / "work",
                      root / "builder" / "cache-mounts", containers)
    from dockyard.containers.access import ContainerAccess
    from dockyard.containers.execs import ExecService
    from dockyard.containers.files import ContainerFiles
    from dockyard.containers.logreader import LogReader
    from dockyard.containers.stats import ContainerStats
    from dockyard.distribution.login import RegistryService
    from dockyard.system.diskusage import DiskUsage
    from dockyard.cluster.nodes import NodeService, describe
    from dockyard.cluster.objects import CONFIGS, SECRETS, ObjectService
    from dockyard.cluster.service import ClusterService
    from dockyard.cluster.services import ServiceObjects
    from dockyard.cluster.tasklist import TaskObjects
    from dockyard.cluster.servicelogs import ServiceLogs
    from dockyard.cluster.work import SwarmWork
    from dockyard.cluster.agent.taskfiles import TaskFiles
    from dockyard.cluster.agent.protocols import TaskEngine
    from dockyard.cluster.networks import Attachments, NetworkObjects, SwarmNetworks
    log_reader = LogReader(containers)
    cluster = ClusterService(root, config.exec_root, lambda: describe(system.info()), events)
    secrets, configs = ObjectService(cluster, SECRETS), ObjectService(cluster, CONFIGS)
    networks.set_overlay_addresses(Attachments(cluster))
    network_objects = NetworkObjects(cluster, networks)
    engine = TaskEngine(containers, images, TaskFiles(config.exec_root / "swarm" / "mounts"), networks,
                        service_records, log_reader)
    work = SwarmWork(engine, lambda kind, rec: (secrets if kind == "secrets" else configs).data(rec))
    cluster.workers.append(work)
    from dockyard.cluster.manager.rpc import SwarmRPC
    from dockyard.server.app import RpcListener
    from dockyard.server.routers import swarmrpc
    from dockyard.server.routing import Router
    rpc_router = Router()
    swarmrpc.register(rpc_router, SwarmRPC(cluster, work))
    cluster.listener = RpcListener(rpc_router)
    await cluster.restore()
    system.set_swarm_info(cluster.info)
    services = Services(images=images, containers=containers, events=events, system=system, builder=builder,
                        networks=SwarmNetworks(networks, network_objects), volumes=volumes,
                        registry=RegistryService(config.raw),
                        execs=ExecService(containers), stats=ContainerStats(containers), logs=log_reader,
                        files=ContainerFiles(ContainerAccess(containers, snapshots, events), images),
                        disk_usage=DiskUsage(images, containers, volumes, builder), plugins=plugins,
                        swarm=cluster, nodes=NodeService(cluster), secrets=secrets,
                        configs=configs, swarm_services=ServiceObjects(cluster, network_objects.service_network),
                        swarm_tasks=TaskObjects(cluster), swarm_logs=ServiceLogs(cluster, log_reader, work))
    server = await serve(build_router(services), config.hosts, tls=tls)
    log.info("API listening on %s", ", ".join(config.hosts))
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    from dockyard.daemon.reload import reload_config
    loop.add_signal_handler(signal.SIGHUP, reload_config, config, events, system.engine_id)
    await stop.wait()
    log.info("shutting down: containers keep running")
    await server.close()
    await cluster.shutdown()
    await containers.shutdown()
    await run_blocking(plugins.shutdown)
    await networks.shutdown()
    db.close()


def api_tls_context(config: DaemonConfig) -> ssl.SSLContext | None:
    """The server context of the tcp listeners, or None without --tls; bad files are a ConfigError."""
    from dockyard.util.tls import TLSConfigError, server_context
    if config.tls is None:
        return None
    try:
        return server_context(config.tls.cert, config.tls.key, config.tls.ca, config.tls.verify_clients)
    except TLSConfigError as bad:
        raise ConfigError(f"invalid TLS configuration: {bad}") from None


def prepare_roots(data_root: Path, exec_root: Path) -> None:
    """Make the roots (modes set even when they exist, as dockerd does) so that no other host user can reach
    what images bring, setuid files among them: the data root 0710; the exec root 0711 (its API socket stays
    reachable to whom the socket's own mode allows), the bundles with the mounted root file systems 0700."""
    for path, mode in ((data_root, 0o710), (exec_root, 0o711), (exec_root / "containers", 0o700)):
        path.mkdir(parents=True, exist_ok=True, mode=mode)
        os.chmod(path, mode)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `dockyard daemon` and `dockyardd`."""
    try:
        config = load(sys.argv[1:] if argv is None else argv)
        tls = api_tls_context(config)
    except ConfigError as bad:
        print(f"unable to configure the Dockyard daemon: {bad}", file=sys.stderr)
        return 1
    logging.basicConfig(level=getattr(logging, config.log_level.upper().replace("FATAL", "CRITICAL")
                                      .replace("WARN", "WARNING"), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare_roots(config.data_root, config.exec_root)
    lock = DataRootLock(config.data_root, config.pidfile_path)
    try:
        lock.acquire()
    except AlreadyRunning as busy:
        print(f"dockyard daemon: {busy}", file=sys.stderr)
        return 1
    try:
        asyncio.run(run(config, tls))
    finally:
        lock.release()
    return 0
