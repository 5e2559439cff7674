"""The one way a container process starts, for `docker run` and for build RUN steps alike: /etc files, user,
OCI spec from HostConfig (mounts, limits, seccomp, namespaces), runtime options, config.json, shim launch."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from dockyard.containers import hostspec, subpath
from dockyard.containers.config import replace_or_append_env
from dockyard.containers.etcfiles import write_etc_files
from dockyard.containers.logdrivers import rotation_of
from dockyard.containers.mounts import MountManager, merge_mounts
from dockyard.containers.protocols import EtcFiles, Shim, ShimFactory
from dockyard.containers.record import ContainerRecord
from dockyard.containers.runtime_options import apply_runtime_options, is_builtin
from dockyard.containers.userns_ids import UsernsAllocator
from dockyard.errors import InvalidParameter, RuntimeFailure
from dockyard.oci.spec import DEFAULT_PATH
from dockyard.oci.users import resolve_user
from dockyard.runtime.cgroup_spare import SpareCgroup
from dockyard.util.atomic import write_atomic

CGROUP_PARENT = "/dockyard"

Env = Callable[[str], list[str]]
"""The process environment, given the user's home directory."""


@dataclass(frozen=True)
class Launch:
    """Where one launch happens: the bundle (config.json, rootfs/ mounted), the /etc files' directory, the log."""

    bundle: Path
    etc_dir: Path
    log: Path
    etc: EtcFiles  # what the container's network puts into resolv.conf and hosts
    env: Env
    extra_mounts: tuple[dict[str, Any], ...] = ()  # OCI mounts besides the record's (a RUN step's --mount)
    link_hosts: tuple[str, ...] = ()  # /etc/hosts entries of legacy links (`names:address`, after --add-host's)


class Launcher:
    """Turns a container record (a copy: this runs in a worker thread) into a running shim."""

    def __init__(self, shim_factory: ShimFactory, mounts: MountManager, userns: UsernsAllocator,
                 spare_cgroup: SpareCgroup, lookup: hostspec.Lookup) -> None:
        self._shim_factory = shim_factory
        self._mounts = mounts
        self._userns = userns
        self._spare_cgroup = spare_cgroup
        self._lookup = lookup  # other containers (for --ipc/--pid/--uts container:NAME), safe from any thread

    def launch(self, doc: ContainerRecord, where: Launch) -> tuple[int, Shim]:
        """Write the bundle and start the shim; returns the init's host pid and the shim."""
        rotation = rotation_of(doc.host_config.get("LogConfig"))
        scratch = subpaths_of(where.bundle)
        subpath.release(scratch)  # what a start cut short left
        try:
            spec = self.spec(doc, where)
            host = doc.host_config
            apply_runtime_options(spec, host)
            write_atomic(where.bundle / "config.json", json.dumps(spec).encode(), durable=False)
            if is_builtin(host.get("Runtime")):
                self._spare_cgroup.claim(spec["linux"].get("cgroupsPath", ""))
            shim = self._shim_factory(where.bundle)
            pid = shim.launch(where.log, open_stdin=bool(doc.config.get("OpenStdin")),
                              stdin_once=bool(doc.config.get("StdinOnce")), rotation=rotation)
        finally:  # a running container has its own bind mounts of the volumes' subpaths
            subpath.release(scratch)
        return pid, shim

    def spec(self, doc: ContainerRecord, where: Launch) -> dict[str, Any]:
        """The OCI spec of the record's process; writes its /etc files."""
        config, host = doc.config, doc.host_config
        rootfs = where.bundle / "rootfs"
        hostname = config["Hostname"]
        network = hostspec.network_of(host, doc.network_settings.sandbox_key, self._lookup)
        if not network.startswith("/proc/"):  # in another container's namespace its /etc files are used as they are
            write_etc_files(where.etc_dir, hostname, network, [*(host.get("ExtraHosts") or []), *where.link_hosts])
            where.etc.write(host, hostname, where.etc_dir)
        try:
            user = resolve_user(rootfs, config.get("User") or "", host.get("GroupAdd"))
        except InvalidParameter as bad:
            raise RuntimeFailure(bad.message, exit_code=126) from bad
        mounts = [
            {"destination": f"/etc/{name}", "type": "bind", "source": str(where.etc_dir / name),
             "options": ["rbind", "rprivate"]}
            for name in ("resolv.conf", "hostname", "hosts")
        ]
        mounts = merge_mounts(self._mounts.oci_mounts(doc, rootfs, subpaths_of(where.bundle)) + list(where.extra_mounts), mounts)
        return hostspec.build(
            host, self._lookup, userns=self._userns.mappings(doc.id, host.get("UsernsMode")),
            args=[doc.path, *doc.args], env=where.env(user.home), cwd=config.get("WorkingDir") or "/",
            uid=user.uid, gid=user.gid, additional_gids=user.additional_gids, hostname=hostname,
            terminal=bool(config.get("Tty")), readonly_rootfs=bool(host.get("ReadonlyRootfs")), mounts=mounts,
            network_mode=network, cgroups_path=f"{CGROUP_PARENT}/{doc.id}", privileged=bool(host.get("Privileged")),
        )


def subpaths_of(bundle: Path) -> Path:
    """Where a launch mounts its volumes' subpaths until the container has its own mounts of them."""
    return bundle / "subpaths"


def container_env(config: dict[str, Any], hostname: str, home: str, linked: Sequence[str] = ()) -> list[str]:
    """Docker's process environment: PATH, HOSTNAME, TERM for a TTY, the links' variables, the config's, then
    HOME."""
    env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if config.get("Tty"):
        env.append("TERM=xterm")
    env = replace_or_append_env([*env, *linked], config.get("Env") or [])
    if not any(item.startswith("HOME=") for item in env):
        env.append(f"HOME={home}")
    return env


def given_env(env: list[str], home: str) -> list[str]:
    """An environment taken as it is (a RUN step's), with HOME added unless it is set."""
    return env if any(item.startswith("HOME=") for item in env) else [*env, f"HOME={home}"]
