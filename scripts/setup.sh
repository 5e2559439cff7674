#!/usr/bin/env bash
# Install what Dockyard needs on Debian 12 (as root) and make the project's virtualenv. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium, chromium-driver: the hub's web front is tested in a real headless browser (selenium)
# docker.io: Debian's dockerd, for the interoperability tests and benchmarks (and a docker CLI if none exists)
packages=(python3 python3-venv python3-pip busybox-static procps iproute2 util-linux tmux docker.io skopeo docker-registry nftables tini wrk curl docker-compose openssh-server openssh-client chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# etcd-server: the consensus core of swarm mode, run by the daemon as its own child. Debian's postinst would start
# the packaged system service (a second etcd on 2379/2380): forbid service starts while installing, then make sure
# none is running or enabled.
if ! dpkg -s etcd-server >/dev/null 2>&1; then
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends etcd-server >/dev/null || status=$?
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  [ -z "${status:-}" ] || exit "$status"
  # the packaged service runs as user etcd with /var/lib/etcd/default; a daemon's own member never does
  for pid in $(pgrep -u etcd -x etcd || true); do
    echo "setup: stopping the system etcd started by the package (pid $pid)" >&2
    kill "$pid"
  done
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now etcd.service >/dev/null 2>&1 || true
  elif [ -e /etc/init.d/etcd ]; then
    update-rc.d etcd disable >/dev/null 2>&1 || true
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
# byte-compile now: the CLI and the shims start faster, even where PYTHONDONTWRITEBYTECODE is set
.venv/bin/python -m compileall -q src >/dev/null
