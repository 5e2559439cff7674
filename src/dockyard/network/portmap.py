"""Published ports: docker's PortBindings/ExposedPorts parsed, and a userland proxy per host port (TCP and UDP).

The kernel forwards published ports (portnat.py); the proxy's listening socket keeps each host port reserved
and carries only what the DNAT rules do not catch (every port when the nft tool is missing).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidParameter, SystemError_

log = logging.getLogger(__name__)
CHUNK = 256 * 1024


@dataclass(frozen=True)
class Binding:
    """One container port to publish: `8080/tcp` on host_ip (""=all) and host_port ("": any, "a-b": a range)."""

    port: int
    proto: str
    host_ip: str
    host_port: str

    @property
    def key(self) -> str:
        return f"{self.port}/{self.proto}"


def split_port(key: str) -> tuple[int, str]:
    """"8080/tcp" -> (8080, "tcp"); a missing protocol means tcp."""
    port, _, proto = key.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp") or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidParameter(f"invalid port specification: {key!r}")
    return int(port), proto


def bindings_of(host_config: dict[str, Any], exposed: dict[str, Any] | None) -> list[Binding]:
    """Every binding of HostConfig.PortBindings, plus each EXPOSEd port when PublishAllPorts is set."""
    out: list[Binding] = []
    declared = host_config.get("PortBindings") or {}
    if not isinstance(declared, dict):
        raise InvalidParameter("json: cannot unmarshal into Go struct field HostConfig.PortBindings of type nat.PortMap")
    for key, entries in declared.items():
        port, proto = split_port(key)
        for entry in entries or [{}]:
            out.append(Binding(port, proto, (entry or {}).get("HostIp") or "", str((entry or {}).get("HostPort") or "")))
    if host_config.get("PublishAllPorts"):
        for key in exposed or {}:
            port, proto = split_port(key)
            if not any(b.port == port and b.proto == proto for b in out):
                out.append(Binding(port, proto, "", ""))
    return out


def _host_ports(spec: str) -> list[int]:
    """Candidate host ports: [0] for any, the range's ports for "a-b", else the one port."""
    if not spec:
        return [0]
    low, _, high = spec.partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        raise InvalidParameter(f"invalid host port: {spec!r}") from None
    if not (0 <= first <= last < 65536):
        raise InvalidParameter(f"invalid host port: {spec!r}")
    return list(range(first, last + 1))


class _Pipe:
    """Copy bytes one way between two stream pairs; the far side's write end is closed at EOF."""

    @staticmethod
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()


class _UdpRelay(asyncio.DatagramProtocol):
    """The upstream half of one UDP client: datagrams from the container go back to that client."""

    def __init__(self, listener: asyncio.DatagramTransport, client: tuple[str, int]) -> None:
        self.listener, self.client = listener, client

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.listener.sendto(data, self.client)


class _UdpListener(asyncio.DatagramProtocol):
    """The host side of a UDP mapping: one relay socket per client address."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.relays: dict[tuple[str, int], asyncio.DatagramTransport] = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        relay = self.relays.get(addr)
        if relay is not None:
            relay.sendto(data)
            return
        asyncio.get_running_loop().create_task(self._open(addr, data))

    async def _open(self, addr: tuple[str, int], first: bytes) -> None:
        transport = self.transport
        assert transport is not None
        relay, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _UdpRelay(transport, addr), remote_addr=self.target)
        self.relays[addr] = relay
        relay.sendto(first)

    def close(self) -> None:
        for relay in self.relays.values():
            relay.close()
        self.relays.clear()
        if self.transport is not None:
            self.transport.close()


class PortProxy:
    """Every listening socket one container's published ports hold, and the connections they carry."""

    def __init__(self) -> None:
        self._servers: list[asyncio.AbstractServer] = []
        self._udp: list[_UdpListener] = []
        self._tasks: set[asyncio.Task] = set()

    async def publish(self, binding: Binding, target_ip: str, fixed_port: int | None = None) -> tuple[str, int]:
        """Listen for `binding` (on `fixed_port` when restoring) and forward to target_ip; (host_ip, host_port)."""
        host_ip = binding.host_ip or "0.0.0.0"
        ports = [fixed_port] if fixed_port else _host_ports(binding.host_port)
        last: OSError | None = None
        for port in ports:
            try:
                sock = self._bind(host_ip, port, binding.proto)
            except OSError as busy:
                last = busy
                continue
            await self._serve(sock, binding, target_ip)
            return host_ip, sock.getsockname()[1]
        raise SystemError_(f"driver failed programming external connectivity: Bind for {host_ip}:"
                           f"{binding.host_port or fixed_port} failed: port is already allocated ({last})")

    @staticmethod
    def _bind(host_ip: str, port: int, proto: str) -> socket.socket:
        if proto == "sctp":
            raise InvalidParameter("publishing sctp ports is not supported")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        try:
            if proto == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host_ip, port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _serve(self, sock: socket.socket, binding: Binding, target_ip: str) -> None:
        loop = asyncio.get_running_loop()
        if binding.proto == "udp":
            listener = _UdpListener((target_ip, binding.port))
            await loop.create_datagram_endpoint(lambda: listener, sock=sock)
            self._udp.append(listener)
            return

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await self._forward(reader, writer, target_ip, binding.port)
            finally:
                self._tasks.discard(task)

        self._servers.append(await asyncio.start_server(accept, sock=sock, limit=CHUNK, backlog=511))

    @staticmethod
    async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ip: str, port: int) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(ip, port, limit=CHUNK)
        except OSError as refused:
            log.debug("proxy to %s:%d: %s", ip, port, refused)
            writer.close()
            return
        try:
            await asyncio.gather(_Pipe.run(reader, up_writer), _Pipe.run(up_reader, writer))
        finally:
            up_writer.close()
            writer.close()

    async def close(self) -> None:
        """Stop listening and cut every connection."""
        for server in self._servers:
            server.close()
        for listener in self._udp:
            listener.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._servers.clear()
        self._udp.clear()
