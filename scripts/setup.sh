#!/usr/bin/env bash
# Install what Dockyard needs on Debian 12 (as root) and make the project's virtualenv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(python3 python3-venv python3-pip busybox-static procps iproute2 util-linux tmux)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# The real docker CLI is the contract; Debian's docker.io brings one when the machine has none.
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
