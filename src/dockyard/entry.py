"""The `dockyard` console script: `dockyard daemon ...` runs the daemon, anything else is the CLI."""

from __future__ import annotations

import sys


def main() -> int:
    """Dispatch on the first argument without importing the side that is not needed."""
    argv = sys.argv[1:]
    if argv[:1] == ["daemon"]:
        from dockyard.daemon.main import main as daemon_main

        return daemon_main(argv[1:])
    if argv[:1] == ["registry"]:
        from dockyard.registry.cli import main as registry_main

        return registry_main(argv[1:])
    from dockyard.cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
