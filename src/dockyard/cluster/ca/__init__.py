"""The swarm's root CA, join tokens, and the keys that protect secrets at rest."""
