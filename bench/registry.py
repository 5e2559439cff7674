"""Registry throughput: `dockyard registry serve` against Debian's docker-registry (distribution 2.8), one run.

Both are driven by the same client (skopeo): push and pull of a 200 MB one-layer image and a 20-layer image,
and 8 concurrent pulls. Each run uses a fresh registry (new port and storage) so no client cache can turn a push
into a cross-repository mount. Reports MB/s per figure, ours/theirs ratios, and each registry's peak RSS.
Target (issue 5): ours at least as fast on every figure, with lower memory.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from registry_fixtures import Server, distribution_registry, dockyard_registry  # noqa: E402

MB = 1 << 20
CONCURRENT = 8


def _blob(layout: Path, data: bytes) -> dict:
    """Write a blob into an OCI layout; returns its descriptor fields."""
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_layout(layout: Path, layer_sizes: list[int]) -> int:
    """An OCI layout with one image (tag "b") of gzip layers of random data; returns the bytes moved per copy."""
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    layers, diff_ids = [], []
    for i, size in enumerate(layer_sizes):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(f"data/{i}.bin")
            info.size = size
            tar.addfile(info, io.BytesIO(os.urandom(size)))
        diff_ids.append("sha256:" + hashlib.sha256(raw.getvalue()).hexdigest())
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       **_blob(layout, gzip.compress(raw.getvalue(), compresslevel=1))})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      **_blob(layout, config)}, "layers": layers}).encode()
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", **_blob(layout, manifest),
         "annotations": {"org.opencontainers.image.ref.name": "b"}}]}))
    return sum(l["size"] for l in layers)


def skopeo(*args: str) -> None:
    """Run one skopeo copy; raise with its stderr when it fails."""
    result = subprocess.run(["skopeo", "copy", "-q", *args], capture_output=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)}: {result.stderr.decode()[-1000:]}")


def timed(action: Callable[[], None]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def slug(label: str) -> str:
    """A repository name for a figure's label."""
    return label.lower().replace(" ", "-")


def one_run(server: Server, images: dict[str, tuple[Path, int]], scratch: Path) -> dict[str, float]:
    """MB/s of every figure against one fresh registry, plus its peak RSS (key "rss")."""
    out: dict[str, float] = {}
    for label, (layout, size) in images.items():
        target = f"docker://{server.host}/bench/{slug(label)}:b"
        out[f"push {label}"] = size / MB / timed(lambda: skopeo("--dest-tls-verify=false", f"oci:{layout}:b", target))
        dest = scratch / f"pull-{label}"
        out[f"pull {label}"] = size / MB / timed(lambda: skopeo("--src-tls-verify=false", target, f"oci:{dest}:b"))
        shutil.rmtree(dest)
    label = "20 layers"
    layout, size = images[label]
    target = f"docker://{server.host}/bench/{slug(label)}:b"

    def pull_all() -> None:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            list(pool.map(lambda i: skopeo("--src-tls-verify=false", target, f"oci:{scratch}/c{i}:b"),
                          range(CONCURRENT)))

    out[f"{CONCURRENT} concurrent pulls ({label})"] = CONCURRENT * size / MB / timed(pull_all)
    for i in range(CONCURRENT):
        shutil.rmtree(scratch / f"c{i}")
    out["rss"] = peak_rss_mb(server.proc.pid)
    return out


def main() -> int:
    """Build the images, run both registries `--runs` times, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for tool in ("skopeo", "docker-registry"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (apt-get install {tool})", file=sys.stderr)
            return 1
    work = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    try:
        images = {"200MB x1": (work / "one", build_layout(work / "one", [200 * MB])),
                  "20 layers": (work / "twenty", build_layout(work / "twenty", [5 * MB] * 20))}
        registries: dict[str, Callable[[], Iterator[Server]]] = {
            "dockyard": dockyard_registry, "distribution": distribution_registry}
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in registries}
        for run in range(args.runs):
            order = list(registries.items())
            for name, start in order if run % 2 == 0 else reversed(order):  # alternate: no first-mover bias
                with contextlib.contextmanager(start)() as server:
                    samples[name].append(one_run(server, images, work))
        report(samples)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(samples: dict[str, list[dict[str, float]]]) -> None:
    """Medians of each figure (MB/s, higher is better), ours/theirs ratio, peak RSS (max over runs)."""
    ours, theirs = samples["dockyard"], samples["distribution"]
    print(f"{'figure':38} {'dockyard MB/s':>14} {'distribution MB/s':>18} {'ratio':>7}")
    for key in [k for k in ours[0] if k != "rss"]:
        a, b = statistics.median(s[key] for s in ours), statistics.median(s[key] for s in theirs)
        print(f"{key:38} {a:14.1f} {b:18.1f} {a / b:7.2f}")
    a, b = max(s["rss"] for s in ours), max(s["rss"] for s in theirs)
    print(f"{'peak RSS MB (lower is better)':38} {a:14.1f} {b:18.1f} {a / b:7.2f}")


if __name__ == "__main__":
    sys.exit(main())
