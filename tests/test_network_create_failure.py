"""A bridge network whose bring-up fails half-way (here: its firewall rules) leaves no bridge, chain or record."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from dockyard.errors import SystemError_
from dockyard.events.bus import EventBus
from dockyard.metadata.db import MetadataDB
from dockyard.network import bridge, firewall
from dockyard.network.service import NetworkService
from dockyard.network.servicedns import ServiceTable
from dockyard.network.store import NetworkStore


def test_a_failed_bring_up_leaves_no_bridge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"dy-{secrets.token_hex(4)}"

    def refused(*_args: object, **_kwargs: object) -> None:
        raise SystemError_("nft: refused by the test")

    async def scenario() -> None:
        events = EventBus()
        events.bind_loop(asyncio.get_running_loop())
        service = NetworkService(NetworkStore(MetadataDB(tmp_path / "metadata.db")), tmp_path / "exec", events,
                                 ServiceTable(), overlay_prefix=f"dy{secrets.token_hex(2)}-")
        await service.restore()
        try:
            monkeypatch.setattr(firewall, "install", refused)
            with pytest.raises(SystemError_, match="refused by the test"):
                await service.create({"Name": "halfway", "Options": {"com.docker.network.bridge.name": name}})
            monkeypatch.undo()
            assert not [n for n in service.list({}) if n["Name"] == "halfway"]
        finally:
            await service.shutdown()

    try:
        asyncio.run(scenario())
        assert bridge.owner(name) is None, "the bridge outlived the failed create"
    finally:
        bridge.delete_link(name)
