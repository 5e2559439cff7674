"""The shim's event loop survives a callback closing a connection that is ready in the same round."""

from __future__ import annotations

import selectors
import socket
from types import SimpleNamespace

from dockyard.runtime.shim import Shim


def test_a_connection_closed_earlier_in_the_round_is_skipped() -> None:
    """Regression: a session dropped by one callback (an exec's exit) while its own read event was ready
    crashed the shim with "Invalid file descriptor: -1", which killed the container with it."""
    sel = selectors.DefaultSelector()
    left, right = socket.socketpair()
    try:
        sel.register(left, selectors.EVENT_READ)
        right.send(b"x")
        [(key, _)] = sel.select(1)
        loop = SimpleNamespace(sel=sel)
        assert Shim._registered(loop, key)  # type: ignore[arg-type]
        sel.unregister(left)
        left.close()
        assert not Shim._registered(loop, key)  # type: ignore[arg-type]
    finally:
        sel.close()
        right.close()


def test_a_reused_descriptor_is_not_taken_for_the_old_registration() -> None:
    """A plain fd closed and reused by a new registration in the same round: the old key is stale."""
    sel = selectors.DefaultSelector()
    left, right = socket.socketpair()
    try:
        sel.register(left.fileno(), selectors.EVENT_READ)
        right.send(b"x")
        [(key, _)] = sel.select(1)
        sel.unregister(left.fileno())
        sel.register(left.fileno(), selectors.EVENT_READ)
        assert not Shim._registered(SimpleNamespace(sel=sel), key)  # type: ignore[arg-type]
    finally:
        sel.close()
        left.close()
        right.close()
