"""The layer arrows of docs/architecture.md hold: no package imports a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "dockyard"

LAYER = {
    "errors": 0, "util": 1,
    "content": 2, "snapshots": 2, "metadata": 2, "events": 2,
    "oci": 3, "runtime": 3, "logs": 3, "network": 3, "volumes": 3, "distribution": 3,
    "images": 4, "containers": 4, "builder": 4, "system": 4,
    "server": 5, "registry": 5,
    "daemon": 6,
}
CLIENT_SIDE = {"cli", "client", "tools"}
CLIENT_MAY_IMPORT = {"cli", "client", "util", "errors", "tools"}


def imports_of(path: Path) -> set[str]:
    """Top-level dockyard packages a module imports (at any depth in the file, lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "dockyard" and len(parts) > 1:
                found.add(parts[1])
    return found


def package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else ""


def test_no_upward_imports():
    problems = []
    for path in SRC.rglob("*.py"):
        package = package_of(path)
        if package in ("", "__init__", "entry", "__main__"):
            continue
        for target in imports_of(path) - {package}:
            if package in CLIENT_SIDE:
                if target not in CLIENT_MAY_IMPORT:
                    problems.append(f"{path.relative_to(SRC)} (client side) imports dockyard.{target}")
            elif target in CLIENT_SIDE:
                problems.append(f"{path.relative_to(SRC)} imports client-side dockyard.{target}")
            elif LAYER.get(target, 0) > LAYER[package]:
                problems.append(f"{path.relative_to(SRC)} (L{LAYER[package]}) imports dockyard.{target} "
                                f"(L{LAYER[target]})")
    assert not problems, "\n".join(sorted(problems))


def test_every_package_has_a_layer():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYER) | CLIENT_SIDE, packages - set(LAYER) - CLIENT_SIDE
