#!/usr/bin/env bash
# Starts and stops a local OCI registry for tests: Debian's docker-registry with our own
# configuration (build/registry-config.yml: loopback only, no auth), its storage in DIR.
#
#   build/local-registry.sh start DIR [HOST:PORT]   prints HOST:PORT once the registry answers
#   build/local-registry.sh stop DIR                stops the registry started with DIR
#
# Without HOST:PORT a free port on 127.0.0.1 is chosen. The process id is kept in
# DIR/registry.pid and the log in DIR/registry.log; `stop` ends that process only.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "local-registry: $*" >&2; exit 2; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=$1 addr=${2:-}
    command -v docker-registry >/dev/null || die "docker-registry is not installed (apt-get install docker-registry)"
    mkdir -p "$dir/storage"
    dir=$(cd "$dir" && pwd)
    if [ -f "$dir/registry.pid" ] && kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null; then
        die "a registry started with '$dir' is already running (pid $(cat "$dir/registry.pid"))"
    fi
    [ -n "$addr" ] || addr="127.0.0.1:$(free_port)"
    case "$addr" in
        127.*:*|localhost:*|\[::1\]:*) ;;
        *) die "refusing to listen on '$addr': the test registry has no auth and stays on loopback" ;;
    esac
    # The upload-state secret only matters behind a load balancer; a fresh one per start keeps
    # the registry from warning about a generated one.
    REGISTRY_HTTP_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n') \
    REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$dir/storage" REGISTRY_HTTP_ADDR="$addr" \
        setsid docker-registry serve "$here/registry-config.yml" >"$dir/registry.log" 2>&1 </dev/null &
    echo $! >"$dir/registry.pid"
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "http://$addr/v2/" 2>/dev/null; then
            echo "$addr"
            return 0
        fi
        if ! kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null; then
            cat "$dir/registry.log" >&2
            die "the registry exited at start (log above)"
        fi
        sleep 0.1
    done
    stop "$dir"
    die "the registry did not answer on http://$addr/v2/ within 10 seconds"
}

stop() {
    local dir=$1 pid
    [ -f "$dir/registry.pid" ] || return 0
    pid=$(cat "$dir/registry.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$dir/registry.pid"
}

case "${1:-}" in
    start) [ $# -ge 2 ] || die "usage: $0 start DIR [HOST:PORT]"; start "$2" "${3:-}" ;;
    stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
    *) die "usage: $0 start DIR [HOST:PORT] | stop DIR" ;;
esac
