#!/usr/bin/env bash
# Set up, type-check, then run every test. Fails when mypy or pytest fails; pytest's exit code 5 (no tests
# collected) counts as a failure here too.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
.venv/bin/python -m mypy  # the whole package, with the settings in pyproject.toml's [tool.mypy]
typed=$?
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" tests
status=$?
if [ "$status" -eq 5 ]; then
  echo "no tests were collected" >&2
  status=1
fi
if [ "$typed" -ne 0 ]; then
  echo "mypy found type errors" >&2
  [ "$status" -eq 0 ] && status=1
fi
exit "$status"
