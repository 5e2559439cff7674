"""containers package."""
