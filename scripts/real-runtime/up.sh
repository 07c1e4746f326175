#!/usr/bin/env bash
# Starts a private container runtime stack on 127.0.0.1 for kip's end-to-end tests and demos:
#   - an OCI registry without auth, and a second one that demands basic auth (htpasswd);
#   - containerd with its CRI plugin, runc, overlayfs snapshots, and both registries as
#     plain-HTTP hosts; its sandbox (pause) image is a tiny static kip-sleep pushed to the
#     open registry first.
# Everything lives under DIR (state, logs, pid files); nothing outside it is configured or
# touched except what runc itself uses (/run/containerd/{runc,s}, cgroups named k8s.io/<id>).
# Idempotent: if DIR's services are already running it prints their endpoints again.
#
# Usage: scripts/real-runtime/up.sh [DIR]      (DIR defaults to /tmp/kip-real-runtime)
# Prints KEY=VALUE lines to source (also kept in DIR/env):
#   KIP_RT_DIR, KIP_REGISTRY, KIP_AUTH_REGISTRY, KIP_AUTH_USER, KIP_AUTH_PASSWORD,
#   KIP_CRI_SOCKET, KIP_PAUSE_IMAGE, KIP_SLEEP_BIN
# Environment: KIP_SLEEP_BIN (a built kip-sleep; built with cargo if unset),
#   KIP_REGISTRY_PORT, KIP_AUTH_REGISTRY_PORT (fixed ports; free ones are picked if unset).
# Needs root and the packages of install.sh; stop with down.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

dir=$(absolute "${1:-/tmp/kip-real-runtime}")
mkdir -p "$dir"/{logs,pids}

if all_running "$dir" && [ -s "$dir/env" ]; then
  cat "$dir/env"
  exit 0
fi
# Some but not all services alive (a crash, a half-finished start), or none: start clean, with
# no images, containers or sandboxes left from an earlier run (logs are kept and appended to).
"$here/down.sh" "$dir" >/dev/null
rm -rf "${dir:?}"/{containerd,registry,auth-registry,images}

[ "$(id -u)" -eq 0 ] || die "containerd and runc need root; run up.sh as root"
missing=()
for tool in containerd containerd-shim-runc-v2 runc ctr docker-registry skopeo htpasswd curl sha256sum tar gzip; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] || die "missing programs: ${missing[*]}; install them with scripts/real-runtime/install.sh"

socket="$dir/containerd/containerd.sock"
# A unix socket path must fit in 108 bytes, with room for the ".ttrpc" suffix of its sibling.
[ ${#socket} -le 100 ] || die "socket path $socket is too long for a unix socket; choose a shorter DIR"

# --- kip-sleep, the sandbox process and the kip image stand-in -------------------------------
sleep_bin=${KIP_SLEEP_BIN:-}
if [ -z "$sleep_bin" ]; then
  sleep_bin="$repo/crates/kip-sleep/target/release/kip-sleep"
  if [ ! -x "$sleep_bin" ]; then
    command -v cargo >/dev/null || die "kip-sleep is not built and cargo is not on PATH; set KIP_SLEEP_BIN"
    cargo build --quiet --release --manifest-path "$repo/crates/kip-sleep/Cargo.toml" >"$dir/logs/kip-sleep-build.log" 2>&1 \
      || die "building kip-sleep failed; see $dir/logs/kip-sleep-build.log"
  fi
fi
[ -x "$sleep_bin" ] || die "KIP_SLEEP_BIN=$sleep_bin is not an executable file"

# --- registries --------------------------------------------------------------------------------
user=kip-puller
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')

write_registry_config() { # name port [htpasswd]
  local name=$1 port=$2 htpasswd=${3:-}
  mkdir -p "$dir/$name/data"
  {
    echo "version: 0.1"
    echo "log: {level: info, formatter: text}"
    echo "storage:"
    echo "  filesystem: {rootdirectory: $dir/$name/data}"
    echo "  delete: {enabled: true}"
    echo "  maintenance: {uploadpurging: {enabled: false}}"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    if [ -n "$htpasswd" ]; then
      echo "auth:"
      echo "  htpasswd: {realm: kip-test, path: $htpasswd}"
    fi
  } >"$dir/$name/config.yml"
}

start_registry() { # name fixed-port [htpasswd]; prints the port it listens on
  local name=$1 fixed=$2 htpasswd=${3:-} port _
  for _ in 1 2 3 4 5; do
    port=${fixed:-$(pick_port)}
    write_registry_config "$name" "$port" "$htpasswd"
    start_daemon "$dir" "$name" docker-registry serve "$dir/$name/config.yml"
    # 200 from the open registry, 401 from the one with auth: both mean it serves. Ours must
    # still be alive: if another process took the port first, the answer came from that one.
    if wait_for "registry $name" 20 http_answers "http://127.0.0.1:$port/v2/" && sleep 0.2 &&
      live_pid "$dir" "$name" >/dev/null; then
      echo "$port"
      return 0
    fi
    stop_pid_file "$dir" "$name"
    [ -z "$fixed" ] || break
  done
  die "registry $name did not start; see $dir/logs/$name.log"
}

mkdir -p "$dir/auth-registry"
htpasswd -nbB "$user" "$password" >"$dir/auth-registry/htpasswd" 2>/dev/null
registry_port=$(start_registry registry "${KIP_REGISTRY_PORT:-}")
auth_port=$(start_registry auth-registry "${KIP_AUTH_REGISTRY_PORT:-}" "$dir/auth-registry/htpasswd")
registry="127.0.0.1:$registry_port"
auth_registry="127.0.0.1:$auth_port"

# --- the sandbox image -------------------------------------------------------------------------
pause_image="$registry/kip/pause:1"
mkdir -p "$dir/images/pause-root"
cp "$sleep_bin" "$dir/images/pause-root/pause"
chmod 755 "$dir/images/pause-root/pause"
rm -rf "$dir/images/pause"
build_oci_layout "$dir/images/pause" "$dir/images/pause-root" 1 '["/pause","876000h"]'
skopeo --insecure-policy copy --quiet --dest-tls-verify=false \
  "oci:$dir/images/pause:1" "docker://$pause_image" >"$dir/logs/push-pause.log" 2>&1 \
  || die "pushing the sandbox image failed; see $dir/logs/push-pause.log"

# --- containerd --------------------------------------------------------------------------------
ctd="$dir/containerd"
mkdir -p "$ctd"/{root,state,opt}
for host in "$registry" "$auth_registry"; do
  mkdir -p "$ctd/certs.d/$host"
  printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve", "push"]\n' \
    "$host" "$host" >"$ctd/certs.d/$host/hosts.toml"
done
cat >"$ctd/config.toml" <<TOML
# Written by scripts/real-runtime/up.sh; see scripts/real-runtime/README.md.
version = 2
root = "$ctd/root"
state = "$ctd/state"
# Snapshotters that cannot work here only add errors to the log.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$socket"

[plugins."io.containerd.internal.v1.opt"]
  path = "$ctd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # The sandbox forbids raising oom_score_adj; runc's attempt fails every start without this.
  restrict_oom_score_adj = true
  # Host-network pods only: there is no CNI plugin, and none is needed for them.
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$ctd/cni/bin"
    conf_dir = "$ctd/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$ctd/certs.d"
TOML
start_daemon "$dir" containerd containerd --config "$ctd/config.toml"
wait_for containerd 30 cri_serving "$socket" || die "containerd did not start; see $dir/logs/containerd.log"

{
  echo "KIP_RT_DIR=$dir"
  echo "KIP_REGISTRY=$registry"
  echo "KIP_AUTH_REGISTRY=$auth_registry"
  echo "KIP_AUTH_USER=$user"
  echo "KIP_AUTH_PASSWORD=$password"
  echo "KIP_CRI_SOCKET=$socket"
  echo "KIP_PAUSE_IMAGE=$pause_image"
  echo "KIP_SLEEP_BIN=$sleep_bin"
} >"$dir/env"
cat "$dir/env"
