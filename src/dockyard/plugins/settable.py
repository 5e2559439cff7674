"""`docker plugin set NAME key=value...`: dockerd's settable rules over a plugin's Config and Settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from dockyard.errors import InvalidParameter

_ENV_FIELDS = ("value",)
_ARGS_FIELDS = ("value",)
_DEVICE_FIELDS = ("path",)
_MOUNT_FIELDS = ("source",)


@dataclass
class _Setting:
    name: str
    field: str
    value: str

    def pretty(self) -> str:
        return f"{self.name}.{self.field}" if self.field else self.name

    def allowed(self, allowed_fields: tuple[str, ...], settable: list[str] | None) -> bool:
        """Whether the config declares this field settable (a lone settable field needs no name)."""
        settable = settable or []
        if not self.field:
            if len(settable) > 1:
                raise InvalidParameter("multiple fields are settable, one must be specified")
            if settable:
                self.field = settable[0]
        return self.field in allowed_fields and self.field in settable


def _parse(arg: str) -> _Setting:
    """name[.field][=value], as dockerd's newSettable splits it."""
    name, equals, value = arg.partition("=")
    if equals and not name:
        raise InvalidParameter("set command needs to be in the format name=value")
    field = ""
    if name.rfind(".") > 0:
        name, field = name[:name.rfind(".")], name[name.rfind(".") + 1:]
    return _Setting(name, field, value)


def apply_settings(plugin: dict[str, Any], args: Sequence[str]) -> None:
    """Change the plugin object's Settings (and mount sources, as dockerd does) in place; errors in dockerd's
    words name the first setting that cannot be applied, and nothing is changed then."""
    settings = [_parse(arg) for arg in args]
    config = plugin["Config"]
    changes = []
    for setting in settings:
        changes.append(_change_for(config, setting))
    for change in changes:
        change(plugin)


def _change_for(config: dict[str, Any], setting: _Setting) -> Any:
    """A function applying one setting to the plugin object; raises when it is not settable."""
    for env in config["Env"] or []:
        if env["Name"] == setting.name:
            _check(setting, _ENV_FIELDS, env["Settable"])
            return lambda plugin: _set_env(plugin["Settings"], setting)
    for index, mount in enumerate(config["Mounts"] or []):
        if mount["Name"] == setting.name:
            _check(setting, _MOUNT_FIELDS, mount["Settable"])
            if mount["Source"] is None:
                raise InvalidParameter("Plugin config has no mount source")
            return lambda plugin: _set_indexed(plugin, ("Mounts",), "Mounts", index, "Source", setting.value)
    for index, device in enumerate(config["Linux"]["Devices"] or []):
        if device["Name"] == setting.name:
            _check(setting, _DEVICE_FIELDS, device["Settable"])
            if device["Path"] is None:
                raise InvalidParameter("Plugin config has no device path")
            return lambda plugin: _set_indexed(plugin, ("Linux", "Devices"), "Devices", index, "Path", setting.value)
    if config["Args"]["Name"] == setting.name:
        _check(setting, _ARGS_FIELDS, config["Args"]["Settable"])
        return lambda plugin: plugin["Settings"].__setitem__("Args", setting.value.split(" "))
    raise InvalidParameter(f'setting "{setting.name}" not found in the plugin configuration')


def _check(setting: _Setting, allowed_fields: tuple[str, ...], settable: list[str] | None) -> None:
    if not setting.allowed(allowed_fields, settable):
        raise InvalidParameter(f"{setting.pretty()} is not settable")


def _set_env(settings: dict[str, Any], setting: _Setting) -> None:
    """Replace NAME=... in Settings.Env, or append it."""
    entry = f"{setting.name}={setting.value}"
    for i, item in enumerate(settings["Env"]):
        if item.partition("=")[0] == setting.name:
            settings["Env"][i] = entry
            return
    settings["Env"].append(entry)


def _set_indexed(plugin: dict[str, Any], config_path: tuple[str, ...], settings_key: str, index: int, field: str,
                 value: str) -> None:
    """A mount source or device path: dockerd's Settings share it with the Config, so both change."""
    node = plugin["Config"]
    for key in config_path:
        node = node[key]
    node[index][field] = value
    plugin["Settings"][settings_key][index][field] = value
