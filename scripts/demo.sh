#!/usr/bin/env bash
# Set up, start a Dockyard daemon, make the busybox image from Debian's busybox-static, and run containers.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export PATH="$PWD/.venv/bin:$PATH"
sock=/run/dockyard/dockyard.sock
export DOCKER_HOST="unix://$sock"
started=""
if ! dockyard version >/dev/null 2>&1; then
  mkdir -p /var/log/dockyard
  dockyard daemon >/var/log/dockyard/demo-daemon.log 2>&1 &
  started=$!
  for _ in $(seq 100); do dockyard version >/dev/null 2>&1 && break; sleep 0.1; done
fi
cleanup() {
  dockyard rm -f demo-web >/dev/null 2>&1 || true
  if [ -n "$started" ]; then kill -TERM "$started"; wait "$started" || true; fi
}
trap cleanup EXIT

echo "== making busybox:latest from Debian's busybox-static"
python -m dockyard.tools.busybox_image
dockyard images busybox
echo "== a detached container, its logs and processes"
dockyard run -d --name demo-web busybox sh -c 'while true; do echo tick; sleep 1; done'
sleep 2
dockyard logs --tail 2 demo-web
dockyard top demo-web
dockyard ps
dockyard rm -f demo-web
echo "== the real docker CLI against dockyard"
docker run --rm busybox echo "hello from a Dockyard container"
