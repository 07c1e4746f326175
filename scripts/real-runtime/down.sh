#!/usr/bin/env bash
# Stops what up.sh started under DIR, by the PIDs it recorded: first every container and pod
# sandbox containerd runs (so no shim or container outlives it), then containerd, then the
# registries; then unmounts whatever is still mounted under DIR. Files stay for inspection
# (logs in DIR/logs); remove DIR afterwards if not wanted. Idempotent: stopping a stopped DIR
# does nothing.
#
# Usage: scripts/real-runtime/down.sh [DIR]   (DIR defaults to /tmp/kip-real-runtime)
#        scripts/real-runtime/down.sh --all   (also every DIR the Rust test harness left under
#                                              ${TMPDIR:-/tmp}/kip-real-runtime-tests)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

if [ "${1:-}" = --all ]; then
  "$0" /tmp/kip-real-runtime
  for leftover in "${TMPDIR:-/tmp}"/kip-real-runtime-tests/*/; do
    [ -d "$leftover/pids" ] && "$0" "${leftover%/}"
  done
  exit 0
fi

dir=${1:-/tmp/kip-real-runtime}
[ -d "$dir" ] || exit 0
dir=$(cd "$dir" && pwd)
ctd="$dir/containerd"
socket="$ctd/containerd.sock"
tasks="$ctd/state/io.containerd.runtime.v2.task"

# Containers and sandboxes first, while containerd can still do it properly.
if live_pid "$dir" containerd >/dev/null; then
  for namespace in $(ctr --address "$socket" namespaces list -q 2>/dev/null); do
    for task in $(ctr --address "$socket" --namespace "$namespace" tasks list -q 2>/dev/null); do
      ctr --address "$socket" --namespace "$namespace" tasks delete --force "$task" >/dev/null 2>&1 || true
    done
  done
fi
stop_pid_file "$dir" containerd

# Whatever containerd could not stop (it had died, or a delete failed): kill each container's
# processes by the PID in its bundle, checked against the container id in its cgroup path, and
# the shims that serve this containerd's socket (runc v2 shims keep no pid file).
if [ -d "$tasks" ]; then
  for bundle in "$tasks"/*/*/; do
    [ -d "$bundle" ] || continue
    id=$(basename "$bundle")
    namespace=$(basename "$(dirname "$bundle")")
    if [ -s "$bundle/init.pid" ]; then
      pid=$(cat "$bundle/init.pid")
      if grep -qF "$id" "/proc/$pid/cgroup" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    runc --root "/run/containerd/runc/$namespace" delete --force "$id" >/dev/null 2>&1 || true
  done
fi
for cmdline in /proc/[0-9]*/cmdline; do
  pid=${cmdline#/proc/}
  pid=${pid%/cmdline}
  args=$( { tr '\0' ' ' <"$cmdline"; } 2>/dev/null) || continue
  case "$args" in
    *containerd-shim*" -address $socket "*) stop_pid "containerd shim" "$pid" ;;
  esac
done

# Each registry takes about a second to exit on SIGTERM: stop them together.
for name in auth-registry registry; do
  stop_pid_file "$dir" "$name" &
done
wait

# Container root filesystems, sandbox /dev/shm mounts, snapshots: deepest first.
awk -v prefix="$dir/" 'index($5, prefix) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r mount; do
  umount "$mount" 2>/dev/null || umount --lazy "$mount" 2>/dev/null || echo "real-runtime: cannot unmount $mount" >&2
done
rm -f "$dir/env"
