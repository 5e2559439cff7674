"""A container's side of networking: what it asks the network service for, and what it records of the answers."""

from __future__ import annotations

import copy
from typing import Any

from dockyard.containers import record
from dockyard.containers.protocols import NetworkAttachment
from dockyard.errors import InvalidParameter
from dockyard.network.endpoints import ContainerEndpoints


class ContainerNetworking:
    """Attach, release, connect and disconnect a container's sandbox; the network service sees only copies."""

    def __init__(self, network: NetworkAttachment) -> None:
        self._network = network

    async def attach(self, doc: dict[str, Any]) -> None:
        """Before the container starts: its networks (planned now when none are recorded, unless it joins another
        container's namespace and has none) plumbed and recorded."""
        settings = doc["NetworkSettings"]
        if not settings["Networks"] and not (doc["HostConfig"].get("NetworkMode") or "").startswith("container:"):
            settings["Networks"] = self._network.plan(doc["HostConfig"], None, doc["Config"])
        settings.update(await self._network.attach(doc["Id"], doc["Name"], copy.deepcopy(doc["HostConfig"]),
                                                   copy.deepcopy(doc["Config"].get("ExposedPorts")),
                                                   copy.deepcopy(settings["Networks"])))

    async def release(self, doc: dict[str, Any]) -> None:
        """After the container exits (or failed to start): its sandbox freed, the live fields cleared."""
        await self._network.release(doc["Id"])
        record.clear_network(doc)

    async def connect(self, network_id: str, doc: dict[str, Any], config: Any) -> None:
        """Join `doc` to a network (a running container now, a stopped one at its next start)."""
        doc["NetworkSettings"].update(await self._network.connect(network_id, _endpoints(doc), config or {}))

    async def disconnect(self, network_id: str, doc: dict[str, Any]) -> None:
        """Take `doc` off a network."""
        doc["NetworkSettings"].update(await self._network.disconnect(network_id, _endpoints(doc)))


def container_ref(body: Any) -> Any:
    """The container a connect or disconnect body names."""
    if not isinstance(body, dict) or not body.get("Container"):
        raise InvalidParameter("Container is required")
    return body["Container"]


def _endpoints(doc: dict[str, Any]) -> ContainerEndpoints:
    return ContainerEndpoints(id=doc["Id"], name=doc["Name"], mode=doc["HostConfig"].get("NetworkMode") or "",
                              running=bool(doc["State"]["Running"]),
                              networks=copy.deepcopy(doc["NetworkSettings"]["Networks"]))
