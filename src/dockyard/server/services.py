"""The services handed to router modules; built only by the daemon."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.events.bus import EventBus
from dockyard.system.service import SystemService


@dataclass
class Services:
    """Everything a router may call: image and container services, the event bus, system facts."""

    images: Any
    containers: Any
    events: EventBus
    system: SystemService
    builder: Any = None
    volumes: Any = None
    networks: Any = None
