"""etcd, the consensus core of swarm mode: the local member and its JSON-gateway client."""
