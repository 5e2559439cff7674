"""Swarm mode: the cluster store, its etcd member, and the swarm/node/secret/config objects."""
