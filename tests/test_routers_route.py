"""Routers only route: they import nothing but server/, util/, errors (and the backend Protocols), construct no
service object, and the Services they get is typed by those Protocols."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SERVER = Path(__file__).resolve().parent.parent / "src" / "dockyard" / "server"
ROUTER_MAY_IMPORT = ("dockyard.server", "dockyard.util", "dockyard.errors")
SERVICE_CLASSES = re.compile(r"\b(Puller|Pusher|ExecService|ContainerAccess|ContextReceiver)\(")


def _modules(path: Path) -> set[str]:
    """Every dockyard module a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.startswith("dockyard.")}


def test_routers_import_only_server_util_and_errors() -> None:
    wrong = {f"{path.name}: {name}" for path in (SERVER / "routers").glob("*.py") for name in _modules(path)
             if not name.startswith(ROUTER_MAY_IMPORT)}
    assert not wrong


def test_server_constructs_no_service_object() -> None:
    found = [f"{path.name}: {m.group(0)}" for path in SERVER.rglob("*.py")
             for m in SERVICE_CLASSES.finditer(path.read_text())]
    assert not found


def test_services_are_typed_by_backend_protocols() -> None:
    assert "Any" not in (SERVER / "services.py").read_text()
