"""A daemon in a network namespace "host" serving the API on tcp://<its address>:2376 with mutual TLS, used from
another namespace by the real docker CLI and the Docker SDK, as a user with the right certificates would; without
a certificate, or with one from another CA, nothing runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from daemon_harness import DOCKYARD, REPO
from helpers import unique, wait_for
from netns_hosts import Lan, NetnsDaemon, entered, leftovers, retire
from registry_fixtures import wait_http
from test_tty_exec import busybox_shell_session

PREFIX = "dytls"
pytestmark = pytest.mark.skipif(shutil.which("nsenter") is None or shutil.which("ip") is None,
                                reason="nsenter(1) and ip(8) are needed for namespace hosts")


@dataclass
class TLSHost:
    """The LAN, the TLS daemon on its first host, and the certificate folders."""

    lan: Lan
    daemon: NetnsDaemon
    certs: Path         # ca.pem, server-*.pem; client/ holds a client's ca.pem, cert.pem, key.pem
    stranger: Path      # a client folder whose certificate another CA signed
    home: Path          # DOCKER_CONFIG of the clients
    registry: str       # host:port of a registry in the switch namespace

    @property
    def url(self) -> str:
        return f"tcp://{self.lan.hosts[0].address}:2376"

    def docker(self, *args: str, certs: Path | None = None, tls: bool = True,
               input: bytes | None = None) -> subprocess.CompletedProcess:
        """The docker CLI in the switch namespace against the TLS daemon."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_CONFIG=str(self.home), DOCKER_BUILDKIT="0")
        flags = ["-H", self.url]
        if tls:
            folder = certs or self.certs / "client"
            flags += ["--tlsverify", "--tlscacert", str(folder / "ca.pem")]
            if (folder / "cert.pem").exists():
                flags += ["--tlscert", str(folder / "cert.pem"), "--tlskey", str(folder / "key.pem")]
        return self.lan.switch.run(["docker", *flags, *args], env=env, input=input)

    def docker_ok(self, *args: str) -> str:
        result = self.docker(*args)
        assert result.returncode == 0, (result.stdout, result.stderr)
        return result.stdout.decode().strip()


@pytest.fixture(scope="module")
def tls_host() -> Iterator[TLSHost]:
    """A one-host LAN; the daemon's TLS settings come from daemon.json (its -H flags from the command line)."""
    base = Path(tempfile.mkdtemp(prefix="dytls-"))
    with Lan(PREFIX, 1) as lan:
        host = lan.hosts[0]
        for folder, names in (("certs", [host.address, "localhost"]), ("other", [host.address])):
            made = subprocess.run(DOCKYARD + ["tls", "create", "--dir", str(base / folder), *names], cwd=REPO,
                                  capture_output=True, timeout=60)
            assert made.returncode == 0, made
        registry_root = base / "registry"
        registry_root.mkdir()
        registry = subprocess.Popen(lan.switch.prefix() + DOCKYARD + [
            "registry", "serve", "--addr", f"{lan.switch.address}:5000", "--root", str(registry_root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        daemon = NetnsDaemon(host, base / "daemon", ["-H", f"tcp://{host.address}:2376"])
        daemon.base.mkdir()
        daemon.config_file().write_text(json.dumps({
            "tlsverify": True, "tlscacert": str(base / "certs/ca.pem"), "tlscert": str(base / "certs/server-cert.pem"),
            "tlskey": str(base / "certs/server-key.pem"), "insecure-registries": [f"{lan.switch.address}:5000"]}))
        try:
            daemon.start()
            daemon.load_busybox()
            with entered(lan.switch):
                wait_http(f"http://{lan.switch.address}:5000/v2/", registry)
            assert lan.subnet + "." not in subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True,
                                                          check=True).stdout  # only in our namespaces
            yield TLSHost(lan, daemon, base / "certs", base / "other/client", base / "home",
                          f"{lan.switch.address}:5000")
        finally:
            registry.terminate()
            registry.wait(20)
            retire(daemon, base)
    assert not leftovers(f"{PREFIX}-{lan.run_id}")


def test_docker_cli_runs_execs_and_follows_logs_over_mutual_tls(tls_host: TLSHost) -> None:
    assert tls_host.docker_ok("run", "--rm", "busybox", "echo", "over tls") == "over tls"
    assert tls_host.docker_ok("version", "--format", "{{.Server.Os}}") == "linux"
    # stdin ends (the client's close_notify) while the container still writes: its output still arrives
    piped = tls_host.docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; sleep 0.3; echo after eof",
                            input=b"piped\n")
    assert piped.returncode == 0 and piped.stdout == b"piped\nafter eof\n", piped
    name = unique("tls")
    tls_host.docker_ok("run", "-d", "--name", name, "busybox", "sh", "-c", "echo one; sleep 1; echo two")
    assert tls_host.docker_ok("exec", name, "echo", "exec ok") == "exec ok"
    execd = tls_host.docker("exec", "-i", name, "cat", input=b"to exec\n")
    assert execd.stdout == b"to exec\n", execd
    assert tls_host.docker_ok("logs", "-f", name).splitlines() == ["one", "two"]  # ends with the container
    assert tls_host.docker_ok("wait", name) == "0"
    tls_host.docker_ok("rm", name)


def test_build_events_and_push_over_tls(tls_host: TLSHost, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY hello /hello\nRUN cat /hello > /copy\nCMD cat /copy\n")
    (tmp_path / "hello").write_text("built over tls\n")
    tag = f"{tls_host.registry}/tls/{unique('img')}:1"
    since = str(int(time.time()) - 1)
    tls_host.docker_ok("build", "-q", "-t", tag, str(tmp_path))
    assert tls_host.docker_ok("run", "--rm", tag) == "built over tls"
    events = tls_host.docker_ok("events", "--since", since, "--until", str(int(time.time()) + 1),
                                "--filter", "type=image", "--format", "{{.Action}}")
    assert "tag" in events.split()
    pushed = tls_host.docker("push", tag)
    assert pushed.returncode == 0 and b"digest: sha256:" in pushed.stdout, pushed
    tls_host.docker_ok("rmi", tag)


def shell_in_terminal(tls_host: TLSHost, client: list[str]) -> None:
    """`<client> run -it --rm busybox sh` in tmux, in the switch namespace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(tls_host.home)
    busybox_shell_session(tls_host.lan.switch.prefix() + client, env)


def test_run_it_in_a_terminal_over_tls(tls_host: TLSHost) -> None:
    shell_in_terminal(tls_host, ["docker", *_flags(tls_host)])


def test_refused_without_a_certificate_or_with_another_cas(tls_host: TLSHost) -> None:
    before = tls_host.daemon.api("GET", "/containers/json?all=1")
    bare = tls_host.certs / "bare"
    bare.mkdir(exist_ok=True)
    shutil.copy(tls_host.certs / "ca.pem", bare / "ca.pem")
    no_cert = tls_host.docker("run", "--rm", "busybox", "echo", "must not run", certs=bare)
    assert no_cert.returncode != 0 and b"certificate required" in no_cert.stderr, no_cert
    # a client certificate from another CA; it trusts the right server CA, so only the client side fails
    shutil.copy(tls_host.certs / "ca.pem", tls_host.stranger / "ca.pem")
    stranger = tls_host.docker("run", "--rm", "busybox", "echo", "must not run", certs=tls_host.stranger)
    assert stranger.returncode != 0 and b"tls:" in stranger.stderr, stranger
    plain = tls_host.docker("ps", tls=False)
    assert plain.returncode != 0
    assert b"Client sent an HTTP request to an HTTPS server." in plain.stderr, plain
    assert tls_host.daemon.api("GET", "/containers/json?all=1") == before


def test_docker_sdk_with_tls_config(tls_host: TLSHost, monkeypatch: pytest.MonkeyPatch) -> None:
    import docker
    from docker.tls import TLSConfig

    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets these override TLSConfig's CA
        monkeypatch.delenv(name, raising=False)
    client_dir = tls_host.certs / "client"
    base_url = f"https://{tls_host.lan.hosts[0].address}:2376"
    with entered(tls_host.lan.switch):
        good = docker.DockerClient(base_url=base_url, tls=TLSConfig(
            client_cert=(str(client_dir / "cert.pem"), str(client_dir / "key.pem")), ca_cert=str(client_dir / "ca.pem"),
            verify=True))
        try:
            assert good.containers.run("busybox", ["echo", "sdk"], remove=True) == b"sdk\n"
        finally:
            good.close()
        with pytest.raises(docker.errors.DockerException, match="CERTIFICATE_REQUIRED"):
            docker.DockerClient(base_url=base_url, tls=TLSConfig(ca_cert=str(client_dir / "ca.pem"), verify=True))


def test_tls_create_writes_keys_0600_and_reuses_its_ca(tls_host: TLSHost, tmp_path: Path) -> None:
    certs = tls_host.certs
    for key in (certs / "ca-key.pem", certs / "server-key.pem", certs / "client/key.pem"):
        assert key.stat().st_mode & 0o777 == 0o600, key
    assert (certs / "client").stat().st_mode & 0o777 == 0o700
    for name in ("ca.pem", "ca-key.pem"):  # a second client of the same CA, made elsewhere
        shutil.copy(certs / name, tmp_path / name)
    again = subprocess.run(DOCKYARD + ["tls", "create", "--dir", str(tmp_path), "--client-name", "second",
                                       tls_host.lan.hosts[0].address], cwd=REPO, capture_output=True, timeout=60)
    assert again.returncode == 0, again
    assert (tmp_path / "ca.pem").read_bytes() == (certs / "ca.pem").read_bytes()
    second = tls_host.docker("ps", "-q", certs=tmp_path / "client")
    assert second.returncode == 0, second
    refused = subprocess.run(DOCKYARD + ["tls", "create", "--dir", str(tmp_path / "x"), "--days", "0", "x"], cwd=REPO,
                             capture_output=True, timeout=60)
    assert refused.returncode == 1 and b"--days must be a positive number of days" in refused.stderr


def _daemon(args: list[str], base: Path, netns: list[str] | None = None) -> subprocess.Popen:
    """Start a throwaway daemon with `args` (a config file of its own)."""
    (base / "daemon.json").write_text("{}")
    return subprocess.Popen((netns or []) + DOCKYARD + [
        "daemon", "-H", f"unix://{base}/d.sock", "--data-root", str(base / "data"), "--exec-root",
        str(base / "exec"), "--config-file", str(base / "daemon.json"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)


def test_plain_tcp_on_a_network_address_is_refused_unless_tls_false(tls_host: TLSHost, tmp_path: Path) -> None:
    address = tls_host.lan.hosts[0].address
    refused = _daemon(["-H", f"tcp://{address}:2375"], tmp_path, tls_host.lan.hosts[0].prefix())
    output = refused.communicate(timeout=60)[0].decode()
    assert refused.returncode == 1
    assert f"refusing to listen on tcp://{address}:2375 without --tlsverify" in output
    assert not (tmp_path / "data").exists()  # nothing was set up
    allowed = _daemon(["-H", f"tcp://{address}:2375", "--tls=false"], tmp_path, tls_host.lan.hosts[0].prefix())
    try:
        with entered(tls_host.lan.switch):
            import urllib.request

            def pong() -> bool:
                try:
                    return urllib.request.urlopen(f"http://{address}:2375/_ping", timeout=2).read() == b"OK"
                except OSError:
                    return allowed.poll() is not None
            wait_for(pong, 30, "the plain daemon to answer")
        assert allowed.poll() is None
    finally:
        allowed.send_signal(signal.SIGTERM)
        output = allowed.communicate(timeout=60)[0].decode()
    assert "Binding to IP address without --tlsverify is insecure and gives root access" in output


def test_tls_flags_and_bad_files(tls_host: TLSHost, tmp_path: Path) -> None:
    """The same settings as flags work (loopback of the host namespace, unix socket beside it); a missing key
    file stops the daemon with dockerd's words."""
    certs = tls_host.certs
    missing = _daemon(["-H", "tcp://127.0.0.1:2376", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                       "--tlscert", str(certs / "server-cert.pem"), "--tlskey", str(tmp_path / "nokey.pem")],
                      tmp_path, tls_host.lan.hosts[0].prefix())
    output = missing.communicate(timeout=60)[0].decode()
    assert missing.returncode == 1
    assert f"invalid TLS configuration: Could not load X509 key pair: open {tmp_path}/nokey.pem" in output
    flagged = _daemon(["-H", "tcp://127.0.0.1:2376", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                       "--tlscert", str(certs / "server-cert.pem"), "--tlskey", str(certs / "server-key.pem")],
                      tmp_path, tls_host.lan.hosts[0].prefix())
    client = certs / "client"
    try:
        def answered() -> bool:
            assert flagged.poll() is None, flagged.communicate()[0]
            return tls_host.lan.hosts[0].run(
                ["docker", "-H", "tcp://localhost:2376", "--tlsverify", "--tlscacert", str(client / "ca.pem"),
                 "--tlscert", str(client / "cert.pem"), "--tlskey", str(client / "key.pem"), "version"],
                env={**os.environ, "DOCKER_CONFIG": str(tls_host.home)}).returncode == 0
        wait_for(answered, 30, "the flag-configured TLS daemon to answer")
    finally:
        flagged.send_signal(signal.SIGTERM)
        flagged.communicate(timeout=60)
    (tmp_path / "daemon.json").write_text('{"tlsverify": true}')
    conflict = subprocess.run(DOCKYARD + ["daemon", "--tlsverify", "--config-file", str(tmp_path / "daemon.json"),
                                          "--data-root", str(tmp_path / "data")], capture_output=True, timeout=60,
                              cwd=REPO)
    assert conflict.returncode == 1
    assert b"specified both as a flag and in the configuration file: tlsverify" in conflict.stderr


def _dockyard(tls_host: TLSHost, *args: str, env: dict[str, str] | None = None,
              input: bytes | None = None) -> subprocess.CompletedProcess:
    """Our CLI in the switch namespace (no DOCKER_* variables but those given)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    clean.update(env or {})
    return tls_host.lan.switch.run(DOCKYARD + list(args), env=clean, input=input, cwd=REPO)


def _flags(tls_host: TLSHost, folder: Path | None = None) -> list[str]:
    folder = folder or tls_host.certs / "client"
    return ["-H", tls_host.url, "--tlsverify", "--tlscacert", str(folder / "ca.pem"), "--tlscert",
            str(folder / "cert.pem"), "--tlskey", str(folder / "key.pem")]


def test_dockyard_cli_over_tls_with_flags(tls_host: TLSHost, tmp_path: Path) -> None:
    ran = _dockyard(tls_host, *_flags(tls_host), "run", "--rm", "busybox", "echo", "dockyard tls")
    assert ran.returncode == 0 and ran.stdout == b"dockyard tls\n", ran
    # our half-close over TLS (close_notify) keeps the answer coming after stdin ends
    piped = _dockyard(tls_host, *_flags(tls_host), "run", "--rm", "-i", "busybox", "sh", "-c",
                      "cat; sleep 0.3; echo after eof", input=b"piped\n")
    assert piped.returncode == 0 and piped.stdout == b"piped\nafter eof\n", piped
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo from-build > /b\nCMD cat /b\n")
    tag = unique("tlsbuild")
    built = _dockyard(tls_host, *_flags(tls_host), "build", "-q", "-t", tag, str(tmp_path))
    assert built.returncode == 0, built
    assert tls_host.docker_ok("run", "--rm", tag) == "from-build"
    tls_host.docker_ok("rmi", tag)


def test_dockyard_cli_tls_from_the_environment_and_default_files(tls_host: TLSHost, tmp_path: Path) -> None:
    client = tls_host.certs / "client"
    by_env = _dockyard(tls_host, "version", "--format", "{{.Server.Os}}", env={
        "DOCKER_HOST": tls_host.url, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(client)})
    assert by_env.returncode == 0 and by_env.stdout == b"linux\n", by_env
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(client / name, home / ".docker" / name)
    by_default = _dockyard(tls_host, "-H", tls_host.url, "--tlsverify", "ps", "-q", env={"HOME": str(home)})
    assert by_default.returncode == 0, by_default


def test_dockyard_cli_tls_errors_read_like_dockers(tls_host: TLSHost) -> None:
    client = tls_host.certs / "client"
    address = tls_host.lan.hosts[0].address
    no_cert = _dockyard(tls_host, "-H", tls_host.url, "--tlsverify", "--tlscacert", str(client / "ca.pem"), "ps")
    assert no_cert.returncode == 1
    assert no_cert.stderr.decode() == (f'error during connect: Get "https://{address}:2376/_ping": '
                                       "remote error: tls: certificate required\n")
    wrong_ca = _dockyard(tls_host, "-H", tls_host.url, "--tlsverify", "--tlscacert",  # trusting another CA
                         str(tls_host.stranger.parent / "ca.pem"), "--tlscert", str(client / "cert.pem"),
                         "--tlskey", str(client / "key.pem"), "ps")
    wrong_ca_text = wrong_ca.stderr.decode()
    assert wrong_ca.returncode == 1
    assert "tls: failed to verify certificate: x509: certificate signed by unknown authority" in wrong_ca_text
    plain = _dockyard(tls_host, "-H", tls_host.url, "ps")
    assert plain.returncode == 1
    assert plain.stderr == b"Error response from daemon: Client sent an HTTP request to an HTTPS server.\n"
    missing = _dockyard(tls_host, "-H", tls_host.url, "--tlsverify", "--tlscacert", "/nonexistent/ca.pem", "ps")
    assert missing.returncode == 1
    assert missing.stderr == (b"Failed to initialize: unable to resolve docker endpoint: open /nonexistent/ca.pem: "
                              b"no such file or directory\n")


def test_dockyard_run_it_over_tls(tls_host: TLSHost) -> None:
    shell_in_terminal(tls_host, DOCKYARD + _flags(tls_host))


def _both(tls_host: TLSHost, config: Path, *args: str, cli: str = "dockyard",
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`dockyard` or `docker` in the switch namespace with DOCKER_CONFIG=config (no other DOCKER_* variable)."""
    argv = DOCKYARD + list(args) if cli == "dockyard" else ["docker", *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    clean.update(DOCKER_CONFIG=str(config), **(env or {}))
    return tls_host.lan.switch.run(argv, env=clean, cwd=REPO)


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    return result.stdout.decode()


def _docker_spec(tls_host: TLSHost) -> str:
    client = tls_host.certs / "client"
    return f"host={tls_host.url},ca={client / 'ca.pem'},cert={client / 'cert.pem'},key={client / 'key.pem'}"


def test_context_made_by_docker_works_in_dockyard(tls_host: TLSHost, tmp_path: Path) -> None:
    _ok(_both(tls_host, tmp_path, "context", "create", "remote", "--description", "netns host",
              "--docker", _docker_spec(tls_host), cli="docker"))
    assert _ok(_both(tls_host, tmp_path, "--context", "remote", "run", "--rm", "busybox", "echo", "by context")) \
        == "by context\n"
    assert _ok(_both(tls_host, tmp_path, "version", "--format", "{{.Server.Os}}",
                     env={"DOCKER_CONTEXT": "remote"})) == "linux\n"
    _ok(_both(tls_host, tmp_path, "context", "use", "remote", cli="docker"))
    assert _ok(_both(tls_host, tmp_path, "context", "show")) == "remote\n"
    assert " Context:    remote\n" in _ok(_both(tls_host, tmp_path, "info"))
    assert _ok(_both(tls_host, tmp_path, "ps", "-a", "--format", "{{.Names}}")) is not None  # currentContext
    listed = _ok(_both(tls_host, tmp_path, "context", "ls")).splitlines()
    assert listed[0].split() == ["NAME", "DESCRIPTION", "DOCKER", "ENDPOINT", "ERROR"]
    remote = next(line for line in listed if line.startswith("remote"))
    assert remote.split()[:2] == ["remote", "*"] and tls_host.url in remote and "netns host" in remote
    inspected = json.loads(_ok(_both(tls_host, tmp_path, "context", "inspect", "remote")))
    assert inspected[0]["TLSMaterial"] == {"docker": ["ca.pem", "cert.pem", "key.pem"]}
    assert inspected[0]["Endpoints"]["docker"] == {"Host": tls_host.url, "SkipTLSVerify": False}


def test_context_made_by_dockyard_works_in_docker(tls_host: TLSHost, tmp_path: Path) -> None:
    made = _both(tls_host, tmp_path, "context", "create", "mine", "--docker", _docker_spec(tls_host))
    assert made.returncode == 0 and made.stdout == b"mine\n" and made.stderr == b'Successfully created context "mine"\n'
    assert _ok(_both(tls_host, tmp_path, "--context", "mine", "run", "--rm", "busybox", "echo", "from docker",
                     cli="docker")) == "from docker\n"
    used = _both(tls_host, tmp_path, "context", "use", "mine")
    assert used.stderr == b'Current context is now "mine"\n'
    assert json.loads((tmp_path / "config.json").read_text())["currentContext"] == "mine"
    assert _ok(_both(tls_host, tmp_path, "context", "show", cli="docker")) == "mine\n"
    _ok(_both(tls_host, tmp_path, "ps", cli="docker"))
    key_dir = tmp_path / "contexts/tls" / __import__("hashlib").sha256(b"mine").hexdigest() / "docker"
    assert (key_dir / "key.pem").stat().st_mode & 0o777 == 0o600
    # export from ours, import into docker's, and back
    _ok(_both(tls_host, tmp_path, "context", "export", "mine", str(tmp_path / "mine.tar")))
    _ok(_both(tls_host, tmp_path, "context", "import", "again", str(tmp_path / "mine.tar"), cli="docker"))
    _ok(_both(tls_host, tmp_path, "--context", "again", "version", cli="docker"))
    _ok(_both(tls_host, tmp_path, "context", "export", "again", str(tmp_path / "again.tar"), cli="docker"))
    _ok(_both(tls_host, tmp_path, "context", "import", "third", str(tmp_path / "again.tar")))
    _ok(_both(tls_host, tmp_path, "--context", "third", "ps"))
    _ok(_both(tls_host, tmp_path, "context", "update", "third", "--description", "updated"))
    assert "updated" in _ok(_both(tls_host, tmp_path, "context", "ls", cli="docker"))
    in_use = _both(tls_host, tmp_path, "context", "rm", "mine")
    assert in_use.returncode == 1 and in_use.stderr == b'context "mine" is in use, set -f flag to force remove\n'
    assert _ok(_both(tls_host, tmp_path, "context", "rm", "-f", "mine", "again", "third")) == "mine\nagain\nthird\n"
    assert "currentContext" not in json.loads((tmp_path / "config.json").read_text())
    assert _ok(_both(tls_host, tmp_path, "context", "ls", "-q", cli="docker")) == "default\n"


def test_context_errors(tls_host: TLSHost, tmp_path: Path) -> None:
    down = f"tcp://{tls_host.lan.switch.address}:9"  # nothing listens there
    _ok(_both(tls_host, tmp_path, "context", "create", "down", "--docker", f"host={down}"))
    refused = _both(tls_host, tmp_path, "--context", "down", "ps")
    assert refused.returncode == 1
    assert refused.stderr.decode() == f"Cannot connect to the Docker daemon at {down}. Is the docker daemon running?\n"
    missing = _both(tls_host, tmp_path, "--context", "nope", "ps")
    assert missing.returncode == 1
    assert missing.stderr.decode().startswith('Failed to initialize: unable to resolve docker endpoint: context "nope": '
                                              "context not found: open ")
    both = _both(tls_host, tmp_path, "--context", "down", "-H", tls_host.url, "ps")
    assert both.returncode == 1 and both.stderr == b"conflicting options: cannot specify both --host and --context\n"
    bad = _both(tls_host, tmp_path, "context", "create", "-bad")
    assert bad.returncode != 0
    taken = _both(tls_host, tmp_path, "context", "create", "down", "--docker", f"host={down}")
    assert taken.returncode == 1 and taken.stderr == b'context "down" already exists\n'


def test_server_only_tls_with_tlsverify_false(tls_host: TLSHost, tmp_path: Path) -> None:
    """`--tls --tlsverify=false`: encrypted, no client certificate asked; clients with `--tls` (no check of the
    daemon) or `--tlsverify` and only the CA both work."""
    certs, host = tls_host.certs, tls_host.lan.hosts[0]
    daemon = _daemon(["-H", f"tcp://{host.address}:2377", "--tls", "--tlsverify=false", "--tlscacert",
                      str(certs / "ca.pem"), "--tlscert", str(certs / "server-cert.pem"), "--tlskey",
                      str(certs / "server-key.pem")], tmp_path, host.prefix())
    url = f"tcp://{host.address}:2377"
    try:
        def answered() -> bool:
            assert daemon.poll() is None, daemon.communicate()[0]
            return _dockyard(tls_host, "-H", url, "--tls", "version").returncode == 0
        wait_for(answered, 30, "the server-only TLS daemon to answer")
        only_ca = tls_host.lan.switch.run(["docker", "-H", url, "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
                                           "version", "--format", "{{.Server.Os}}"],
                                          env={**os.environ, "DOCKER_CONFIG": str(tls_host.home)})
        assert only_ca.returncode == 0 and only_ca.stdout == b"linux\n", only_ca
        ours = _dockyard(tls_host, "-H", url, "--tlsverify", "--tlscacert", str(certs / "ca.pem"), "ps", "-q")
        assert ours.returncode == 0, ours
    finally:
        daemon.send_signal(signal.SIGTERM)
        output = daemon.communicate(timeout=60)[0].decode()
    assert "Binding to IP address without --tlsverify is insecure" in output


def test_hosts_and_tls_from_daemon_json_only(tls_host: TLSHost, tmp_path: Path) -> None:
    """daemon.json's `hosts` (a unix socket and a TLS tcp listener at once) and TLS keys, no flags, as dockerd
    reads them; `-H` beside `hosts` in the file is refused with dockerd's words."""
    certs, host = tls_host.certs, tls_host.lan.hosts[0]
    url, sock = f"tcp://{host.address}:2378", tmp_path / "d.sock"
    config = tmp_path / "daemon.json"
    config.write_text(json.dumps({
        "hosts": [f"unix://{sock}", url], "tlsverify": True, "tlscacert": str(certs / "ca.pem"),
        "tlscert": str(certs / "server-cert.pem"), "tlskey": str(certs / "server-key.pem")}))
    daemon = subprocess.Popen(host.prefix() + DOCKYARD + [
        "daemon", "--data-root", str(tmp_path / "data"), "--exec-root", str(tmp_path / "exec"), "--config-file",
        str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        listening = _flags(tls_host)
        listening[1] = url

        def both_answer() -> bool:
            assert daemon.poll() is None, daemon.communicate()[0]
            return _dockyard(tls_host, *listening, "version").returncode == 0
        wait_for(both_answer, 30, "the daemon.json-configured TLS daemon to answer")
        unix = subprocess.run(["docker", "-H", f"unix://{sock}", "version", "--format", "{{.Server.Os}}"],
                              capture_output=True, timeout=60, env={**os.environ, "DOCKER_CONFIG": str(tls_host.home)})
        assert unix.returncode == 0 and unix.stdout == b"linux\n", unix
        no_cert = _dockyard(tls_host, "-H", url, "--tlsverify", "--tlscacert", str(certs / "ca.pem"), "ps")
        assert no_cert.returncode == 1 and b"tls: certificate required" in no_cert.stderr, no_cert
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
    clash = subprocess.run(DOCKYARD + ["daemon", "-H", f"unix://{sock}", "--config-file", str(config),
                                       "--data-root", str(tmp_path / "data")], capture_output=True, timeout=60, cwd=REPO)
    assert clash.returncode == 1
    assert b"specified both as a flag and in the configuration file: hosts" in clash.stderr
