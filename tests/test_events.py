"""The event bus: docker-shaped messages, thread-safe publishing, filters, since/until replay."""

from __future__ import annotations

import asyncio
import threading
import time

from dockyard.events.bus import EventBus, matches


async def collect(sub, n: int, timeout: float = 5) -> list[dict]:
    """The next n events of a subscription."""
    out = []
    async def take() -> None:
        async for msg in sub:
            out.append(msg)
            if len(out) == n:
                return
    await asyncio.wait_for(take(), timeout)
    return out


def test_message_shape() -> None:
    bus = EventBus()
    msg = bus.publish("container", "start", "abc", {"image": "busybox", "name": "web"})
    assert msg["Type"] == "container" and msg["Action"] == "start"
    assert msg["Actor"] == {"ID": "abc", "Attributes": {"image": "busybox", "name": "web"}}
    assert msg["scope"] == "local" and msg["time"] == msg["timeNano"] // 10**9
    assert (msg["status"], msg["id"], msg["from"]) == ("start", "abc", "busybox")
    image = bus.publish("image", "tag", "sha256:1", {"name": "busybox:latest"})
    assert image["status"] == "tag" and "from" not in image
    network = bus.publish("network", "create", "n1", {"name": "net", "type": "bridge"})
    assert "status" not in network and "id" not in network


def test_publish_from_threads_reaches_subscriber_in_order() -> None:
    async def main() -> list[dict]:
        bus = EventBus()
        bus.bind_loop(asyncio.get_running_loop())
        sub = bus.subscribe(None, None, {})
        def worker(n: int) -> None:
            for i in range(50):
                bus.publish("container", "start", f"t{n}-{i}")
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        got = await collect(sub, 200)
        for t in threads:
            t.join()
        assert bus.listeners == 1
        sub.close()
        assert bus.listeners == 0
        return got
    got = asyncio.run(main())
    assert len({m["id"] for m in got}) == 200
    stamps = [m["timeNano"] for m in got]
    assert stamps == sorted(stamps) and len(set(stamps)) == 200
    for n in range(4):
        mine = [m["id"] for m in got if m["id"].startswith(f"t{n}-")]
        assert mine == [f"t{n}-{i}" for i in range(50)]


def test_since_until_replay_and_live_until() -> None:
    async def main() -> None:
        bus = EventBus(history=5)
        for i in range(8):
            bus.publish("container", "create", f"old{i}")
        old = [m["id"] async for m in bus.subscribe(0, time.time(), {})]
        assert old == [f"old{i}" for i in range(3, 8)]          # bounded history
        middle = bus.publish("container", "start", "mid")["timeNano"] / 1e9
        time.sleep(0.001)                                         # floats resolve microseconds, not less
        bus.publish("container", "stop", "late")
        assert [m["id"] async for m in bus.subscribe(middle, middle, {})] == ["mid"]
        assert [m["id"] async for m in bus.subscribe(None, time.time() - 1, {})] == []
        sub = bus.subscribe(middle, time.time() + 0.3, {"event": ["die"]})
        asyncio.get_running_loop().call_later(0.05, bus.publish, "container", "die", "live")
        started = time.monotonic()
        assert [m["id"] async for m in sub] == ["live"]
        assert 0.2 < time.monotonic() - started < 2               # ended at `until`
        assert bus.listeners == 0
    asyncio.run(main())


def test_close_wakes_a_waiting_reader() -> None:
    async def main() -> None:
        bus = EventBus()
        sub = bus.subscribe(None, None, {})
        asyncio.get_running_loop().call_later(0.05, sub.close)
        assert [m async for m in sub] == []
    asyncio.run(asyncio.wait_for(main(), 5))


def test_filters() -> None:
    bus = EventBus()
    c = bus.publish("container", "exec_start: sh -c true", "abcdef", {"name": "web", "image": "nginx:1.25",
                                                                      "com.example": "yes"})
    i = bus.publish("image", "pull", "sha256:99", {"name": "nginx:1.25"})
    n = bus.publish("network", "connect", "netid", {"name": "bridge", "container": "abcdef"})
    assert matches(c, {"container": ["abc"]}) and matches(c, {"container": ["web"]})
    assert not matches(i, {"container": ["web"]}) and not matches(c, {"container": ["zzz"]})
    assert matches(c, {"event": ["exec_start"]}) and not matches(c, {"event": ["start"]})
    assert matches(i, {"event": ["pull"], "type": ["image"]}) and not matches(i, {"type": ["container"]})
    assert matches(i, {"image": ["nginx"]}) and matches(c, {"image": ["nginx:1.25"]})
    assert not matches(i, {"image": ["redis"]})
    assert matches(c, {"label": ["com.example"]}) and matches(c, {"label": ["com.example=yes"]})
    assert not matches(c, {"label": ["com.example=no"]}) and not matches(i, {"label": ["com.example"]})
    assert matches(n, {"network": ["bridge"]}) and not matches(c, {"network": ["bridge"]})
    assert matches(c, {"scope": ["local"]}) and not matches(c, {"scope": ["swarm"]})


def test_slow_subscriber_is_dropped(monkeypatch) -> None:
    monkeypatch.setattr("dockyard.events.bus.MAX_BACKLOG", 10)
    async def main() -> None:
        bus = EventBus()
        sub = bus.subscribe(None, None, {})
        for i in range(30):
            bus.publish("container", "start", str(i))
        await asyncio.sleep(0.01)
        assert bus.listeners == 0
        got = [m["id"] async for m in sub]
        assert got == [str(i) for i in range(10)]
    asyncio.run(asyncio.wait_for(main(), 5))
