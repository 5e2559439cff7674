"""Overlay networks as records of the network service: the record docker shows for what the cluster allocated, the
spec the data plane needs back from it, and the egress bridge network (docker's `docker_gwbridge`) overlay
endpoints get their default route from."""

from __future__ import annotations

from typing import Any

from dockyard.network.overlay import OverlaySpec

OVERLAY = "overlay"
ROUTED = ("bridge", OVERLAY)  # drivers whose endpoints are veths in the container's sandbox
VXLAN_OPT = "com.docker.network.driver.overlay.vxlanid_list"
GATEWAY_NETWORK = "docker_gwbridge"
GATEWAY_OPTIONS = {"com.docker.network.bridge.enable_icc": "false",
                   "com.docker.network.bridge.enable_ip_masquerade": "true"}


def overlay_fields(spec: OverlaySpec, attachable: bool, ingress: bool, labels: dict[str, str],
                   reserved: dict[str, str], options: dict[str, str]) -> dict[str, Any]:
    """The fields of an overlay network's record (docker's inspect shape, Scope swarm) beyond a local network's;
    `reserved` addresses (name -> IP, e.g. the routing mesh's sandbox) are kept from the allocator; the driver
    `options` are shown with the VNI."""
    config = {"Subnet": spec.subnet, "Gateway": spec.gateway, **({"AuxiliaryAddresses": reserved} if reserved else {})}
    return {"Id": spec.network_id, "Scope": "swarm", "Attachable": attachable, "Ingress": ingress,
            "Labels": dict(labels), "Options": {**options, VXLAN_OPT: str(spec.vni)},
            "IPAM": {"Driver": "default", "Options": None,
                     "Config": [config]},
            "Overlay": {"DataPathPort": spec.data_path_port, "MTU": spec.mtu}}


def spec_of(record: dict[str, Any]) -> OverlaySpec:
    """The data plane's spec of an overlay record."""
    config = record["IPAM"]["Config"][0]
    return OverlaySpec(record["Id"], int(record["Options"][VXLAN_OPT]), config["Subnet"], config["Gateway"],
                       record["Overlay"]["DataPathPort"], record["Overlay"]["MTU"])
