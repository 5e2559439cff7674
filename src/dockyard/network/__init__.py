"""Container networking: IPAM, bridge driver, network namespaces, firewall, published ports, embedded DNS."""
