"""The knobs of one build, as POST /build's query gives them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


@dataclass
class BuildOptions:
    """The knobs of one build (POST /build query parameters). `fetch(ref)` pulls an image, yielding docker's
    progress messages; `remove` (rm or forcerm) only decides whether the removal of each step's container is
    reported, since step containers never outlive their step here; `limits` are HostConfig limits (Memory,
    MemorySwap, CpuShares, CpuPeriod, CpuQuota, CpusetCpus, CpusetMems) for RUN."""

    dockerfile: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str | None] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network_mode: str = "default"
    extra_hosts: list[str] = field(default_factory=list)
    quiet: bool = False
    cache_from: list[str] = field(default_factory=list)
    platform: str = ""
    pull: bool = False
    fetch: Callable[[str], Iterator[dict[str, Any]]] | None = None
    remove: bool = True
    limits: dict[str, Any] = field(default_factory=dict)
