"""The layer table of design.md holds: no upward or sideways imports, routers that only route, a client that
never reaches daemon code. Lazy imports inside functions count as much as those at the top of a module."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "dockyard"

LAYER = {
    "errors": 0, "types": 0, "util": 1,
    "content": 2, "snapshots": 2, "metadata": 2, "events": 2,
    "oci": 3, "runtime": 3, "logs": 3, "network": 3, "volumes": 3, "distribution": 3,
    "images": 4, "containers": 4, "builder": 4, "system": 4, "cluster": 4, "plugins": 4,
    "server": 5, "registry": 5,
    "daemon": 6,
}
CLIENT_SIDE = {"cli", "client", "tools"}
CLIENT_MAY_IMPORT = CLIENT_SIDE | {"util", "errors", "types"}
ROOT = "dockyard"  # the package's own __init__: version strings only, vocabulary every layer may use

# Imports between two packages of one layer that are allowed: package -> the modules (or whole packages) it may
# import from its own layer, by dotted name below `dockyard.`.
SIDEWAYS_ALLOWED: dict[str, set[str]] = {
    # design.md: "stores never import each other except metadata"
    "content": {"metadata"}, "snapshots": {"metadata"}, "events": {"metadata"},
    # design.md: the runtime runs the bundles whose config.json `oci` builds
    "runtime": {"oci"},
    # Not in design.md: the registry is served by the daemon's own asyncio HTTP server and router (no ASGI server
    # can hijack connections); those two modules would move to a package of their own below L5.
    "registry": {"server.http", "server.routing"},
}

ROUTERS = SRC / "server" / "routers"
ROUTER_MAY_IMPORT = {"server", "util", "errors"}

TOP_LEVEL = {p.stem for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def imported_modules(path: Path) -> set[str]:
    """Dotted names of the dockyard modules a file imports, at any depth (lazy imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == ROOT}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == ROOT:  # `from dockyard import errors` imports a module, `__version__` the root
                found |= {f"{ROOT}.{a.name}" if a.name in TOP_LEVEL else ROOT for a in node.names}
            elif node.module.split(".")[0] == ROOT:
                found.add(node.module)
    return found


def package_of_module(name: str) -> str:
    """The top-level dockyard package of a dotted module name (`dockyard` itself for the root package)."""
    return name.split(".")[1] if "." in name else ROOT


def imports_of(path: Path) -> set[str]:
    """Top-level dockyard packages a file imports (`dockyard` itself for the root package)."""
    return {package_of_module(name) for name in imported_modules(path)}


def package_of(path: Path) -> str:
    """The top-level package a file belongs to ("" for modules at the top: entry.py, __init__.py)."""
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def packaged_files() -> list[tuple[Path, str, set[str]]]:
    """(file, its package, the other packages it imports) for every file inside a package."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        package = package_of(path)
        if package:
            found.append((path, package, imports_of(path) - {package, ROOT}))
    return found


def allowed_sideways(package: str, module: str) -> bool:
    """Whether `package` may import `module` (a full dotted name) although both sit in one layer."""
    name = module.removeprefix(f"{ROOT}.")
    return any(name == allowed or name.startswith(f"{allowed}.") for allowed in SIDEWAYS_ALLOWED.get(package, ()))


def report(problems: list[str]) -> str:
    """One offending import a line."""
    return f"{len(problems)} offending imports:\n" + "\n".join(sorted(problems))


def test_no_upward_imports() -> None:
    problems = [f"{path.relative_to(SRC)} (L{LAYER[package]}) imports dockyard.{target} (L{LAYER[target]})"
                for path, package, targets in packaged_files() if package in LAYER
                for target in targets if LAYER.get(target, 0) > LAYER[package]]
    assert not problems, report(problems)


def test_no_sideways_imports_within_a_layer() -> None:
    problems = [f"{path.relative_to(SRC)} ({package}, L{LAYER[package]}) imports {module} (same layer)"
                for path, package, _ in packaged_files() if package in LAYER
                for module in imported_modules(path)
                if (target := package_of_module(module)) != package and LAYER.get(target) == LAYER[package]
                and not allowed_sideways(package, module)]
    assert not problems, report(problems)


def test_routers_import_only_server_util_and_errors() -> None:
    problems = [f"{path.relative_to(SRC)} imports {module}"
                for path in sorted(ROUTERS.rglob("*.py"))
                for module in imported_modules(path) if package_of_module(module) not in ROUTER_MAY_IMPORT]
    assert not problems, report(problems)


def test_client_side_never_imports_daemon_code() -> None:
    problems = [f"{path.relative_to(SRC)} (client side) imports dockyard.{target}"
                for path, package, targets in packaged_files() if package in CLIENT_SIDE
                for target in targets if target not in CLIENT_MAY_IMPORT]
    assert not problems, report(problems)


def test_daemon_code_never_imports_the_client_side() -> None:
    problems = [f"{path.relative_to(SRC)} imports client-side dockyard.{target}"
                for path, package, targets in packaged_files() if package in LAYER
                for target in targets if target in CLIENT_SIDE]
    assert not problems, report(problems)


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LAYER) | CLIENT_SIDE, packages - set(LAYER) - CLIENT_SIDE
