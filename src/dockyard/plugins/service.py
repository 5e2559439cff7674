"""Managed plugins (v2), as dockerd's plugin manager keeps them: create from a rootfs and config.json, list,
inspect, enable (the plugin runs through the runtime's shim), disable, set, remove; volume plugins serve the
volume service."""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

from dockyard.errors import Conflict, DockyardError, InvalidParameter, NotFound, NotImplementedYet
from dockyard.events.publisher import EventPublisher
from dockyard.metadata.db import MetadataDB
from dockyard.plugins.archive import unpack
from dockyard.plugins.config import capabilities, initial_settings, parse_config
from dockyard.plugins.process import PluginProcess
from dockyard.plugins.settable import apply_settings
from dockyard.plugins.spec import plugin_spec
from dockyard.plugins.store import PluginStore
from dockyard.plugins.transport import PluginClient
from dockyard.plugins.volumedriver import PluginVolumeDriver
from dockyard.util.filters import check_keys
from dockyard.util.reference import parse
from dockyard.util import linux as L
from dockyard.volumes.mountinfo import mounts_under, unmount_all

log = logging.getLogger(__name__)

LIST_FILTERS = ("enabled", "capability")
VOLUME_CAPABILITY = "volumedriver"
HTTP_SCHEMES = ("", "moby.plugins.http/v1")
DEFAULT_TIMEOUT = 30  # seconds a call to a plugin may take when enable gave no timeout
_FULL_ID = re.compile(r"^[a-f0-9]{64}$")
_NO_REGISTRY = ("Dockyard installs plugins only from a local directory (docker plugin create); "
                "plugin {} needs a registry")

UsageCheck = Callable[[Callable[[str], bool]], list[str]]
"""Names of the volumes whose driver name the predicate accepts (the volume service's driver_users)."""


@dataclass
class _Running:
    process: PluginProcess
    client: PluginClient


class PluginService:
    """Plugins: rootfs and propagated mount in <data-root>/plugins/<id>/, records in the metadata db, the socket
    directory <exec-root>/plugins/<id>/ (the plugin's /run/docker/plugins), shims in <exec-root>/plugin-shims/."""

    def __init__(self, root: Path, exec_root: Path, db: MetadataDB, events: EventPublisher) -> None:
        self.root = root
        self._sockets = exec_root / "plugins"
        self._shims = exec_root / "plugin-shims"
        self._tmp = root / "tmp"
        self._store = PluginStore(db)
        self._events = events
        self._lock = threading.RLock()
        self._running: dict[str, _Running] = {}
        self._usage: UsageCheck = lambda _is_driver: []
        for path in (root, self._sockets, self._shims):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(path, 0o700)
        shutil.rmtree(self._tmp, ignore_errors=True)  # staging a crash left behind
        self._tmp.mkdir(mode=0o700)

    def set_usage_check(self, usage: UsageCheck) -> None:
        """How to learn which volumes use a plugin (handed in by the daemon: the volume service's)."""
        self._usage = usage

    # ----- lookups -------------------------------------------------------------------------------

    def _find(self, ref_or_id: str) -> dict[str, Any]:
        """dockerd's resolvePluginID: a full id, a name (tagged :latest when untagged) or an id prefix."""
        plugins = self._store.all()
        if _FULL_ID.match(ref_or_id):
            for plugin in plugins:
                if plugin["Id"] == ref_or_id:
                    return plugin
            raise NotFound(f'plugin "{ref_or_id}" not found')
        name = _tagged_name(ref_or_id)
        for plugin in plugins:
            if plugin["Name"] == name:
                return plugin
        found = [p for p in plugins if ref_or_id and p["Id"].startswith(ref_or_id)]
        if len(found) > 1:
            raise InvalidParameter(f'multiple plugins found for "{ref_or_id}"')
        if not found:
            raise NotFound(f'plugin "{ref_or_id}" not found')
        return found[0]

    def inspect(self, ref_or_id: str) -> dict[str, Any]:
        """GET /plugins/{name}/json."""
        return self._find(ref_or_id)

    def list(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        """GET /plugins with dockerd's filters: enabled=true|false, capability (matched per interface type)."""
        check_keys(filters, LIST_FILTERS)
        enabled: bool | None = None
        if "enabled" in filters:
            if "true" in filters["enabled"]:
                enabled = True
            elif "false" in filters["enabled"]:
                enabled = False
            else:
                raise InvalidParameter(f"invalid filter 'enabled={filters['enabled'][0]}'")
        out = []
        for plugin in self._store.all():
            if enabled is not None and plugin["Enabled"] != enabled:
                continue
            if "capability" in filters and not all(
                    _matches(filters["capability"], cap) for cap in capabilities(plugin["Config"])):
                continue
            out.append(plugin)
        return out

    def _users(self, plugin: dict[str, Any]) -> builtins.list[str]:
        """Volumes created with this plugin as their driver."""
        def is_this(driver: str) -> bool:
            try:
                return self._find(driver)["Id"] == plugin["Id"]
            except (NotFound, InvalidParameter):
                return False
        return self._usage(is_this)

    # ----- create / remove -----------------------------------------------------------------------

    def create(self, name: str, archive: BinaryIO) -> None:
        """POST /plugins/create?name=: a disabled plugin from a tar of config.json and rootfs/."""
        try:
            ref = parse(name)
        except InvalidParameter as bad:
            raise InvalidParameter(f"failed to parse reference {name}: {bad.message}") from bad
        if ref.digest:
            raise InvalidParameter("canonical references are not permitted")
        full_name = _tagged_name(name)
        # the name is checked once the archive is read: an answer sent while the client still uploads megabytes
        # reaches it as a broken pipe instead of the error
        staging = Path(tempfile.mkdtemp(prefix=".rootfs", dir=self._tmp))
        try:
            raw_config, rootfs, digest = unpack(archive, staging)
            config = parse_config(raw_config, digest)
            plugin: dict[str, Any] = {"Config": config, "Enabled": False, "Id": secrets.token_hex(32), "Name": full_name,
                      "PluginReference": full_name, "Settings": initial_settings(config)}
            with self._lock:
                self._check_name_free(full_name)
                directory = self.root / plugin["Id"]
                directory.mkdir(mode=0o700)
                os.rename(rootfs, directory / "rootfs")
                self._store.put(plugin)
        finally:
            shutil.rmtree(staging)
        self._events.publish("plugin", "create", plugin["Id"], {"name": full_name})

    def _check_name_free(self, full_name: str) -> None:
        if any(p["Name"] == full_name for p in self._store.all()):
            raise Conflict(f"plugin {full_name} already exists")

    def remove(self, ref_or_id: str, force: bool = False) -> None:
        """DELETE /plugins/{name}: refused while enabled or used by volumes unless forced."""
        with self._lock:
            plugin = self._find(ref_or_id)
            if not force:
                if self._users(plugin):
                    raise Conflict(f"plugin {plugin['Name']} is in use")
                if plugin["Enabled"]:
                    raise Conflict(f"plugin {plugin['Name']} is enabled")
            if plugin["Enabled"]:
                self._stop(plugin)
            directory = self.root / plugin["Id"]
            unmount_all(directory)
            trash = self._tmp / f"remove-{plugin['Id']}"
            os.rename(directory, trash)
            self._store.delete(plugin["Id"])
        shutil.rmtree(trash)
        self._events.publish("plugin", "remove", plugin["Id"], {"name": ref_or_id})

    def set(self, ref_or_id: str, args: Sequence[str]) -> None:
        """POST /plugins/{name}/set: env values, mount sources, device paths, args the config marks settable."""
        with self._lock:
            plugin = self._find(ref_or_id)
            if plugin["Enabled"]:
                raise Conflict("cannot set on an active plugin, disable plugin before setting")
            apply_settings(plugin, args)
            self._store.put(plugin)

    # ----- enable / disable ----------------------------------------------------------------------

    def enable(self, ref_or_id: str, timeout: int) -> None:
        """POST /plugins/{name}/enable: run the plugin, wait until it listens, activate it."""
        with self._lock:
            plugin = self._find(ref_or_id)
            if plugin["Enabled"]:
                raise Conflict(f"plugin already enabled: plugin {plugin['Name']} is enabled")
            self._start(plugin, timeout)
            plugin["Enabled"] = True
            self._store.put(plugin)
        self._events.publish("plugin", "enable", plugin["Id"], {"name": ref_or_id})

    def disable(self, ref_or_id: str, force: bool = False) -> None:
        """POST /plugins/{name}/disable: stop the plugin; refused while volumes use it unless forced."""
        with self._lock:
            plugin = self._find(ref_or_id)
            if not force and self._users(plugin):
                raise Conflict(f"plugin {plugin['Name']} is in use")
            if not plugin["Enabled"]:
                raise Conflict(f"plugin already disabled: plugin {plugin['Name']} found but disabled")
            self._stop(plugin)
            plugin["Enabled"] = False
            self._store.put(plugin)
        self._events.publish("plugin", "disable", plugin["Id"], {"name": ref_or_id})

    def _start(self, plugin: dict[str, Any], timeout: int) -> None:
        """Launch the plugin's process and wait for its handshake; nothing is left running when it fails."""
        config, plugin_id = plugin["Config"], plugin["Id"]
        if config["Interface"].get("ProtocolScheme", "") not in HTTP_SCHEMES:
            raise NotImplementedYet(f"plugin protocol {config['Interface']['ProtocolScheme']} is not supported")
        sockets = self._sockets / plugin_id
        sockets.mkdir(mode=0o700, exist_ok=True)
        propagated = self.root / plugin_id / "propagated-mount"
        if config["PropagatedMount"]:
            propagated.mkdir(mode=0o755, exist_ok=True)
            _share(propagated)
        spec = plugin_spec(plugin, self.root / plugin_id / "rootfs", sockets, propagated,
                           f"/dockyard/plugin-{plugin_id}")
        process = PluginProcess(self._shims / plugin_id)
        client = PluginClient(sockets, config["Interface"]["Socket"], timeout or DEFAULT_TIMEOUT)
        try:
            process.start(spec)
            process.wait_listening(client)
            client.call("Plugin.Activate", None)
        except DockyardError:
            self._end(plugin_id, process)
            raise
        running = self._running[plugin_id] = _Running(process, client)
        threading.Thread(target=self._watch, args=(plugin_id, running), name=f"plugin-{plugin_id[:12]}",
                         daemon=True).start()

    def _watch(self, plugin_id: str, running: _Running) -> None:
        """Wait for the plugin's process to end; one that ends on its own is run again (dockerd's restart), and
        recorded disabled when that fails."""
        asyncio.run(running.process.shim.wait())
        with self._lock:
            if self._running.get(plugin_id) is not running:
                return  # disabled, removed or stopped with the daemon
            plugin = self._find(plugin_id)
            log.warning("plugin %s exited; starting it again", plugin["Name"])
            self._stop(plugin)
            try:
                self._start(plugin, int(running.client.timeout))
            except DockyardError as failed:
                log.error("plugin %s could not be started again: %s", plugin["Name"], failed.message)
                plugin["Enabled"] = False
                self._store.put(plugin)

    def _stop(self, plugin: dict[str, Any]) -> None:
        running = self._running.pop(plugin["Id"], None)
        self._end(plugin["Id"], running.process if running else PluginProcess(self._shims / plugin["Id"]))

    def _end(self, plugin_id: str, process: PluginProcess) -> None:
        """Stop a plugin's process (if any), unmount what it left on the host (dockerd's RecursiveUnmount of the
        plugin's directory) and clear its socket directory."""
        if process.bundle.exists():
            process.stop()
        unmount_all(self.root / plugin_id)
        if (self._sockets / plugin_id).exists():
            shutil.rmtree(self._sockets / plugin_id)

    # ----- daemon start and stop -----------------------------------------------------------------

    def restore(self) -> None:
        """At start-up: run again the plugins that were enabled (dockerd's reload); one that fails is disabled."""
        for plugin in self._store.all():
            if not plugin["Enabled"]:
                continue
            self._stop(plugin)  # a shim a killed daemon left behind
            try:
                self._start(plugin, 0)
            except DockyardError as failed:
                log.error("plugin %s could not be enabled again: %s", plugin["Name"], failed.message)
                plugin["Enabled"] = False
                self._store.put(plugin)

    def shutdown(self) -> None:
        """Daemon stop: plugin processes end (they stay enabled and run again at the next start)."""
        with self._lock:
            for plugin in self._store.all():
                if plugin["Id"] in self._running:
                    self._stop(plugin)

    # ----- registry operations -------------------------------------------------------------------

    def refuse_registry(self, remote: str) -> None:
        """Pull, push, upgrade and privileges need a registry's plugin manifests: refused, clearly."""
        raise NotImplementedYet(_NO_REGISTRY.format(remote))

    # ----- volume drivers (volumes.drivers.VolumeDrivers) -----------------------------------------

    def volume_driver(self, name: str) -> PluginVolumeDriver:
        """The enabled volume plugin called `name`, in dockerd's words when there is none; a lookup during a
        restart of the plugin's process waits for it (the lock is held while it runs again)."""
        with self._lock:
            try:
                plugin = self._find(name)
            except NotFound:
                raise NotFound(f'error looking up volume plugin {name}: plugin "{name}" not found') from None
            if not plugin["Enabled"] or plugin["Id"] not in self._running:
                raise NotFound(f"error looking up volume plugin {name}: plugin {plugin['Name']} found but disabled")
            running = self._running[plugin["Id"]]
        if VOLUME_CAPABILITY not in capabilities(plugin["Config"]):
            raise InvalidParameter(f"error looking up volume plugin {name}: plugin {plugin['Name']} does not "
                                   f"provide {VOLUME_CAPABILITY} capability")
        return PluginVolumeDriver(running.client, self.root / plugin["Id"] / "rootfs",
                                  plugin["Config"]["PropagatedMount"], self.root / plugin["Id"] / "propagated-mount")


def _share(path: Path) -> None:
    """dockerd's MakeRShared: `path` becomes a shared mount point, so the mounts a plugin makes below its
    PropagatedMount appear here on the host."""
    if str(path) not in mounts_under(path):
        L.mount(str(path), str(path), None, L.MS_BIND)
    L.mount(None, str(path), None, L.MS_SHARED | L.MS_REC)


def _tagged_name(text: str) -> str:
    """The familiar name with a tag (myplugin -> myplugin:latest); a name that does not parse is not found."""
    try:
        ref = parse(text)
    except InvalidParameter:
        raise NotFound(f'plugin "{text}" not found') from None
    return ref.familiar() if ref.tag or ref.digest else f"{ref.familiar()}:latest"


def _matches(patterns: list[str], value: str) -> bool:
    """dockerd's filters.Match: equal to a value or matched by it as a regular expression."""
    for pattern in patterns:
        try:
            if value == pattern or re.search(pattern, value):
                return True
        except re.error:
            continue
    return False
