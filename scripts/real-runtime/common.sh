# shellcheck shell=bash
# Functions shared by up.sh and down.sh (sourced, not run).

die() {
  echo "real-runtime: $*" >&2
  exit 1
}

absolute() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# The services up.sh starts, in start order; down.sh stops them in reverse.
services=(registry auth-registry containerd)

# A TCP port on 127.0.0.1 that nothing listens on now, outside the kernel's ephemeral range.
pick_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# Succeeds if an HTTP server answers at the URL, whatever the status.
http_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1") || return 1
  [ "$code" != 000 ]
}

# Succeeds once containerd answers on the socket with its CRI plugin loaded.
cri_serving() {
  [ -S "$1" ] || return 1
  ctr --address "$1" plugins ls 2>/dev/null | grep -E '^io\.containerd\.grpc\.v1[[:space:]]+cri[[:space:]].*[[:space:]]ok[[:space:]]*$' >/dev/null
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.1s until it succeeds.
wait_for() {
  local what=$1 seconds=$2 tries
  shift 2
  for ((tries = seconds * 10; tries > 0; tries--)); do
    "$@" && return 0
    sleep 0.1
  done
  echo "real-runtime: $what not ready after ${seconds}s" >&2
  return 1
}

# start_daemon DIR NAME COMMAND...: runs COMMAND in its own session (a Ctrl-C meant for a
# caller does not reach it; down.sh stops it), logging to DIR/logs/NAME.log.
start_daemon() {
  local dir=$1 name=$2
  shift 2
  setsid "$@" >>"$dir/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/pids/$name.pid"
}

# The PID recorded for NAME, if that process is alive and still the one started for DIR (its
# command line names a file under DIR), so a recycled PID is never signalled.
live_pid() {
  local dir=$1 name=$2 pid
  [ -s "$dir/pids/$name.pid" ] || return 1
  pid=$(cat "$dir/pids/$name.pid")
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/" || return 1
  echo "$pid"
}

all_running() {
  local name
  for name in "${services[@]}"; do
    live_pid "$1" "$name" >/dev/null || return 1
  done
}

# stop_pid DIR-LABEL PID: SIGTERM, up to 10s for it to exit, then SIGKILL.
stop_pid() {
  local pid=$2 tries
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((tries = 100; tries > 0; tries--)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "real-runtime: $1 (pid $pid) ignored SIGTERM for 10s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

stop_pid_file() {
  local dir=$1 name=$2 pid
  if pid=$(live_pid "$dir" "$name"); then
    stop_pid "$name" "$pid"
  fi
  rm -f "$dir/pids/$name.pid"
}

# build_oci_layout OUT ROOTFS TAG ENTRYPOINT-JSON: a one-layer OCI image layout of ROOTFS, with
# reproducible bytes (sorted entries, zero times and owners, gzip without a name or time).
build_oci_layout() {
  local out=$1 rootfs=$2 tag=$3 entrypoint=$4 work diff_id layer layer_size config config_size manifest manifest_size
  work=$(mktemp -d)
  mkdir -p "$out/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
  diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  gzip -n -c "$work/layer.tar" >"$work/layer.tar.gz"
  layer=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
  layer_size=$(stat -c %s "$work/layer.tar.gz")
  mv "$work/layer.tar.gz" "$out/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$diff_id" >"$work/config.json"
  config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  config_size=$(stat -c %s "$work/config.json")
  mv "$work/config.json" "$out/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$layer_size" >"$work/manifest.json"
  manifest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
  manifest_size=$(stat -c %s "$work/manifest.json")
  mv "$work/manifest.json" "$out/blobs/sha256/$manifest"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$manifest_size" "$tag" >"$out/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
  rm -rf "$work"
}
