"""server/routers package."""
