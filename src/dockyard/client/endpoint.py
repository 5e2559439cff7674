"""Where the CLI connects: a daemon address plus its TLS settings, from flags and the environment as the
docker CLI resolves them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass
class TLSOptions:
    """Client TLS files (None: not used) and whether the daemon's certificate is verified."""

    ca: str | None
    cert: str | None
    key: str | None
    verify: bool


def default_cert_path() -> str:
    """DOCKER_CERT_PATH, else the client configuration directory (DOCKER_CONFIG or ~/.docker)."""
    return (os.environ.get("DOCKER_CERT_PATH") or os.environ.get("DOCKER_CONFIG")
            or os.path.join(os.path.expanduser("~"), ".docker"))


@dataclass
class Endpoint:
    """A daemon address ("unix://…", "tcp://…", "ssh://…") and how to secure a tcp connection to it."""

    host: str
    tls: TLSOptions | None = None
    name: str = field(default="", compare=False)  # the context it came from, if any


@dataclass
class TLSFlags:
    """The global --tls* flags as given (None: not given on the command line)."""

    tls: bool = False
    verify: bool | None = None
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    def given(self) -> bool:
        """Whether any TLS flag or variable asks for TLS (a context's own TLS is then overridden)."""
        return (self.tls or self.verify is not None or bool(os.environ.get("DOCKER_TLS_VERIFY"))
                or bool(os.environ.get("DOCKER_TLS")) or any((self.ca, self.cert, self.key)))


def tls_options(flags: TLSFlags) -> TLSOptions | None:
    """The docker CLI's rules: --tlsverify (given at all, or DOCKER_TLS_VERIFY) implies --tls; --tls alone
    does not verify the daemon; files default to DOCKER_CERT_PATH (or the config directory), and a default
    client certificate or key that does not exist is left out."""
    verify = flags.verify if flags.verify is not None else bool(os.environ.get("DOCKER_TLS_VERIFY"))
    use_tls = flags.tls or bool(os.environ.get("DOCKER_TLS")) or flags.verify is not None or verify
    if not use_tls:
        return None
    base = default_cert_path()
    cert = flags.cert or _existing(os.path.join(base, "cert.pem"))
    key = flags.key or _existing(os.path.join(base, "key.pem"))
    return TLSOptions(ca=flags.ca or os.path.join(base, "ca.pem"), cert=cert, key=key, verify=verify)


def missing_file(tls: TLSOptions) -> str | None:
    """The docker CLI's start-up error for a TLS file that does not exist, or None."""
    for path in ((tls.ca if tls.verify else None), tls.cert, tls.key):
        if path is not None and not os.path.exists(path):
            return f"open {path}: no such file or directory"
    return None


def _existing(path: str) -> str | None:
    """`path` when the file exists, else None."""
    return path if os.path.exists(path) else None


def tcp_default_port(host: str, tls: bool) -> str:
    """A tcp host without a port gets 2376 with TLS, 2375 without (the docker CLI's ParseHost)."""
    if not host.startswith("tcp://"):
        return host
    rest = host[len("tcp://"):].rstrip("/")
    has_port = rest.rpartition("]")[2].count(":") == 1 if rest.startswith("[") else ":" in rest
    return host if has_port else f"tcp://{rest}:{2376 if tls else 2375}"
