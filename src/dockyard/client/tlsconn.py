"""TLS connections for the CLI: a connected plain socket (one end of a socket pair) whose other end two threads
relay through an `ssl.SSLObject`, so `shutdown(SHUT_WR)` sends a close_notify while the answer keeps coming
(docker's CloseWrite), and `makefile`/timeouts behave as on any socket. Errors read like the docker CLI's."""

from __future__ import annotations

import socket
import ssl
import threading

from dockyard.client.endpoint import TLSOptions

_READ_SIZE = 64 << 10


class TLSFailed(Exception):
    """The handshake failed; the message is the reason as the docker CLI words it."""


def context_for(options: TLSOptions) -> ssl.SSLContext:
    """The client context for `options`; unreadable files raise TLSFailed with go-connections' words."""
    from dockyard.util.tls import TLSConfigError, client_context
    try:
        return client_context(options.ca if options.verify else None, options.cert, options.key, options.verify)
    except TLSConfigError as bad:
        raise TLSFailed(str(bad)) from None


def wrap(raw: socket.socket, context: ssl.SSLContext, server_name: str) -> socket.socket:
    """Handshake over `raw`, then return the plain end of a relayed socket pair."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        while True:
            try:
                tls.do_handshake()
                raw.sendall(outgoing.read())
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                data = raw.recv(_READ_SIZE)
                if not data:
                    raise TLSFailed("EOF")
                incoming.write(data)
    except ssl.SSLError as bad:
        raw.close()
        raise TLSFailed(reason(bad)) from None
    except OSError:
        raw.close()
        raise
    raw.settimeout(None)
    mine, relayed = socket.socketpair()
    relay = _Relay(raw, relayed, tls, incoming, outgoing)
    plain = RelayedSocket(fileno=mine.detach())
    plain.relay = relay
    threading.Thread(target=relay.to_app, daemon=True).start()
    threading.Thread(target=relay.to_daemon, daemon=True).start()
    return plain


class RelayedSocket(socket.socket):
    """The app's end of a TLS relay; `failure` says why the daemon's side ended early (a TLS 1.3 daemon
    refuses a client certificate only after the handshake, with an alert on the first read)."""

    relay: "_Relay | None" = None

    @property
    def failure(self) -> str | None:
        return self.relay.failure if self.relay is not None else None


def reason(error: ssl.SSLError) -> str:
    """The docker CLI's words for a failed handshake."""
    text = str(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        message = error.verify_message or text
        if error.verify_code in (19, 20, 21):  # self-signed in chain, unknown issuer, unverifiable leaf
            message = "certificate signed by unknown authority"
        return f"tls: failed to verify certificate: x509: {message}"
    for marker, words in (("CERTIFICATE_REQUIRED", "remote error: tls: certificate required"),
                          ("UNKNOWN_CA", "remote error: tls: unknown certificate authority"),
                          ("BAD_CERTIFICATE", "remote error: tls: bad certificate"),
                          ("WRONG_VERSION_NUMBER", "http: server gave HTTP response to HTTPS client"),
                          ("RECORD_LAYER_FAILURE", "http: server gave HTTP response to HTTPS client")):
        if marker in text.upper():
            return words
    return f"tls: {error.reason or text}"


class _Relay:
    """Copies between the TCP connection (TLS records) and the socket pair (plaintext), one thread a way."""

    def __init__(self, raw: socket.socket, plain: socket.socket, tls: ssl.SSLObject, incoming: ssl.MemoryBIO,
                 outgoing: ssl.MemoryBIO) -> None:
        self.raw, self.plain, self.tls = raw, plain, tls
        self.incoming, self.outgoing = incoming, outgoing
        self.lock = threading.Lock()  # the SSLObject and sends on `raw` are shared by both threads
        self.ends = 0
        self.failure: str | None = None

    def _send_records(self) -> None:
        """Send what the TLS engine produced (called with the lock held)."""
        data = self.outgoing.read()
        if data:
            self.raw.sendall(data)

    def to_app(self) -> None:
        """Daemon -> app; the daemon's close_notify or EOF half-closes the app's input."""
        try:
            while True:
                with self.lock:
                    try:
                        data = self.tls.read(_READ_SIZE)
                    except ssl.SSLWantReadError:
                        data = None
                    except ssl.SSLZeroReturnError:
                        data = b""
                    self._send_records()
                if data is None:
                    chunk = self.raw.recv(_READ_SIZE)
                    if not chunk:
                        break
                    with self.lock:
                        self.incoming.write(chunk)
                    continue
                if not data:
                    break
                self.plain.sendall(data)
        except ssl.SSLError as bad:
            self.failure = reason(bad)  # set before the app sees its stream end
        except OSError as bad:
            self.failure = str(bad)
        try:
            self.plain.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the app closed its end already
        self._done()

    def to_daemon(self) -> None:
        """App -> daemon; the app's shutdown(SHUT_WR) becomes a close_notify (the answer keeps coming)."""
        try:
            while data := self.plain.recv(_READ_SIZE):
                with self.lock:
                    self.tls.write(data)
                    self._send_records()
            with self.lock:
                try:
                    self.tls.unwrap()
                except ssl.SSLError:
                    pass  # close_notify sent; the daemon's own is not awaited
                self._send_records()
        except (OSError, ssl.SSLError):
            pass
        self._done()

    def _done(self) -> None:
        """After both directions end, close everything."""
        with self.lock:
            self.ends += 1
            if self.ends < 2:
                return
        self.plain.close()
        self.raw.close()
