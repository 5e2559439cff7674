#!/usr/bin/env bash
# Install what Dockyard needs on Debian 12 (as root) and make the project's virtualenv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker.io: Debian's dockerd, for the interoperability tests and benchmarks (and a docker CLI if none exists)
packages=(python3 python3-venv python3-pip busybox-static procps iproute2 util-linux tmux docker.io skopeo docker-registry nftables tini wrk curl docker-compose openssh-server openssh-client)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
# byte-compile now: the CLI and the shims start faster, even where PYTHONDONTWRITEBYTECODE is set
.venv/bin/python -m compileall -q src >/dev/null
