"""The one seam every service publishes events through (the daemon hands in its `EventBus`)."""

from __future__ import annotations

from typing import Mapping, Protocol


class EventPublisher(Protocol):
    """Where events go (the daemon's event bus)."""

    def publish(self, type_: str, action: str, actor_id: str, attributes: Mapping[str, str] | None = None,
                scope: str = "local") -> object:
        """Record and deliver one event."""
