"""Docker's shapes for networks and endpoints: network inspect, EndpointSettings, NetworkSettings.Ports."""

from __future__ import annotations

from typing import Any

from dockyard.util.filters import exact_match, fuzzy_match, match_label

BUILTIN = ("bridge", "host", "none")
LIST_FILTERS = ("driver", "id", "label", "name", "scope", "type", "dangling")


def endpoint_settings(network_id: str = "", aliases: list[str] | None = None, ipam: dict | None = None,
                      mac: str = "", driver_opts: dict[str, str] | None = None,
                      links: list[str] | None = None) -> dict[str, Any]:
    """An EndpointSettings with only its configuration filled (the runtime fields empty)."""
    return {"IPAMConfig": ipam or None, "Links": links or None, "Aliases": aliases or None, "MacAddress": mac,
            "DriverOpts": driver_opts, "NetworkID": network_id, "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "DNSNames": None}


def network_view(record: dict[str, Any], containers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """GET /networks/{id}: the stored document with its live endpoints."""
    out = {k: v for k, v in record.items() if k not in ("Bridge", "AutoSubnet", "AutoSubnet6", "Overlay", "Retired")}
    out["Containers"] = containers
    return out


def ports_view(exposed: dict[str, Any] | None, published: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    """NetworkSettings.Ports: every exposed or published port, null when it is not published."""
    ports: dict[str, Any] = {key: None for key in exposed or {}}
    ports.update(published)
    return ports


def matches(record: dict[str, Any], filters: dict[str, list[str]], in_use: bool) -> bool:
    """Docker's network list filters."""
    kind = "builtin" if record["Name"] in BUILTIN else "custom"
    dangling = filters.get("dangling")
    if dangling and (dangling[0] in ("true", "1")) == in_use:
        return False
    return (exact_match(filters, "driver", record["Driver"]) and fuzzy_match(filters, "id", record["Id"])
            and (not filters.get("name") or any(w in record["Name"] for w in filters["name"]))
            and exact_match(filters, "scope", record["Scope"]) and exact_match(filters, "type", kind)
            and match_label(record.get("Labels"), filters.get("label", [])))
