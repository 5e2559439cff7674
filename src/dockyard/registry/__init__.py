"""Dockyard's OCI distribution registry: storage, HTTP routes, auth, garbage collection and a hub page."""
