"""An API fuzz test generated from the Engine API spec (schemathesis): no 5xx for anything it sends, the daemon
alive afterwards, and the docker CLI still able to list and inspect everything the fuzzer left behind.

The daemon under test runs in a network namespace of its own with only a loopback interface: it listens on
tcp://127.0.0.1:PORT there (the fuzzer's thread joins that namespace for its requests) and on a unix socket
(for the busybox loader and the docker CLI). Nothing it does can leave the machine, and networks the fuzzer
creates (bridges, addresses, nftables rules) live and die with that namespace.

Bounded in count and time: DOCKYARD_FUZZ_COUNT requests (default 2500, about 50 s) within
DOCKYARD_FUZZ_SECONDS (default 150); DOCKYARD_FUZZ_SEED changes the examples (default: a fixed seed, so CI
runs the same cases); DOCKYARD_FUZZ_TRACE=1 prints every 4xx and the statuses per operation. The issue's
acceptance run, by hand:

    DOCKYARD_FUZZ_COUNT=10000 DOCKYARD_FUZZ_SECONDS=900 .venv/bin/python -m pytest -q -s tests/test_api_fuzz.py
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from daemon_harness import DOCKYARD, REPO, Daemon, destroy, new_daemon

schemathesis = pytest.importorskip("schemathesis")
requests = pytest.importorskip("requests")
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402

SPEC_CANDIDATES = [REPO.parent / "shared" / "specs" / "docker-engine-api-v1.45.yaml",
                   Path("/work/shared/specs/docker-engine-api-v1.45.yaml")]
PORT = 2375
COUNT = int(os.environ.get("DOCKYARD_FUZZ_COUNT", "2500"))
SECONDS = float(os.environ.get("DOCKYARD_FUZZ_SECONDS", "150"))
SEED = int(os.environ.get("DOCKYARD_FUZZ_SEED", "20240611"))
REQUEST_TIMEOUT = 20

# Operations left out, and why:
EXCLUDED = {
    "ImageCreate": "pulls from a registry or downloads fromSrc URLs (tested without the network in test_api_garbage)",
    "ImagePush": "talks to a registry",
    "ImageSearch": "talks to a registry",
    "SystemAuth": "logs in to a registry",
    "DistributionInspect": "talks to a registry",
    "PluginPull": "talks to a registry", "PluginUpgrade": "talks to a registry",
    "SystemEvents": "streams until the client leaves",
    "SwarmInit": "starts an etcd member and makes the daemon a swarm manager (tests/test_swarm.py covers it); "
                 "without it every swarm manager route must answer dockerd's 503 below",
}
# dockerd's 503s for swarm routes on a node outside any swarm (daemon/cluster/errors.go): the only 5xx allowed.
SWARM_REFUSALS = {
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to '
    'swarm and try again.',
    "This node is not part of a swarm",
}
_HEX = re.compile(r"[0-9a-f]+\Z")
CLONE_NEWNET = 0x40000000


def _raw_bytes(ctx: Any, value: Any) -> bytes:
    """Tar streams and other raw bodies: whatever the strategy drew, as bytes."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


schemathesis.serializer("application/x-tar", "application/vnd.docker.raw-stream",
                        "application/vnd.docker.multiplexed-stream")(_raw_bytes)


def _spec() -> Path:
    for path in SPEC_CANDIDATES:
        if path.is_file():
            return path
    pytest.skip("the Engine API spec (shared/specs/docker-engine-api-v1.45.yaml) is not here")


class NetnsDaemon(Daemon):
    """A daemon in a new network namespace with only `lo` up, on a unix socket and 127.0.0.1:PORT."""

    def command(self) -> list[str]:
        return ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *DOCKYARD, "daemon",
                "-H", self.host, "-H", f"tcp://127.0.0.1:{PORT}", "--data-root", str(self.data_root),
                "--exec-root", str(self.exec_root), "--config-file", str(self.config_file())]

    def start(self, wait: float = 30) -> None:
        super().start(wait)


@contextlib.contextmanager
def in_netns_of(pid: int) -> Iterator[None]:
    """Run this thread in the network namespace of `pid` (setns is per thread), then come back."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the daemon's network namespace")
        try:
            yield
        finally:
            if libc.setns(own, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back into our network namespace")
    finally:
        os.close(own)
        os.close(target)


@pytest.fixture(scope="module")
def fuzz_daemon() -> Iterator[NetnsDaemon]:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare(1) and ip(8) are needed for the fuzz daemon's network namespace")
    d = NetnsDaemon(new_daemon().base)
    try:
        d.start()
        d.load_busybox()
        yield d
        d.remove_all_containers()
    finally:
        destroy(d)


def _budgets(operations: list[Any], count: int) -> dict[str, int]:
    """Examples per operation (and per generation mode) for `count` requests: operations with a body get
    four shares."""
    weights = {op.label: 4 if op.body else 1 for op in operations}
    total = sum(weights.values()) * 2  # positive and negative
    return {label: max(1, round(count * w / total)) for label, w in weights.items()}


class Fuzz:
    """Sends cases, keeps count, collects every 5xx and every hang."""

    def __init__(self, session: Any, scratch: Path) -> None:
        self.session = session
        self.scratch = scratch
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.failures: list[str] = []
        self.skipped: set[str] = set()
        self.by_operation: dict[str, dict[int, int]] = {}
        self.deadline = time.monotonic() + SECONDS
        self.turn = 0

    def prepare(self, case: Any, positive: bool) -> None:
        """Keep the fuzzer from acting on what it created, and from writing outside its scratch dir:
        hex path parameters could be prefixes of real ids (and start a container), container names could be
        guessed later, bind sources are created on the host at create."""
        self.turn += 1
        if positive and self.turn % 2:
            # half the valid cases without NUL bytes and lone surrogates (refused up front), so they get
            # past the validation layer into the services
            for attr in ("body", "query", "path_parameters"):
                value = getattr(case, attr, None)
                if isinstance(value, (dict, list, str)):
                    setattr(case, attr, _printable(value))
        for name, value in list((case.path_parameters or {}).items()):
            if isinstance(value, str) and _HEX.match(value):
                case.path_parameters[name] = value + "-fz"
        if case.operation.label == "POST /containers/create":
            if isinstance(case.query, dict):
                case.query.pop("name", None)
            if isinstance(case.body, dict):
                if self.turn % 3:
                    case.body["Image"] = "busybox"
                self._confine(case.body)

    def _confine(self, body: dict[str, Any]) -> None:
        host = body.get("HostConfig")
        if not isinstance(host, dict):
            return
        binds = host.get("Binds")
        if isinstance(binds, list):
            host["Binds"] = [f"{self.scratch}{b}" if isinstance(b, str) and b.startswith("/") else b for b in binds]
        elif isinstance(binds, str) and binds.startswith("/"):
            host["Binds"] = f"{self.scratch}{binds}"
        mounts = host.get("Mounts")
        if isinstance(mounts, list):
            for mount in mounts:
                if isinstance(mount, dict) and isinstance(mount.get("Source"), str) \
                        and mount["Source"].startswith("/"):
                    mount["Source"] = f"{self.scratch}{mount['Source']}"

    def send(self, case: Any, positive: bool) -> None:
        if time.monotonic() > self.deadline or self.sent >= COUNT:
            return
        self.prepare(case, positive)
        self.sent += 1
        try:
            response = case.call(base_url=f"http://127.0.0.1:{PORT}/v1.45", session=self.session,
                                 timeout=REQUEST_TIMEOUT)
        except requests.exceptions.ReadTimeout:
            self.failures.append(f"HANG {case.method} {case.formatted_path} query={case.query!r:.200}")
            return
        except requests.exceptions.ConnectionError as exc:
            self.failures.append(f"CONNECTION {case.method} {case.formatted_path}: {exc!s:.200}")
            return
        status = response.status_code
        self.statuses[status] = self.statuses.get(status, 0) + 1
        per_op = self.by_operation.setdefault(case.operation.label, {})
        per_op[status] = per_op.get(status, 0) + 1
        if os.environ.get("DOCKYARD_FUZZ_TRACE") and status >= 400:
            print(f"TRACE {status} {case.method} {case.formatted_path} {response.content[:160]!r}")
        if status == 503 and _message(response) in SWARM_REFUSALS:
            return
        if status >= 500 and status != 501:
            body = case.body if not isinstance(case.body, (bytes, bytearray)) else bytes(case.body[:200])
            self.failures.append(f"{status} {case.method} {case.formatted_path} query={case.query!r:.300} "
                                 f"body={body!r:.300} -> {response.content[:300]!r}")


def _message(response: Any) -> str | None:
    """The {"message": ...} of an error response."""
    try:
        return response.json().get("message")
    except ValueError:
        return None


def _printable(value: Any) -> Any:
    """`value` with NUL bytes and lone surrogates taken out of every string and key."""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8") if not value.isascii() \
            else value.replace("\x00", "")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


def run_fuzz(fuzz: Fuzz, operations: list[Any], daemon: Daemon) -> None:
    """Prunes first (they would remove what the rest leaves for the CLI to list), then the rest; more passes
    with other seeds until COUNT requests went out (some operations have no negative cases at all)."""
    prunes = [op for op in operations if op.path.endswith("/prune")]
    fuzz_operations(fuzz, prunes, _budgets(operations, COUNT), SEED)
    if daemon.request("GET", "/images/busybox/json")[0] != 200:
        daemon.load_busybox()
    rest = [op for op in operations if op not in prunes]
    for extra in range(10):
        before = fuzz.sent
        fuzz_operations(fuzz, rest, _budgets(operations, COUNT - fuzz.sent), SEED + extra)
        if fuzz.sent >= COUNT or fuzz.sent == before or time.monotonic() > fuzz.deadline:
            return


def fuzz_operations(fuzz: Fuzz, operations: list[Any], budgets: dict[str, int], seed_value: int) -> None:
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for op in operations:
        for mode in modes:
            if time.monotonic() > fuzz.deadline:
                return
            media = "application/json" if op.body and any(
                b.media_type == "application/json" for b in op.body) else None
            strategy = op.as_strategy(generation_mode=mode, **({"media_type": media} if media else {}))

            @seed(seed_value)
            @settings(max_examples=budgets[op.label], deadline=None, database=None, phases=[Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(strategy)
            def send(case: Any) -> None:
                fuzz.send(case, mode == schemathesis.GenerationMode.POSITIVE)

            try:
                send()
            except Unsatisfiable:  # e.g. no negative case exists for an operation without parameters
                fuzz.skipped.add(f"{op.label} ({mode.value})")


def test_fuzzed_requests_get_no_5xx_and_the_cli_still_works(fuzz_daemon: NetnsDaemon, tmp_path: Path) -> None:
    schema = schemathesis.openapi.from_path(str(_spec()))
    operations = []
    for result in schema.get_all_operations():
        op = result.ok()
        if op.definition.raw.get("operationId") not in EXCLUDED:
            operations.append(op)
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: loopback only
    fuzz = Fuzz(session, tmp_path / "binds")
    started = time.monotonic()
    assert fuzz_daemon.process is not None
    with in_netns_of(fuzz_daemon.process.pid):
        run_fuzz(fuzz, operations, fuzz_daemon)
        alive = session.get(f"http://127.0.0.1:{PORT}/_ping", timeout=10).status_code
    elapsed = time.monotonic() - started
    print(f"\nfuzz: {fuzz.sent} requests over {len(operations)} operations in {elapsed:.0f}s; "
          f"statuses {dict(sorted(fuzz.statuses.items()))}; {len(fuzz.failures)} failures; "
          f"no cases could be generated for {len(fuzz.skipped)} operation modes")
    for line in fuzz.failures[:30]:
        print("  " + line)
    if os.environ.get("DOCKYARD_FUZZ_TRACE"):
        for label, statuses in sorted(fuzz.by_operation.items()):
            print(f"  {label}: {dict(sorted(statuses.items()))}")
        print("  skipped:", sorted(fuzz.skipped))
    assert fuzz_daemon.process.poll() is None, "the daemon died"
    assert alive == 200
    assert fuzz.sent >= min(COUNT, 200), "the fuzzer sent too few requests"
    assert not fuzz.failures, "\n".join(fuzz.failures[:30])
    unexpected = fuzz_daemon.log.read_text(errors="replace").count("unexpected error while serving a request")
    assert unexpected == 0, f"{unexpected} unexpected errors in {fuzz_daemon.log}"
    check_cli(fuzz_daemon)


def check_cli(daemon: Daemon) -> None:
    """docker ps -a, images, network ls, volume ls, and inspect of everything they list."""
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    listings = {}
    for args in (["ps", "-a", "-q", "--no-trunc"], ["images", "-a", "-q", "--no-trunc"], ["network", "ls", "-q"],
                 ["volume", "ls", "-q"]):
        result = daemon.docker(*args)
        assert result.returncode == 0, (args, result.stderr)
        listings[args[0]] = sorted(set(result.stdout.decode().split()))
    for args in (["ps", "-a"], ["images"], ["images", "-a", "--digests"], ["network", "ls"], ["volume", "ls"],
                 ["ps", "-a", "--format", "{{json .}}"], ["images", "--format", "{{json .}}"], ["system", "df"]):
        result = daemon.docker(*args)
        assert result.returncode == 0, (args, result.stderr)
    print(f"cli: {len(listings['ps'])} containers, {len(listings['images'])} images, "
          f"{len(listings['network'])} networks, {len(listings['volume'])} volumes")
    for kind, ids in (("container", listings["ps"]), ("image", listings["images"]),
                      ("network", listings["network"]), ("volume", listings["volume"])):
        for start in range(0, len(ids), 100):
            chunk = ids[start:start + 100]
            result = daemon.docker(kind, "inspect", *chunk, timeout=120)
            if result.returncode != 0:
                bad = [i for i in chunk if daemon.docker(kind, "inspect", i).returncode != 0]
                raise AssertionError(f"docker {kind} inspect fails for {bad}: {result.stderr[-2000:]!r}")
            json.loads(result.stdout)
