#!/usr/bin/env bash
# Benchmarks, side by side in one run: Dockyard against Debian's dockerd (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if ! command -v dockerd >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
exec .venv/bin/python bench/engine.py "$@"
