"""The embedded DNS server: 127.0.0.11:53 inside each container on a user network answers container names,
aliases and short ids of its networks, then the service records fed to it (`ServiceRecords`: `<service>`,
`tasks.<service>`, task names), and forwards everything else to the upstream resolvers; over UDP
and over TCP (RFC 1035 4.2.2: each message behind a two-byte length), as dockerd's does."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import struct
from pathlib import Path
from collections.abc import Collection
from typing import Any, Callable, Protocol

from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.dns import DNSError

from dockyard.network import netns
from dockyard.util.aio import wait_within

log = logging.getLogger(__name__)

ADDRESS = "127.0.0.11"
TTL = 600
FORWARD_TIMEOUT = 3.0
_NAMESERVER = re.compile(r"^\s*nameserver\s+(\S+)\s*$", re.M)

# name -> IPv4 and IPv6 addresses it has for the asking container (empty: not one of ours)
Lookup = Callable[[str], list[str]]


class ServiceRecords(Protocol):
    """Service names per network, as the cluster agent feeds them (`network/servicedns.py` implements it)."""

    def addresses(self, network_ids: Collection[str], name: str) -> list[str]:
        """What `name` resolves to on any of `network_ids` (empty: not a service name there)."""


def host_resolvers(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The IPv4 nameservers the host uses (the daemon runs on the host, so loopback ones are reachable)."""
    try:
        text = resolv_conf.read_text()
    except FileNotFoundError:
        return []
    return [ip for ip in _NAMESERVER.findall(text) if ":" not in ip]


def answer(query: bytes, lookup: Lookup) -> bytes | None:
    """The reply for a query about one of our names, or None when it must be forwarded."""
    try:
        request = DNSRecord.parse(query)
    except DNSError:
        return None
    if not request.questions:
        return None
    question = request.q
    name = str(question.qname).rstrip(".").lower()
    if question.qtype not in (QTYPE.A, QTYPE.AAAA, QTYPE.ANY):
        return None
    addresses = lookup(name)
    if not addresses:
        return None
    reply = request.reply()  # a name of ours without an address of the asked family: an empty answer, as dockerd's
    for ip in addresses:
        v6 = ":" in ip
        if question.qtype == QTYPE.ANY or question.qtype == (QTYPE.AAAA if v6 else QTYPE.A):
            reply.add_answer(RR(question.qname, QTYPE.AAAA if v6 else QTYPE.A, rdata=AAAA(ip) if v6 else A(ip),
                                ttl=TTL))
    return reply.pack()


def servfail(query: bytes) -> bytes | None:
    """A SERVFAIL reply to a query (None when the query is unreadable)."""
    try:
        reply = DNSRecord.parse(query).reply()
    except DNSError:
        return None
    reply.header.rcode = RCODE.SERVFAIL
    return reply.pack()


class _Forward(asyncio.DatagramProtocol):
    """One forwarded query: the first reply wins."""

    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.reply.done():
            self.reply.set_result(data)


async def forward(query: bytes, upstreams: list[str]) -> bytes | None:
    """Ask each upstream resolver in turn; the first answer, or None."""
    loop = asyncio.get_running_loop()
    for server in upstreams:
        transport, proto = await loop.create_datagram_endpoint(_Forward, remote_addr=(server, 53))
        try:
            transport.sendto(query)
            return await wait_within(proto.reply, FORWARD_TIMEOUT)
        except (asyncio.TimeoutError, OSError) as failed:
            log.debug("dns forward to %s: %r", server, failed)
        finally:
            transport.close()
    return None


async def forward_tcp(query: bytes, upstreams: list[str]) -> bytes | None:
    """Ask each upstream resolver in turn over TCP (a client asks by TCP for answers UDP cannot carry)."""
    for server in upstreams:
        try:
            return await wait_within(_ask_tcp(server, query), FORWARD_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError) as failed:
            log.debug("dns forward over tcp to %s: %r", server, failed)
    return None


async def _ask_tcp(server: str, query: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(server, 53)
    try:
        writer.write(struct.pack("!H", len(query)) + query)
        await writer.drain()
        return await _read_message(reader)
    finally:
        writer.close()


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    """One length-prefixed DNS message from a TCP stream."""
    (length,) = struct.unpack("!H", await reader.readexactly(2))
    return await reader.readexactly(length)


class _TcpServer:
    """Serves one container's 127.0.0.11:53 over TCP: any number of queries per connection."""

    def __init__(self, lookup: Lookup, upstreams: Callable[[], list[str]]) -> None:
        self.lookup, self.upstreams = lookup, upstreams
        self.writers: set[asyncio.StreamWriter] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                query = await wait_within(_read_message(reader), FORWARD_TIMEOUT * 2)
                reply = answer(query, self.lookup)
                if reply is None:
                    reply = await forward_tcp(query, self.upstreams()) or servfail(query)
                if reply is None:
                    return
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return  # the client is done, went away or went quiet
        finally:
            self.writers.discard(writer)
            writer.close()

    def close(self) -> None:
        """Hang up on every client."""
        for writer in list(self.writers):
            writer.close()


class _Server(asyncio.DatagramProtocol):
    """Serves one container's 127.0.0.11:53."""

    def __init__(self, lookup: Lookup, upstreams: Callable[[], list[str]]) -> None:
        self.lookup, self.upstreams = lookup, upstreams
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task] = set()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        reply = answer(data, self.lookup)
        if reply is not None:
            assert self.transport is not None  # datagrams arrive only after connection_made
            self.transport.sendto(reply, addr)
            return
        task = asyncio.get_running_loop().create_task(self._forward(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _forward(self, data: bytes, addr: Any) -> None:
        reply = await forward(data, self.upstreams()) or servfail(data)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class DnsServer:
    """The resolver a container reaches at 127.0.0.11 (UDP and TCP); the sockets live in its namespace."""

    def __init__(self, server: _Server, tcp: asyncio.Server, tcp_clients: _TcpServer) -> None:
        self._server = server
        self._tcp = tcp
        self._tcp_clients = tcp_clients

    @classmethod
    async def start(cls, namespace: Path, lookup: Lookup, upstreams: Callable[[], list[str]]) -> DnsServer:
        """Bind 127.0.0.11:53 (UDP and TCP) inside `namespace` and serve them on the running loop."""
        loop = asyncio.get_running_loop()
        udp = await loop.run_in_executor(None, netns.socket_in, namespace, socket.SOCK_DGRAM, (ADDRESS, 53))
        try:
            tcp_sock = await loop.run_in_executor(None, netns.socket_in, namespace, socket.SOCK_STREAM, (ADDRESS, 53))
        except BaseException:
            udp.close()
            raise
        server = _Server(lookup, upstreams)
        await loop.create_datagram_endpoint(lambda: server, sock=udp)
        tcp_clients = _TcpServer(lookup, upstreams)
        tcp = await asyncio.start_server(tcp_clients.serve, sock=tcp_sock)
        return cls(server, tcp, tcp_clients)

    async def close(self) -> None:
        """Stop answering."""
        self._tcp.close()
        self._tcp_clients.close()
        if self._server.transport is not None:
            self._server.transport.close()
        for task in list(self._server.tasks):
            task.cancel()
        await asyncio.gather(*self._server.tasks, return_exceptions=True)
        await self._tcp.wait_closed()
