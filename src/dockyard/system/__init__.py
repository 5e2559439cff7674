"""system package: facts about the host and daemon for /info and /version."""
