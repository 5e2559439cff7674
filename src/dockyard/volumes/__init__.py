"""The local volume driver: named and anonymous volumes under <data-root>/volumes, metadata in SQLite."""
