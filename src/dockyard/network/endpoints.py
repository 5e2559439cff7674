"""What the network service is told about a container it connects or disconnects (a copy, never the record)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ContainerEndpoints:
    """A container's id, name, network mode, whether it runs, and a copy of its NetworkSettings.Networks."""

    id: str
    name: str
    mode: str
    running: bool
    networks: dict[str, Any]
