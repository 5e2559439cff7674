"""Node certificates over a swarm's life on three namespace hosts, with the docker CLI: renewal before they expire
(tests shorten swarmkit's hour with DOCKYARD_TEST_CERT_HOUR, so a 20 s NodeCertExpiry is allowed and renewals come
every few seconds) while sessions and tasks go on, `swarm update --cert-expiry` refused below the minimum and
followed by later renewals, and root rotations — `docker swarm ca --rotate` waiting until every node has the new
root (new join tokens, an old token refused, workers still getting tasks, a worker joining with the new token), a
given root with `--detach`, dockyard's own CLI — then a manager restart signing with the last root's key."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from pathlib import Path

import pytest
from cryptography import x509

from dockyard.cluster.ca.nodecert import TEST_HOUR_ENV
from dockyard.cluster.ca.root import RootCA
from netns_hosts import NetnsDaemon
from swarm_hosts import nodes, swarm_of_three
from test_swarm_services import eventually

PREFIX = "dyc"


def node_cert(d: NetnsDaemon) -> x509.Certificate:
    """The node's certificate as its files hold it."""
    return x509.load_pem_x509_certificate((d.data_root / "swarm" / "certificates" / "swarm-node.crt").read_bytes())


def trust_root(d: NetnsDaemon) -> str:
    """The root the node's files trust."""
    return (d.data_root / "swarm" / "certificates" / "swarm-root-ca.crt").read_text()


def renewed(d: NetnsDaemon, seen: set[int], times: int) -> bool:
    """Whether the node's certificate file has held `times` more serials than `seen` started with."""
    seen.add(node_cert(d).serial_number)
    return len(seen) > times


def swarm_json(manager: NetnsDaemon) -> dict:
    """`docker swarm` state as `docker info` shows it."""
    return json.loads(manager.docker_ok("info", "--format", "{{json .Swarm.Cluster}}"))


def nodes_tls(manager: NetnsDaemon) -> list[dict]:
    """Every node's TLSInfo (`docker node inspect`)."""
    ids = manager.docker_ok("node", "ls", "-q").split()
    return [n["Description"]["TLSInfo"] for n in json.loads(manager.docker_ok("node", "inspect", *ids))]


def spread(manager: NetnsDaemon, service: str, daemons: list[NetnsDaemon]) -> None:
    """A service of 6 replicas runs tasks on every host."""
    manager.docker_ok("service", "create", "--detach", "--name", service, "--replicas", "6", "busybox",
                      "sleep", "600")
    eventually(f"{service} on every host", lambda: all(
        d.docker_ok("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}") for d in daemons))


def test_renewal_and_root_rotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_HOUR_ENV, "10")  # daemons started below inherit it: 10 s minimum, 10 s backdate
    with swarm_of_three(PREFIX, tmp_path, ("--cert-expiry", "20s")) as swarm:
        manager, w1, w2 = swarm.daemons
        h1, _, h3 = (h.address for h in swarm.lan.hosts)
        first = node_cert(w1)
        assert first.not_valid_after_utc - first.not_valid_before_utc == datetime.timedelta(seconds=30)
        too_short = manager.docker("swarm", "update", "--cert-expiry", "5s")
        assert too_short.returncode == 1
        assert too_short.stderr.decode().strip() == ("Error response from daemon: rpc error: code = InvalidArgument "
                                                     "desc = minimum certificate expiry time is: 10s")

        # renewal: workers and the manager get new certificates (new serial, later notAfter) before theirs expire,
        # well past the first certificates' end the sessions still work and tasks still land on every host
        seen = {d.socket: {node_cert(d).serial_number} for d in swarm.daemons}
        eventually("two renewals on every node", lambda: all(renewed(d, seen[d.socket], 2) for d in swarm.daemons),
                   deadline=60)
        assert node_cert(w1).not_valid_after_utc > first.not_valid_after_utc
        manager.docker_ok("swarm", "update", "--cert-expiry", "15s")  # renewed certificates follow the new expiry
        validity = datetime.timedelta(seconds=15 + 10)
        eventually("renewals with the new expiry", lambda: all(
            node_cert(d).not_valid_after_utc - node_cert(d).not_valid_before_utc == validity for d in swarm.daemons))
        time.sleep(max(0.0, (first.not_valid_after_utc.timestamp() - time.time())) + 2)
        assert list(nodes(manager).values()) == [("Ready", "Active")] * 3
        spread(manager, "before", swarm.daemons)
        root = swarm_json(manager)["TLSInfo"]["TrustRoot"]
        assert all(tls["TrustRoot"] == root for tls in nodes_tls(manager))

        # rotation with the docker CLI, waiting for convergence
        old_token = manager.docker_ok("swarm", "join-token", "-q", "worker")
        assert manager.docker_ok("swarm", "ca") == root.strip()
        rotated = manager.docker("swarm", "ca", "--rotate", timeout=120)
        assert rotated.returncode == 0, rotated.stderr
        new_root = swarm_json(manager)["TLSInfo"]["TrustRoot"]
        assert new_root != root and rotated.stdout.decode().rstrip().endswith(new_root.strip())
        assert manager.docker_ok("swarm", "ca") == new_root.strip()
        assert swarm_json(manager)["RootRotationInProgress"] is False
        assert all(tls["TrustRoot"] == new_root for tls in nodes_tls(manager))
        eventually("every node trusts the new root", lambda: all(trust_root(d) == new_root for d in swarm.daemons))
        new_token = manager.docker_ok("swarm", "join-token", "-q", "worker")
        assert new_token.split("-")[2] != old_token.split("-")[2]
        assert new_token in manager.docker_ok("swarm", "join-token", "worker")
        spread(manager, "after", swarm.daemons)

        # a worker that leaves cannot come back with the old token; with the new one it works and gets tasks
        w2.docker_ok("swarm", "leave")
        gone = eventually("the node that left is Down", lambda: [i for i, (state, _) in nodes(manager).items()
                                                                  if state == "Down"])
        manager.docker_ok("node", "rm", *gone)  # a node that is gone for good would hold up the next rotation
        refused = w2.docker("swarm", "join", "--token", old_token, "--listen-addr", f"{h3}:2377",
                            "--advertise-addr", h3, f"{h1}:2377")
        assert refused.returncode == 1
        assert "remote CA does not match fingerprint. Expected: " in refused.stderr.decode()
        w2.docker_ok("swarm", "join", "--token", new_token, "--listen-addr", f"{h3}:2377", "--advertise-addr", h3,
                     f"{h1}:2377")
        assert trust_root(w2) == new_root
        eventually("three Ready nodes", lambda: list(nodes(manager).values()) == [("Ready", "Active")] * 3)
        spread(manager, "rejoined", swarm.daemons)

        # a given root, detached: the command returns at once, the rotation then completes on its own
        given = RootCA.create()
        (tmp_path / "ca.pem").write_text(given.cert_pem)
        (tmp_path / "ca-key.pem").write_text(given.key_pem)
        detached = manager.docker("swarm", "ca", "--rotate", "--detach", "--ca-cert", str(tmp_path / "ca.pem"),
                                  "--ca-key", str(tmp_path / "ca-key.pem"))
        assert detached.returncode == 0 and detached.stdout == b""
        eventually("rotation to the given root done", lambda: not swarm_json(manager)["RootRotationInProgress"]
                   and swarm_json(manager)["TLSInfo"]["TrustRoot"] == given.cert_pem)
        assert manager.docker_ok("swarm", "ca") == given.cert_pem.strip()
        eventually("every node trusts the given root", lambda: all(trust_root(d) == given.cert_pem
                                                                   for d in swarm.daemons))
        assert "SigningCAKey" not in swarm_json(manager)["Spec"]["CAConfig"]

        # dockyard's own CLI follows a rotation as the docker CLI does
        ours = manager.cli("swarm", "ca", "--rotate", timeout=120)
        assert ours.returncode == 0, ours.stderr
        newest = swarm_json(manager)["TLSInfo"]["TrustRoot"]
        assert newest != given.cert_pem and ours.stdout.decode().endswith(newest.strip() + "\n")
        head = "desired root digest: \n  rotated TLS certificates: \n  rotated CA certificates:  \n"
        assert rotated.stdout.decode().startswith(head) and ours.stdout.decode().startswith(head)
        digest_line = f"desired root digest: sha256:{hashlib.sha256(newest.encode()).hexdigest()}\n"
        assert digest_line in ours.stdout.decode()
        (tmp_path / "secret").write_text("kept")  # the data key survived every change of the key file
        manager.docker_ok("secret", "create", "after-rotations", str(tmp_path / "secret"))

        # a restarted manager signs with the new root's key from its key file, and the workers stay with it
        manager.stop()
        manager.start()
        assert manager.docker_ok("swarm", "ca") == newest.strip()
        seen = {w.socket: {node_cert(w).serial_number} for w in (w1, w2)}
        eventually("workers renewed from the restarted manager", lambda: all(renewed(w, seen[w.socket], 1)
                                                                             for w in (w1, w2)), deadline=60)
        eventually("three Ready nodes", lambda: list(nodes(manager).values()) == [("Ready", "Active")] * 3)
        for w in (w1, w2):
            node_cert(w).verify_directly_issued_by(x509.load_pem_x509_certificate(newest.encode()))
