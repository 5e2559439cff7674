"""The Dockyard Hub's web front: HTML pages, sessions, a safe Markdown subset, static CSS and JS."""
