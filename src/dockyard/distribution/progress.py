"""Docker's JSON progress messages (what the CLI turns into per-layer bars)."""

from __future__ import annotations

from typing import Any

from dockyard.util.humanize import human_size

BAR_WIDTH = 50


def status(text: str, ident: str | None = None) -> dict[str, Any]:
    """A plain status line, optionally for one layer id."""
    out: dict[str, Any] = {"status": text}
    if ident is not None:
        out["progressDetail"] = {}
        out["id"] = ident
    return out


def bar(action: str, ident: str, current: int, total: int) -> dict[str, Any]:
    """A progress line with docker's "[====>    ] 1.2MB/3.4MB" rendering."""
    if total > 0:
        filled = min(BAR_WIDTH, int(BAR_WIDTH * current / total))
        arrow = "=" * max(filled - 1, 0) + (">" if filled < BAR_WIDTH else "=") if filled else ">"
        text = f"[{arrow.ljust(BAR_WIDTH)}] {human_size(current)}/{human_size(total)}"
    else:
        text = human_size(current)
    return {"status": action, "progressDetail": {"current": current, "total": total}, "progress": text,
            "id": ident}


def error(message: str) -> dict[str, Any]:
    """The error object that ends a failed stream."""
    return {"errorDetail": {"message": message}, "error": message}
