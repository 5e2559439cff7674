"""In-process event bus: docker-shaped event messages, bounded history for replay, live subscribers."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from typing import Mapping

from dockyard.util.filters import exact_match, fuzzy_match, match_label
from dockyard.util.aio import wait_within

log = logging.getLogger(__name__)

MAX_BACKLOG = 10000     # queued events a slow subscriber may owe before it is dropped
_END = object()
_FUZZY_ACTIONS = frozenset({"health_status", "exec_create", "exec_start"})
_NAMED_TYPES = ("container", "daemon", "network", "volume", "plugin", "node", "service", "secret", "config")


class EventBus:
    """Publishes events from any thread to asyncio subscribers, keeping the last `history` for replay."""

    def __init__(self, history: int = 1024) -> None:
        self._lock = threading.Lock()
        self._history: deque[dict] = deque(maxlen=history)
        self._subscribers: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_ns = 0

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop subscribers run on; events published from threads are handed to it."""
        self._loop = loop

    @property
    def listeners(self) -> int:
        """Live subscribers (NEventsListener in /info)."""
        with self._lock:
            return len(self._subscribers)

    def publish(self, type_: str, action: str, actor_id: str,
                attributes: Mapping[str, str] | None = None, scope: str = "local") -> dict:
        """Record an event and deliver it to every subscriber; safe from any thread. Swarm objects' events have
        scope "swarm"."""
        attrs = dict(attributes or {})
        with self._lock:
            now = max(time.time_ns(), self._last_ns + 1)
            self._last_ns = now
            msg = _message(type_, action, actor_id, attrs, now, scope)
            self._history.append(msg)
            if self._subscribers and self._loop is not None:
                try:
                    self._loop.call_soon_threadsafe(self._deliver, list(self._subscribers), msg)
                except RuntimeError:
                    log.warning("event loop closed: %s %s not delivered to subscribers", type_, action)
        return msg

    @staticmethod
    def _deliver(subscribers: list[Subscription], msg: dict) -> None:
        """Hand a message to each subscriber (runs on the loop)."""
        for sub in subscribers:
            sub.push(msg)

    def subscribe(self, since: float | None, until: float | None,
                  filters: Mapping[str, list[str]]) -> Subscription:
        """Replay history from `since`, then live events until `until` (forever when None).

        Registration happens at once, so nothing published after this call is missed; iterate with
        `async for` and close() (or exhaust) the subscription when done. Call it on the bound loop.
        """
        if self._loop is None:
            self.bind_loop(asyncio.get_running_loop())
        until_ns = None if until is None else _to_ns(until, round_up=True)
        live = until_ns is None or until_ns > time.time_ns()
        with self._lock:
            backlog = [] if since is None else [
                m for m in self._history
                if m["timeNano"] >= _to_ns(since, round_up=False) and (until_ns is None or m["timeNano"] <= until_ns)]
            sub = Subscription(self, backlog, live, until_ns, filters)
            if live:
                self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget a subscription (idempotent)."""
        with self._lock:
            self._subscribers.discard(sub)


class Subscription:
    """An async iterator over replayed then live events; registered at creation, close() to leave."""

    def __init__(self, bus: EventBus, backlog: list[dict], live: bool, until_ns: int | None,
                 filters: Mapping[str, list[str]]) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self._bus = bus
        self._backlog = deque(backlog)
        self._live = live
        self._until_ns = until_ns
        self._filters = filters

    def push(self, msg: object) -> None:
        """Queue a live message (on the loop); a hopelessly slow reader is dropped."""
        if not self._live:
            return
        if self.queue.qsize() >= MAX_BACKLOG:
            log.warning("dropping an events subscriber that fell %d events behind", MAX_BACKLOG)
            self.close()
            return
        self.queue.put_nowait(msg)

    def __aiter__(self) -> Subscription:
        """This object is its own iterator."""
        return self

    async def __anext__(self) -> dict:
        """The next matching event; stops at `until`, when dropped, or once closed."""
        while self._backlog:
            msg = self._backlog.popleft()
            if matches(msg, self._filters):
                return msg
        while self._live or not self.queue.empty():
            got = await _next(self.queue, self._until_ns)
            if not isinstance(got, dict) or (self._until_ns is not None and got["timeNano"] > self._until_ns):
                break
            if matches(got, self._filters):
                return got
        self.close()
        raise StopAsyncIteration

    def close(self) -> None:
        """Stop receiving live events and wake a reader waiting for one."""
        if self._live:
            self._live = False
            self.queue.put_nowait(_END)
        self._bus.unsubscribe(self)

    async def aclose(self) -> None:
        """Async form of close() (for contextlib.aclosing and the HTTP layer)."""
        self.close()


def _to_ns(seconds: float, round_up: bool) -> int:
    """Unix seconds as nanoseconds, widened by a microsecond beyond the whole one: a float of today's unix
    time carries only about 0.2 µs, so an event's own time divided by 1e9 may land in the next microsecond."""
    micros = math.ceil(seconds * 1e6) + 1 if round_up else math.floor(seconds * 1e6) - 1
    return micros * 1000 + (999 if round_up else 0)


async def _next(queue: asyncio.Queue[object], until_ns: int | None) -> object:
    """The next queued message, or _END once `until_ns` has passed."""
    if until_ns is None:
        return await queue.get()
    timeout = (until_ns - time.time_ns()) / 1e9
    if timeout <= 0 and queue.empty():
        return _END
    try:
        return await wait_within(queue.get(), max(timeout, 0))
    except asyncio.TimeoutError:
        return _END


def _message(type_: str, action: str, actor_id: str, attrs: dict[str, str], now_ns: int, scope: str) -> dict:
    """An EventMessage as docker sends it, with the legacy status/id/from for containers and images."""
    msg: dict = {"Type": type_, "Action": action, "Actor": {"ID": actor_id, "Attributes": attrs},
                 "scope": scope, "time": now_ns // 1_000_000_000, "timeNano": now_ns}
    if type_ in ("container", "image"):
        msg["status"] = action
        msg["id"] = actor_id
        if type_ == "container" and attrs.get("image"):
            msg["from"] = attrs["image"]
    return msg


def _strip_tag(ref: str) -> str:
    """An image reference without its tag and digest."""
    name = ref.split("@", 1)[0]
    colon = name.rfind(":")
    return name[:colon] if colon > name.rfind("/") else name


def _match_event(msg: dict, filters: Mapping[str, list[str]]) -> bool:
    """event=ACTION; health_status/exec_create/exec_start also match "action: detail" forms."""
    wanted = filters.get("event")
    if not wanted:
        return True
    if _FUZZY_ACTIONS.intersection(wanted):
        return fuzzy_match(filters, "event", msg["Action"])
    return msg["Action"] in wanted


def _match_image(msg: dict, filters: Mapping[str, list[str]]) -> bool:
    """image=REF matches the actor id or the image name, with or without tag."""
    if not filters.get("image"):
        return True
    actor = msg["Actor"]
    name = actor["Attributes"].get("name" if msg["Type"] == "image" else "image", "")
    candidates = {actor["ID"], name, _strip_tag(actor["ID"]), _strip_tag(name)}
    return any(exact_match(filters, "image", c) for c in candidates if c)


def _match_named(msg: dict, filters: Mapping[str, list[str]], type_: str) -> bool:
    """container=/network=/volume=... match a prefix of the actor's id or name (as docker does)."""
    if not filters.get(type_):
        return True
    actor = msg["Actor"]
    name = actor["Attributes"].get("name")
    return fuzzy_match(filters, type_, actor["ID"]) or (bool(name) and fuzzy_match(filters, type_, name))


def matches(msg: dict, filters: Mapping[str, list[str]]) -> bool:
    """Docker's event filters: container, event, image, label, type, daemon, network, volume, scope ..."""
    return (_match_event(msg, filters)
            and exact_match(filters, "type", msg["Type"])
            and exact_match(filters, "scope", msg["scope"])
            and _match_image(msg, filters)
            and all(_match_named(msg, filters, t) for t in _NAMED_TYPES)
            and match_label(msg["Actor"]["Attributes"], filters.get("label", [])))
