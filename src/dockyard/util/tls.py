"""TLS for Dockyard's listeners and clients: SSL contexts from PEM files or bytes, and a TLS listener whose
connections keep TCP's half-close (a client's close_notify is an end of stream its handler reads while it
still writes, as Go's servers treat it), so hijacked streams work over TLS. The daemon's API uses it, and so does
swarm mode's mutual-TLS listener, whose handlers read the client's certificate with `peer_certificate()`."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import ssl
from pathlib import Path
from typing import Awaitable, Callable, Union

from dockyard.util.aio import wait_within

log = logging.getLogger(__name__)

Pem = Union[str, Path, bytes]  # a path, or the PEM text itself as bytes
StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

HANDSHAKE_TIMEOUT = 30.0
_HTTP_STARTS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")
_PLAIN_HTTP_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
_READ_SIZE = 64 << 10


# The verified certificate (DER) the client of the connection being served presented, None without one: set by the
# TLS listener before it hands the connection over, so request handlers of that connection (same task) can read it.
PEER_CERTIFICATE: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("peer_certificate", default=None)


def peer_certificate() -> bytes | None:
    """The verified client certificate (DER) of the TLS connection being served, if it presented one."""
    return PEER_CERTIFICATE.get()


class TLSConfigError(Exception):
    """Certificate, key or CA material that cannot be used; the message names the file."""


def server_context(cert: Pem, key: Pem, ca: Pem | None = None, verify_clients: bool = False) -> ssl.SSLContext:
    """A server context (TLS 1.2 or later, as dockerd); with `verify_clients` a client must present a
    certificate signed by `ca` (and by it alone, not the system's roots)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, cert, key)
    if verify_clients:
        if ca is None:
            raise TLSConfigError("a CA certificate is needed to verify clients")
        _load_ca(context, ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(ca: Pem | None = None, cert: Pem | None = None, key: Pem | None = None,
                   verify: bool = True) -> ssl.SSLContext:
    """A client context: the server verified against `ca` (the system's roots without it) unless `verify` is
    off; a client certificate when `cert` and `key` are given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if verify:
        if ca is not None:
            _load_ca(context, ca)
        else:
            context.load_default_certs()
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None and key is not None:
        _load_chain(context, cert, key)
    return context


def _load_ca(context: ssl.SSLContext, ca: Pem) -> None:
    """Trust `ca` (a path or PEM bytes)."""
    try:
        if isinstance(ca, bytes):
            context.load_verify_locations(cadata=ca.decode("ascii", "replace"))
        else:
            context.load_verify_locations(cafile=str(ca))
    except FileNotFoundError:
        raise TLSConfigError(f"could not read CA certificate \"{_name(ca)}\": open {_name(ca)}: "
                             "no such file or directory") from None
    except (OSError, ssl.SSLError, ValueError) as bad:
        raise TLSConfigError(f"failed to append certificates from PEM file: \"{_name(ca)}\": {bad}") from None


def _load_chain(context: ssl.SSLContext, cert: Pem, key: Pem) -> None:
    """Use `cert` and `key` (paths or PEM bytes; bytes go through a memfd, never to disk)."""
    for pem in (cert, key):
        if not isinstance(pem, bytes) and not os.path.exists(pem):
            raise TLSConfigError(f"Could not load X509 key pair: open {pem}: no such file or directory")
    with _as_path(cert) as cert_path, _as_path(key) as key_path:
        try:
            context.load_cert_chain(cert_path, key_path)
        except (OSError, ssl.SSLError) as bad:
            raise TLSConfigError(f"Could not load X509 key pair of \"{_name(cert)}\" and \"{_name(key)}\": "
                                 f"{bad}") from None


def _name(pem: Pem) -> str:
    """How a PEM source is named in an error."""
    return "<bytes>" if isinstance(pem, bytes) else str(pem)


@contextlib.contextmanager
def _as_path(pem: Pem):  # type: ignore[no-untyped-def]
    """A path for `pem`: itself, or an anonymous in-memory file holding the bytes."""
    if not isinstance(pem, bytes):
        yield str(pem)
        return
    fd = os.memfd_create("dockyard-pem", os.MFD_CLOEXEC)
    try:
        os.write(fd, pem)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


async def start_tls_server(handler: StreamHandler, host: str | None, port: int, context: ssl.SSLContext,
                           **server_options: object) -> asyncio.Server:
    """Listen on host:port; each connection's TLS handshake is made here and `handler` gets plain streams
    (a socket pair) on which `can_write_eof`/`write_eof` and sendfile work as on any socket."""
    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await TLSTerminator(reader, writer, context).serve(handler)

    return await asyncio.start_server(accepted, host, port, **server_options)  # type: ignore[arg-type]


class TLSTerminator:
    """One accepted TCP connection: handshake, then plaintext relayed to a handler over a socket pair, both
    directions half-closing on their own (close_notify <-> write_eof)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 context: ssl.SSLContext) -> None:
        self.raw_reader = reader
        self.raw_writer = writer
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    async def serve(self, handler: StreamHandler) -> None:
        """Handshake; then run `handler` on the plaintext side until both directions end."""
        try:
            if not await wait_within(self._handshake(), HANDSHAKE_TIMEOUT):
                return
        except (ssl.SSLError, ConnectionError, asyncio.TimeoutError) as refused:
            log.debug("TLS handshake with %s failed: %s", self.raw_writer.get_extra_info("peername"), refused)
            self.raw_writer.close()
            return
        PEER_CERTIFICATE.set(self.tls.getpeercert(binary_form=True))
        inner, outer = socket.socketpair()
        app_reader, app_writer = await asyncio.open_unix_connection(sock=inner)
        plain_reader, plain_writer = await asyncio.open_unix_connection(sock=outer)
        to_app = asyncio.ensure_future(self._to_app(plain_writer))
        to_client = asyncio.ensure_future(self._to_client(plain_reader, plain_writer))
        try:
            await handler(app_reader, app_writer)
        finally:
            app_writer.close()
            await asyncio.wait({to_client}, timeout=HANDSHAKE_TIMEOUT)  # the handler's last bytes go out
            for pump in (to_app, to_client):
                pump.cancel()
            plain_writer.close()
            self.raw_writer.close()

    async def _handshake(self) -> bool:
        """Run the handshake; False when the client left before finishing it (or spoke plain HTTP)."""
        first = True
        while True:
            try:
                self.tls.do_handshake()
                await self._flush()
                return True
            except ssl.SSLWantReadError:
                await self._flush()
                data = await self.raw_reader.read(_READ_SIZE)
                if not data:
                    self.raw_writer.close()
                    return False
                if first and data[:5] in _HTTP_STARTS:
                    self.raw_writer.write(_PLAIN_HTTP_ANSWER)  # Go's servers say so to a plain-HTTP client
                    await self.raw_writer.drain()
                    self.raw_writer.close()
                    return False
                first = False
                self.incoming.write(data)
            except ssl.SSLError:
                await self._flush()  # the alert tells the client why
                raise

    async def _flush(self) -> None:
        """Send what the TLS engine produced."""
        pending = self.outgoing.read()
        if pending:
            self.raw_writer.write(pending)
            await self.raw_writer.drain()

    async def _to_app(self, plain: asyncio.StreamWriter) -> None:
        """Client records -> plaintext for the handler; close_notify or EOF half-closes the handler's input."""
        try:
            while True:
                try:
                    data = self.tls.read(_READ_SIZE)
                except ssl.SSLWantReadError:
                    await self._flush()
                    chunk = await self.raw_reader.read(_READ_SIZE)
                    if not chunk:
                        break
                    self.incoming.write(chunk)
                    continue
                except ssl.SSLZeroReturnError:
                    break
                if not data:
                    break
                plain.write(data)
                await plain.drain()
            plain.write_eof()
        except (ssl.SSLError, ConnectionError, OSError) as broken:
            log.debug("TLS connection from client ended: %s", broken)
            plain.close()

    async def _to_client(self, plain: asyncio.StreamReader, plain_writer: asyncio.StreamWriter) -> None:
        """Handler output -> TLS records; at its end a close_notify, then the TCP write side is shut. A client
        gone closes the handler's side, so its writes fail instead of waiting for room."""
        try:
            while data := await plain.read(_READ_SIZE):
                self.tls.write(data)
                await self._flush()
            with contextlib.suppress(ssl.SSLError):
                self.tls.unwrap()  # sends close_notify; the peer's answer is not awaited
            await self._flush()
            if self.raw_writer.can_write_eof():
                self.raw_writer.write_eof()
        except (ConnectionError, OSError) as broken:
            log.debug("TLS connection to client ended: %s", broken)
            plain_writer.close()
