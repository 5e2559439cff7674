"""Hub listing and search latency with 10,000 repositories and 100,000 tags, against the page before the hub.

How the data is made (fast path): the registry storage is written directly as files (one shared layer and
config, ten manifests; every repository links them and has ten tags), exactly the layout `registry serve`
writes. The hub's index is then built by the real code: `dockyard registry serve` finds no index and rebuilds
it from storage at start (timed). Descriptions, pull counts and stars are set with SQL afterwards, since storage
has none. Then each endpoint is asked N times over HTTP by one client; p50/p95 in milliseconds.

The page before the hub (commit 45bd6c7's `registry/hub.py`: `/` read every tag's manifest, `/v1/search`
walked the storage) is timed in-process over the same storage, so without any HTTP cost.
Target (issue 17): list and search within tens of milliseconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from helpers import free_port  # noqa: E402

OLD_HUB = "45bd6c7"
WORDS = ["nginx", "postgres", "redis", "python", "golang", "node", "alpine", "debian", "busybox", "traefik"]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _blob(root: Path, data: bytes) -> str:
    """Store a blob; its hex digest."""
    hexdigest = hashlib.sha256(data).hexdigest()
    _write(root / "blobs" / "sha256" / hexdigest, data)
    return hexdigest


def make_storage(root: Path, namespaces: int, per_namespace: int, tags: int) -> None:
    """The registry layout with namespaces x per_namespace repositories of `tags` tags each."""
    layer = _blob(root, os.urandom(4096))
    config = _blob(root, json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode())
    manifests = []
    for i in range(tags):
        body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": f"sha256:{config}", "size": 60},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": f"sha256:{layer}", "size": 4096}],
                           "annotations": {"n": str(i)}}).encode()
        manifests.append(_blob(root, body))
    for n in range(namespaces):
        for r in range(per_namespace):
            repo = root / "repositories" / f"user{n:04d}" / f"{WORDS[r % len(WORDS)]}-{r:03d}"
            layers, revisions, tag_dir = (repo / "_layers" / "sha256", repo / "_manifests" / "revisions" / "sha256",
                                          repo / "_manifests" / "tags")
            for folder in (layers, revisions, tag_dir):
                folder.mkdir(parents=True)
            for hexdigest in (layer, config):
                (layers / hexdigest).touch()
            for i, hexdigest in enumerate(manifests):
                (revisions / hexdigest).touch()
                (tag_dir / f"v1.{i}").write_text(f"sha256:{hexdigest}")


def decorate(db: Path) -> None:
    """Descriptions, pull counts and stars for every repository (storage has none of them)."""
    rng = random.Random(17)
    with sqlite3.connect(db) as conn:
        ids = [row[0] for row in conn.execute("SELECT id, name FROM repositories")]
        conn.executemany("UPDATE repositories SET description = ?, pull_count = ?, star_count = ? WHERE id = ?",
                         [(f"{rng.choice(WORDS)} image number {i} for {rng.choice(WORDS)} tests",
                           rng.randrange(100000), rng.randrange(500), i) for i in ids])


def accounts(data: Path, namespaces: int) -> None:
    """User user0000 (the signed-in reader), in an organisation whose team reads 20 repositories."""
    def cli(*args: str, stdin: str = "") -> None:
        subprocess.run([sys.executable, "-m", "dockyard.entry", "registry", *args, "--root", str(data)], input=stdin,
                       text=True, check=True, capture_output=True)
    cli("user", "add", "user0000", stdin="bench-password\n")
    cli("user", "add", "owner", stdin="bench-password\n")
    cli("org", "create", "benchorg", "--owner", "owner")
    cli("team", "create", "benchorg", "readers")
    cli("team", "add", "benchorg", "readers", "user0000")
    for r in range(20):
        cli("team", "grant", "benchorg", "readers", f"repo{r}", "read")
    cli("repo", "collaborator", f"user{namespaces // 2:04d}/redis-002", "user0000", "read")


def serve(data: Path, port: int, log: Path) -> tuple[subprocess.Popen, float]:
    """Start `registry serve --auth hub --public-by-default`; (process, seconds until it answers)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dockyard.entry", "registry", "serve", "--addr",
                             f"127.0.0.1:{port}", "--root", str(data), "--auth", "hub", "--public-by-default"],
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited: {log.read_text()[-2000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2)
            return proc, time.perf_counter() - started
        except requests.ConnectionError:
            time.sleep(0.1)


def timed(call, runs: int) -> tuple[float, float]:
    """(p50, p95) in milliseconds of `runs` calls (after one warm-up)."""
    call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def old_hub_module() -> types.ModuleType:
    """registry/hub.py as it was before the hub (the page that read every manifest)."""
    source = subprocess.run(["git", "show", f"{OLD_HUB}:src/dockyard/registry/hub.py"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("old_hub")
    exec(compile(source, "old_hub.py", "exec"), module.__dict__)  # noqa: S102 - our own file from git history
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=500)
    parser.add_argument("--per-namespace", type=int, default=20)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--old-runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dy-bench-hub-"))
    proc = None
    try:
        data = work / "data"
        started = time.perf_counter()
        make_storage(data, args.namespaces, args.per_namespace, args.tags)
        repos = args.namespaces * args.per_namespace
        print(f"storage: {repos} repositories, {repos * args.tags} tags written in "
              f"{time.perf_counter() - started:.1f}s")
        accounts(data, args.namespaces)
        port = free_port()
        proc, startup = serve(data, port, work / "server.log")
        print(f"index rebuilt from storage at serve start: {startup:.1f}s")
        decorate(data / "hub.db")
        base = f"http://127.0.0.1:{port}"
        http = requests.Session()
        middle = f"user{args.namespaces // 2:04d}"
        checks = {
            "list all, page 1 by name": "/v2/repositories/?page_size=25&ordering=name",
            "list all, page 200 by name": "/v2/repositories/?page_size=25&page=200&ordering=name",
            "list all, most pulled": "/v2/repositories/?page_size=25&ordering=-pull_count",
            "list all, last pushed": "/v2/repositories/?page_size=25&ordering=-last_updated",
            "list one namespace": f"/v2/repositories/{middle}/?page_size=25",
            "tags of one repository": f"/v2/repositories/{middle}/redis-002/tags/?page_size=25",
            "search 'redis' (v2)": "/v2/search/repositories/?query=redis&page_size=25",
            "search 'number 4242' (v2)": "/v2/search/repositories/?query=number%204242",
            "docker search 'postgres' (v1)": "/v1/search?q=postgres&n=25",
        }
        login = http.post(f"{base}/v2/users/login", json={"username": "user0000", "password": "bench-password"})
        signed_in = {"Authorization": "Bearer " + login.json()["token"]}
        with sqlite3.connect(data / "hub.db") as conn:  # half private: the signed-in filter has work to do
            conn.execute("UPDATE repositories SET private = 1 WHERE id % 2 = 0")
        for who, headers in (("anonymous", {}), ("signed in", signed_in)):
            print(f"\n{'hub (index, over HTTP), ' + who:36} {'p50 ms':>8} {'p95 ms':>8}   results")
            for label, path in checks.items():
                answer = http.get(base + path, headers=headers).json()
                count = answer.get("count", answer.get("num_results"))
                p50, p95 = timed(lambda p=path, h=headers: http.get(base + p, headers=h).raise_for_status(),
                                 args.runs)
                print(f"{label:36} {p50:8.1f} {p95:8.1f}   {count}")
        proc.terminate()
        proc.wait(30)
        proc = None

        from dockyard.registry.storage import Storage
        old = old_hub_module()
        storage = Storage(data)
        print(f"\n{'before the hub (' + OLD_HUB + ', in-process)':36} {'p50 ms':>8} {'p95 ms':>8}")
        p50, p95 = timed(lambda: old.page(storage), args.old_runs)
        print(f"{'/ page (every repository and tag)':36} {p50:8.1f} {p95:8.1f}")
        p50, p95 = timed(lambda: old.search(storage, "redis", 25), args.old_runs)
        print(f"{'/v1/search redis':36} {p50:8.1f} {p95:8.1f}")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
