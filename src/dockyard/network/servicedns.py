"""Service records for the embedded DNS, per network, fed by the cluster agent (never read from cluster objects).

The agent replaces a network's whole record set on every change it is told of (level-triggered):

    records = ServiceTable()
    records.replace(network_id, [ServiceEntry("web", "10.0.1.2", (TaskEntry("web.1.abc", "10.0.1.5"), ...)),
                                 ServiceEntry("db", None, (...))])        # vip None: endpoint mode dnsrr
    records.drop(network_id)                                              # the network left the node

and the resolver of a task asks `records.addresses(its network ids, name)`: `<service>` (or an alias) is the VIP, or
the task addresses for dnsrr; `tasks.<service>` is the task addresses; `<task name>` is that task's address. A name may
carry the network's name as a suffix (`web.mynet`), as container names do.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Iterable

TASKS_PREFIX = "tasks."


@dataclass(frozen=True)
class TaskEntry:
    """A running task of a service on the network: its name and address there."""

    name: str
    address: str


@dataclass(frozen=True)
class ServiceEntry:
    """A service on one network: its VIP there (None in dnsrr mode), its tasks, its network aliases."""

    name: str
    vip: str | None
    tasks: tuple[TaskEntry, ...]
    aliases: tuple[str, ...] = ()


def _names(entry: ServiceEntry) -> dict[str, list[str]]:
    """name -> addresses one service answers for."""
    tasks = [t.address for t in entry.tasks]
    answer = [entry.vip] if entry.vip else tasks
    out: dict[str, list[str]] = {}
    for name in (entry.name, *entry.aliases):
        out[name.lower()] = answer
        out[TASKS_PREFIX + name.lower()] = tasks
    for task in entry.tasks:
        out[task.name.lower()] = [task.address]
    return out


class ServiceTable:
    """The service records of every network, replaced a network at a time (thread-safe; the resolver reads it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_network: dict[str, tuple[str, dict[str, list[str]]]] = {}  # id -> (network name, records)

    def replace(self, network_id: str, network_name: str, entries: Iterable[ServiceEntry]) -> None:
        """Make `entries` the network's whole record set."""
        names: dict[str, list[str]] = {}
        for entry in entries:
            for name, addresses in _names(entry).items():
                names.setdefault(name, []).extend(a for a in addresses if a not in names.get(name, []))
        with self._lock:
            self._by_network[network_id] = (network_name.lower(), names)

    def drop(self, network_id: str) -> None:
        """Forget a network's records."""
        with self._lock:
            self._by_network.pop(network_id, None)

    def addresses(self, network_ids: Collection[str], name: str) -> list[str]:
        """What `name` resolves to on any of `network_ids` (empty: not a service name there)."""
        found: list[str] = []
        with self._lock:
            held = [self._by_network[n] for n in network_ids if n in self._by_network]
        for network_name, names in held:
            suffix = "." + network_name
            short = name[: -len(suffix)] if name.endswith(suffix) else name
            found += [a for a in names.get(short, []) if a not in found]
        return found
