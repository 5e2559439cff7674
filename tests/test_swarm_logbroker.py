"""The manager's log broker without a daemon: a subscription reaches the node's session stream, the node's
publication reaches the reader, a reader that leaves ends the publication, a silent node is left out."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from dockyard.cluster import rpcwire
from dockyard.cluster.manager import logbroker
from dockyard.cluster.manager.logbroker import LogBroker
from dockyard.errors import Gone


async def _session() -> AsyncIterator[dict[str, Any]]:
    yield {"type": "session"}
    await asyncio.Event().wait()  # a session that stays open


def test_subscription_published_and_closed() -> None:
    async def scenario() -> None:
        broker = LogBroker()
        stream = broker.with_requests("n1", _session())
        assert (await stream.__anext__())["type"] == "session"
        reader = broker.subscribe("n1", {"t1": "web.1.t1"}, 2, None, None, True)
        first = asyncio.ensure_future(reader.__anext__())
        request = await asyncio.wait_for(stream.__anext__(), 5)
        assert request["type"] == rpcwire.LOG_SUBSCRIPTION and request["tasks"] == {"t1": "web.1.t1"}
        assert request["tail"] == 2 and request["follow"] is True
        more = asyncio.Event()

        async def lines() -> AsyncIterator[bytes]:
            yield rpcwire.encode_log_line("t1", "stdout", "2026-01-01T00:00:00.000000001Z", b"hello\n")
            await more.wait()
            yield rpcwire.encode_log_line("t1", "stderr", "2026-01-01T00:00:01Z", b"never read\n")
        publishing = asyncio.ensure_future(broker.publish("n1", request["id"], lines()))
        task_id, entry = await asyncio.wait_for(first, 5)
        assert (task_id, entry.stream, entry.data) == ("t1", "stdout", b"hello\n")
        await reader.aclose()  # the reader leaves: the publication ends though the node still has lines
        await asyncio.wait_for(publishing, 5)
        assert broker.subscriptions == {}
        # a publication for a subscription that is gone, or made by another node, is refused
        for node, sub in (("n1", request["id"]), ("n2", "nope")):
            with pytest.raises(Gone):
                await broker.publish(node, sub, lines())
        await stream.aclose()
    asyncio.run(scenario())


def test_silent_node_left_out(monkeypatch: Any) -> None:
    monkeypatch.setattr(logbroker, "START_TIMEOUT", 0.2)

    async def scenario() -> list[Any]:
        broker = LogBroker()
        got = [item async for item in broker.subscribe("n1", {"t1": "x"}, None, None, None, False)]
        assert broker.subscriptions == {}
        # the request waiting for a session whose reader left is dropped, not sent
        stream = broker.with_requests("n1", _session())
        assert (await stream.__anext__())["type"] == "session"
        later = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.1)
        assert not later.done()
        later.cancel()
        await asyncio.gather(later, return_exceptions=True)
        return got
    assert asyncio.run(scenario()) == []
