"""What a control loop wants written: the pure loops return a Plan, the leader applies it with fenced writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.cluster.tasks import Task


@dataclass
class Plan:
    """Tasks to create, tasks to replace (whole objects, compared on their Version), task ids to delete, and
    services to replace (the updater's UpdateStatus and rollbacks)."""

    create: list[Task] = field(default_factory=list)
    update: list[Task] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)

    def extend(self, other: Plan) -> Plan:
        """Add another loop's writes to these."""
        self.create += other.create
        self.update += other.update
        self.delete += other.delete
        self.services += other.services
        return self

    def __bool__(self) -> bool:
        return bool(self.create or self.update or self.delete or self.services)
