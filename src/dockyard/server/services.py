"""The services handed to router modules, typed by the backend Protocols they implement; built only by the daemon."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.server.backends import (BuildBackend, ContainerBackend, ContainerFilesBackend, DiskUsageBackend,
                                      EventsBackend, ExecBackend, ImageBackend, ListInspectBackend, LogBackend,
                                      NetworkBackend, NodeBackend, PluginBackend, RegistryBackend, ServiceBackend,
                                      SpecObjectBackend, StatsBackend, SwarmBackend, SwarmLogBackend, SystemBackend,
                                      VolumeBackend)


@dataclass
class Services:
    """Everything a router may call, one backend per concern."""

    images: ImageBackend
    containers: ContainerBackend
    events: EventsBackend
    system: SystemBackend
    builder: BuildBackend
    volumes: VolumeBackend
    networks: NetworkBackend
    registry: RegistryBackend
    execs: ExecBackend
    files: ContainerFilesBackend
    stats: StatsBackend
    logs: LogBackend
    disk_usage: DiskUsageBackend
    swarm: SwarmBackend
    nodes: NodeBackend
    secrets: SpecObjectBackend
    configs: SpecObjectBackend
    plugins: PluginBackend
    swarm_services: ServiceBackend
    swarm_tasks: ListInspectBackend
    swarm_logs: SwarmLogBackend
