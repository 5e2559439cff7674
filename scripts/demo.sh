#!/usr/bin/env bash
# The main job, as root on Debian 12: set up, start a Dockyard daemon, make busybox:latest from Debian's
# busybox-static, build a web image from a Dockerfile, run it with a published port and fetch its page, start
# `dockyard registry serve`, push the image there, pull it back and run it again, print the hub page's URL,
# run a swarm service of it with a published port (swarm init, service create, scale, a page through the routing
# mesh, rm, leave), then clean up everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export PATH="$PWD/.venv/bin:$PATH"
sock=/run/dockyard/dockyard.sock
export DOCKER_HOST="unix://$sock"
work=$(mktemp -d /tmp/dockyard-demo.XXXXXX)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
web_port=$(free_port)
registry_port=$(free_port)
registry="127.0.0.1:$registry_port"
daemon_pid=""
registry_pid=""
swarm_made=""

cleanup() {
  if [ -n "$swarm_made" ]; then dockyard swarm leave --force >/dev/null 2>&1 || true; fi
  dockyard rm -f demo-web demo-web-pulled >/dev/null 2>&1 || true
  dockyard rmi -f demo/web:1 "$registry/demo/web:1" >/dev/null 2>&1 || true
  if [ -n "$registry_pid" ]; then kill -TERM "$registry_pid"; wait "$registry_pid" || true; fi
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid"; wait "$daemon_pid" || true
    # the daemon keeps its default bridge, nft table and cgroup parent (as dockerd keeps docker0); the demo
    # started it, so it removes those again when they were not there before
    if [ -z "$had_bridge" ]; then ip link del dockyard0 2>/dev/null || true; fi
    if [ -z "$had_table" ]; then nft delete table ip dockyard 2>/dev/null || true; fi
    if [ -z "$had_cgroups" ]; then
      for d in /sys/fs/cgroup/*/dockyard /sys/fs/cgroup/dockyard; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
    fi
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fetch() {  # fetch URL: print the page, waiting up to 5 s for the server to answer
  for _ in $(seq 50); do
    if curl -fsS "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  curl -fsS "$1"
}

had_bridge=$(ip -o link show dockyard0 2>/dev/null || true)
had_table=$(nft list table ip dockyard 2>/dev/null | head -1 || true)
had_cgroups=$(find /sys/fs/cgroup -maxdepth 2 -name dockyard 2>/dev/null | head -1)
if ! dockyard version >/dev/null 2>&1; then
  echo "== starting dockyard daemon (log: $work/daemon.log)"
  dockyard daemon >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do dockyard version >/dev/null 2>&1 && break; sleep 0.1; done
fi

echo "== making busybox:latest from Debian's busybox-static"
python -m dockyard.tools.busybox_image
dockyard images busybox

echo "== building demo/web:1 from a Dockerfile"
mkdir -p "$work/web"
cat >"$work/web/index.html" <<'EOF'
<!doctype html><title>Dockyard demo</title><h1>Hello from a Dockyard container</h1>
EOF
cat >"$work/web/Dockerfile" <<'EOF'
FROM busybox
COPY index.html /www/index.html
RUN echo "built on $(date -u +%F)" > /www/built.txt
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
EOF
dockyard build -t demo/web:1 "$work/web"
dockyard history demo/web:1

echo "== running it with port 80 published on 127.0.0.1:$web_port"
dockyard run -d --name demo-web -p "127.0.0.1:$web_port:80" demo/web:1
dockyard ps
dockyard port demo-web
fetch "http://127.0.0.1:$web_port/"
fetch "http://127.0.0.1:$web_port/built.txt"
dockyard rm -f demo-web

echo "== our registry on $registry: push, remove, pull back, run again"
dockyard registry serve --addr "$registry" --root "$work/registry" >"$work/registry.log" 2>&1 &
registry_pid=$!
fetch "http://$registry/v2/" >/dev/null
dockyard tag demo/web:1 "$registry/demo/web:1"
dockyard push "$registry/demo/web:1"
dockyard rmi "$registry/demo/web:1" demo/web:1
dockyard pull "$registry/demo/web:1"
dockyard run -d --name demo-web-pulled -p "127.0.0.1:$web_port:80" "$registry/demo/web:1"
fetch "http://127.0.0.1:$web_port/"
echo "== the hub page: http://$registry/ (serving until this script ends)"
fetch "http://$registry/" | grep -o "demo/web" | head -1

if [ "$(dockyard info --format '{{.Swarm.LocalNodeState}}')" = "inactive" ]; then
  echo "== swarm mode: a service of 2 replicas of demo/web:1 with a published port, scaled to 3, then removed"
  dockyard swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377
  swarm_made=yes
  mesh_port=$(free_port)
  dockyard service create --name demo-svc --replicas 2 -p "$mesh_port:80" "$registry/demo/web:1"
  dockyard service ls
  dockyard service scale demo-svc=3
  dockyard service ps demo-svc
  echo "== the page through the routing mesh on 127.0.0.1:$mesh_port"
  fetch "http://127.0.0.1:$mesh_port/"
  dockyard service rm demo-svc
  dockyard swarm leave --force
  swarm_made=""
fi

echo "== the real docker CLI against dockyard"
docker run --rm busybox echo "hello from a Dockyard container"
