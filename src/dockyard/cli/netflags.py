"""run/create's network flags (-p, -P, --expose, --ip, --mac-address, --network-alias, --dns*, --add-host,
--domainname) turned into ExposedPorts, PortBindings, EndpointsConfig and the DNS fields, as docker's CLI does."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~7 ms of start-up; annotations are strings
if TYPE_CHECKING:
    from typing import Any

from dockyard.cli.context import CommandError
from dockyard.cli.flags import Flag

NET_FLAGS = [
    Flag("add-host", "", "list", help="Add a custom host-to-IP mapping (host:ip)"),
    Flag("dns", "", "list", help="Set custom DNS servers"),
    Flag("dns-option", "", "list", help="Set DNS options"),
    Flag("dns-search", "", "list", help="Set custom DNS search domains"),
    Flag("domainname", "", "string", help="Container NIS domain name"),
    Flag("expose", "", "list", help="Expose a port or a range of ports"),
    Flag("ip", "", "string", help="IPv4 address (e.g., 172.30.100.104)"),
    Flag("mac-address", "", "string", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    Flag("network-alias", "", "list", help="Add network-scoped alias for the container"),
    Flag("publish", "p", "list", help="Publish a container's port(s) to the host"),
    Flag("publish-all", "P", help="Publish all exposed ports to random ports"),
]
PROTOCOLS = ("tcp", "udp", "sctp")
LONG_KEYS = {"target": "target", "published": "published", "protocol": "protocol", "mode": "mode",
             "host_ip": "host_ip"}


def _fail(message: str) -> CommandError:
    return CommandError(message, 125)


def _port_range(text: str, what: str) -> tuple[int, int]:
    """"80" -> (80, 80), "80-90" -> (80, 90); docker's wording for a bad one."""
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError:
        raise _fail(f"invalid {what}: {text}") from None
    if not (0 <= first <= last <= 65535) or (what == "containerPort" and first == 0):
        raise _fail(f"invalid {what}: {text}")
    return first, last


def _split_ip(spec: str) -> tuple[str, str]:
    """"[::1]:80:80" / "1.2.3.4:80:80" / "80:80" / "80" -> (ip, rest), the ip only when three parts are given."""
    import ipaddress
    if spec.startswith("["):
        ip, sep, rest = spec[1:].partition("]:")
        if not sep:
            raise _fail(f"invalid IP address: {spec}")
    elif spec.count(":") >= 2:
        ip, _, rest = spec.partition(":")
    else:
        return "", spec
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise _fail(f"invalid IP address: {ip}") from None
    return ip, rest


def _standard(spec: str) -> str:
    """docker's long syntax `target=80,published=8080,protocol=udp,host_ip=...` in the short notation."""
    if "=" not in spec:
        return spec
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, _, value = part.partition("=")
        if key not in LONG_KEYS:
            raise _fail(f"invalid argument \"{spec}\" for \"-p, --publish\" flag: invalid field '{key}'")
        fields[key] = value
    if "target" not in fields:
        raise _fail(f"invalid argument \"{spec}\" for \"-p, --publish\" flag: missing target port")
    ip = fields.get("host_ip", "")
    ip = f"[{ip}]" if ":" in ip else ip
    return f"{ip}:{fields.get('published', '')}:{fields['target']}/{fields.get('protocol', 'tcp')}"


def parse_publish(spec: str) -> list[tuple[str, dict[str, str]]]:
    """One -p value -> [("80/tcp", {"HostIp": ..., "HostPort": ...}), ...] (docker's nat.ParsePortSpec)."""
    ip, rest = _split_ip(_standard(spec))
    host, sep, container = rest.rpartition(":")
    if not sep:
        host = ""
    container, _, proto = container.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise _fail(f"invalid proto: {proto}")
    if not container:
        raise _fail(f"no port specified: {spec}<empty>")
    first, last = _port_range(container, "containerPort")
    host_first, host_last = _port_range(host, "hostPort") if host else (0, 0)
    count = last - first + 1
    if host and count > 1 and host_last - host_first + 1 != count:
        raise _fail(f"invalid ranges specified for container and host Ports: {container} and {host}")
    out = []
    for n in range(count):
        if not host:
            host_port = ""
        elif count > 1:
            host_port = str(host_first + n)
        else:
            host_port = host if host_first != host_last else str(host_first)
        out.append((f"{first + n}/{proto}", {"HostIp": ip, "HostPort": host_port}))
    return out


def parse_expose(spec: str) -> list[str]:
    """One --expose value ("80", "80/udp", "8000-8010") -> its port keys."""
    port, _, proto = spec.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise _fail(f"invalid proto: {proto}")
    first, last = _port_range(port, "range format for --expose")
    return [f"{n}/{proto}" for n in range(first, last + 1)]


def _extra_host(entry: str) -> str:
    """docker's `host:ip` or `host=ip` (ip may be `host-gateway`), sent as `host:ip`."""
    import ipaddress
    sep = "=" if "=" in entry else ":"
    name, found, address = entry.partition(sep)
    if not found or not name or not address:
        raise _fail(f'invalid argument "{entry}" for "--add-host" flag: bad format for add-host: "{entry}"')
    if address != "host-gateway":
        try:
            ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            raise _fail(f'invalid argument "{entry}" for "--add-host" flag: invalid IP address in add-host: '
                        f'"{address}"') from None
    return f"{name}:{address.strip('[]')}"


def apply_network(o: dict[str, Any], config: dict[str, Any]) -> None:
    """Add the network flags to a create body the way docker's CLI does."""
    host = config.setdefault("HostConfig", {})
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in o["publish"]:
        for key, binding in parse_publish(spec):
            exposed[key] = {}
            bindings.setdefault(key, []).append(binding)
    for spec in o["expose"]:
        exposed.update({key: {} for key in parse_expose(spec)})
    if exposed:
        config["ExposedPorts"] = exposed
    host["PortBindings"] = bindings
    host["PublishAllPorts"] = bool(o["publish_all"])
    host["Dns"], host["DnsSearch"], host["DnsOptions"] = list(o["dns"]), list(o["dns_search"]), list(o["dns_option"])
    host["ExtraHosts"] = [_extra_host(entry) for entry in o["add_host"]] or None
    if o["domainname"]:
        config["Domainname"] = o["domainname"]
    _endpoint(o, config, host.get("NetworkMode") or "default")


def _endpoint(o: dict[str, Any], config: dict[str, Any], network: str) -> None:
    """NetworkingConfig.EndpointsConfig for --ip, --mac-address and --network-alias."""
    settings: dict[str, Any] = {}
    if o["ip"]:
        settings["IPAMConfig"] = {"IPv4Address": o["ip"]}
    if o["network_alias"]:
        settings["Aliases"] = list(o["network_alias"])
    if o["mac_address"]:
        settings["MacAddress"] = o["mac_address"]
        config["MacAddress"] = o["mac_address"]
    if settings:
        config["NetworkingConfig"] = {"EndpointsConfig": {network: settings}}
