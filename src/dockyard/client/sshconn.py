"""`ssh://[user@]host[:port]` daemons, as the docker CLI reaches them: `ssh ... -- HOST <cli> system dial-stdio`
with the API spoken over ssh's stdin and stdout. The caller gets a socket (one end of a socket pair whose other
end is ssh's stdin and stdout), so half-close and hijacked streams work as over a unix socket."""

from __future__ import annotations

import socket
import subprocess

# The remote side: Dockyard's CLI where it is installed, else the docker CLI (both have `system dial-stdio`).
REMOTE_COMMAND = ("if command -v dockyard >/dev/null 2>&1; then exec dockyard system dial-stdio; "
                  "else exec docker system dial-stdio; fi")


def parse_ssh(url: str) -> tuple[str | None, str, str | None]:
    """(user, host, port) of "ssh://[user@]host[:port]"; ValueError for what docker refuses."""
    rest = url[len("ssh://"):]
    if not rest or "/" in rest.rstrip("/") or "?" in rest:
        raise ValueError(f"invalid SSH URL {url!r}: extra path or query after the host is not supported")
    rest = rest.rstrip("/")
    user, _, hostport = rest.rpartition("@")
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = hostport.partition(":")
    if not host:
        raise ValueError(f"invalid SSH URL {url!r}: no host specified")
    if port and not port.isdigit():
        raise ValueError(f"invalid SSH URL {url!r}: invalid port")
    return user or None, host, port or None


def ssh_argv(url: str) -> list[str]:
    """The ssh command line the docker CLI would run for `url`."""
    user, host, port = parse_ssh(url)
    argv = ["ssh", "-o", "ConnectTimeout=30", "-T"]
    if user:
        argv += ["-l", user]
    if port:
        argv += ["-p", port]
    return argv + ["--", host, REMOTE_COMMAND]


def connect(url: str) -> socket.socket:
    """Start ssh for `url` and return our end of its stdin/stdout."""
    argv = ssh_argv(url)
    mine, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=subprocess.PIPE)
    finally:
        theirs.close()
    sock = SSHSocket(fileno=mine.detach())
    sock.process, sock.argv = process, argv
    return sock


class SSHSocket(socket.socket):
    """Our end of an ssh pipe; `failure` tells, in the docker CLI's words, why ssh ended without an answer."""

    process: "subprocess.Popen[bytes] | None" = None
    argv: list[str] = []

    @property
    def failure(self) -> str | None:
        if self.process is None:
            return None
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None
        if code == 0:
            return None
        stderr = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
        return (f"command [{' '.join(self.argv)}] has exited with exit status {code}, make sure the URL is valid, "
                f"and Docker 18.09 or later is installed on the remote host: stderr={stderr}")
