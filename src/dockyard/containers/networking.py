"""A container's side of networking: what it asks the network service for, and what it records of the answers."""

from __future__ import annotations

import copy
from typing import Any

from dockyard.containers import record
from dockyard.containers.protocols import NetworkAttachment
from dockyard.containers.record import ContainerRecord
from dockyard.errors import InvalidParameter
from dockyard.network.endpoints import ContainerEndpoints


class ContainerNetworking:
    """Attach, release, connect and disconnect a container's sandbox; the network service sees only copies."""

    def __init__(self, network: NetworkAttachment) -> None:
        self._network = network

    async def attach(self, doc: ContainerRecord) -> None:
        """Before the container starts: its networks (planned now when none are recorded, unless it joins another
        container's namespace and has none) plumbed and recorded."""
        settings = doc.network_settings
        if not settings.networks and not (doc.host_config.get("NetworkMode") or "").startswith("container:"):
            settings.networks = self._network.plan(doc.host_config, None, doc.config)
        settings.apply(await self._network.attach(doc.id, doc.name, copy.deepcopy(doc.host_config),
                                                  copy.deepcopy(doc.config.get("ExposedPorts")),
                                                  copy.deepcopy(settings.networks)))

    async def release(self, doc: ContainerRecord) -> None:
        """After the container exits (or failed to start): its sandbox freed, the live fields cleared."""
        await self._network.release(doc.id)
        record.clear_network(doc)

    async def connect(self, network_id: str, doc: ContainerRecord, config: Any) -> None:
        """Join `doc` to a network (a running container now, a stopped one at its next start)."""
        doc.network_settings.apply(await self._network.connect(network_id, _endpoints(doc), config or {}))

    async def disconnect(self, network_id: str, doc: ContainerRecord) -> None:
        """Take `doc` off a network."""
        doc.network_settings.apply(await self._network.disconnect(network_id, _endpoints(doc)))


def container_ref(body: Any) -> Any:
    """The container a connect or disconnect body names."""
    if not isinstance(body, dict) or not body.get("Container"):
        raise InvalidParameter("Container is required")
    return body["Container"]


def _endpoints(doc: ContainerRecord) -> ContainerEndpoints:
    return ContainerEndpoints(id=doc.id, name=doc.name, mode=doc.host_config.get("NetworkMode") or "",
                              running=bool(doc.state.running),
                              networks=copy.deepcopy(doc.network_settings.networks))
