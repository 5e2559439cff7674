"""The cluster store: the ClusterStore seam, its etcd backend and the list-watch cache."""
