#!/usr/bin/env bash
# Builds the kip image from build/Containerfile with buildah (no daemon needed), and pushes it
# when asked. Offline: the image is FROM scratch and only copies files.
#
#   build/build-image.sh [options]
#
#   --kip PATH          the static kip binary        (env KIP_BIN; default: the release build
#                       target/x86_64-unknown-linux-gnu/release/kip)
#   --kip-sleep PATH    the static kip-sleep binary  (env KIP_SLEEP_BIN; default:
#                       crates/kip-sleep/target/release/kip-sleep)
#   --compile           build both binaries first (static release builds)
#   --image REF         name of the image to build   (env IMAGE; default ghcr.io/kip-dev/kip:VERSION)
#   --push DEST         push to DEST after building, e.g. registry.example.com/team/kip:0.1.0
#                       (env PUSH_TO); the registry login is buildah's or podman's (`buildah login`)
#   --insecure          push over plain HTTP / without TLS verification (a local test registry)
#   --storage DIR       keep buildah's image store under DIR instead of the system store
#                       (env BUILDAH_STORAGE; useful for tests and CI)
#   --digest-file FILE  write the pushed manifest digest to FILE
#
# Prints the image's size at the end. Exit codes: 0 built (and pushed), 1 build or push failed,
# 2 bad arguments or a binary that is missing or not static.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo_root/Cargo.toml")
kip_bin=${KIP_BIN:-$repo_root/target/x86_64-unknown-linux-gnu/release/kip}
kip_sleep_bin=${KIP_SLEEP_BIN:-$repo_root/crates/kip-sleep/target/release/kip-sleep}
image=${IMAGE:-ghcr.io/kip-dev/kip:${version}}
push_to=${PUSH_TO:-}
storage=${BUILDAH_STORAGE:-}
compile=false
insecure=false
digest_file=""

die() { echo "build-image: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --kip) kip_bin=${2:?--kip needs a path}; shift 2 ;;
        --kip-sleep) kip_sleep_bin=${2:?--kip-sleep needs a path}; shift 2 ;;
        --compile) compile=true; shift ;;
        --image) image=${2:?--image needs a reference}; shift 2 ;;
        --push) push_to=${2:?--push needs a destination}; shift 2 ;;
        --insecure) insecure=true; shift ;;
        --storage) storage=${2:?--storage needs a directory}; shift 2 ;;
        --digest-file) digest_file=${2:?--digest-file needs a path}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

command -v buildah >/dev/null || die "buildah is not installed (Debian/Ubuntu: apt-get install buildah)"

if $compile; then
    echo "build-image: compiling static release binaries" >&2
    (cd "$repo_root" && RUSTFLAGS='-C target-feature=+crt-static' \
        cargo build --release --target x86_64-unknown-linux-gnu -p kip) \
        || { echo "build-image: compiling kip failed" >&2; exit 1; }
    (cd "$repo_root" && cargo build --release --manifest-path crates/kip-sleep/Cargo.toml) \
        || { echo "build-image: compiling kip-sleep failed" >&2; exit 1; }
fi

# A scratch image has no dynamic loader: a dynamically linked binary would fail at start with
# "no such file or directory", so refuse it here with a clear message instead.
require_static() {
    local what=$1 path=$2
    [ -f "$path" ] || die "$what binary not found at '$path' (give --${what} PATH, or --compile)"
    [ -x "$path" ] || die "$what binary '$path' is not executable"
    if ! head -c 4 "$path" | grep -q $'^\x7fELF'; then
        die "$what binary '$path' is not an ELF executable"
    fi
    if readelf --program-headers --wide "$path" 2>/dev/null | grep -q 'INTERP'; then
        die "$what binary '$path' is dynamically linked; build it with RUSTFLAGS='-C target-feature=+crt-static' --target x86_64-unknown-linux-gnu"
    fi
}
require_static kip "$kip_bin"
require_static kip-sleep "$kip_sleep_bin"

buildah_cmd=(buildah --storage-driver vfs)
if [ -n "$storage" ]; then
    mkdir -p "$storage/root" "$storage/run"
    buildah_cmd+=(--root "$storage/root" --runroot "$storage/run")
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$repo_root/build/Containerfile" "$context/Containerfile"
cp "$kip_bin" "$context/kip"
cp "$kip_sleep_bin" "$context/kip-sleep"
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$ca_bundle" ] || die "no CA bundle at '$ca_bundle' (install ca-certificates, or set CA_BUNDLE)"
cp "$ca_bundle" "$context/ca-certificates.crt"

# Reproducible: the image's timestamps come from the last commit (or SOURCE_DATE_EPOCH), so
# the same sources and binaries give the same image digest.
revision=$(git -C "$repo_root" rev-parse HEAD 2>/dev/null || echo unknown)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo_root" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

echo "build-image: building $image (kip $version, revision $revision)" >&2
"${buildah_cmd[@]}" build --quiet --isolation chroot --format oci --timestamp "$epoch" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
    --file "$context/Containerfile" --tag "$image" "$context" >/dev/null \
    || { echo "build-image: buildah could not build $image (its message is above)" >&2; exit 1; }

# The size a node stores: the one layer, uncompressed.
layer_bytes=$(stat -c %s "$context/kip" "$context/kip-sleep" "$context/ca-certificates.crt" | awk '{ total += $1 } END { print total }')
echo "build-image: built $image; files in the layer: $layer_bytes bytes" >&2
"${buildah_cmd[@]}" images --format '{{.Name}}:{{.Tag}} {{.ID}} {{.Size}}' "$image" >&2

if [ -n "$push_to" ]; then
    push_args=()
    $insecure && push_args+=(--tls-verify=false)
    digest_out=${digest_file:-$context/digest}
    echo "build-image: pushing to $push_to" >&2
    "${buildah_cmd[@]}" push --quiet "${push_args[@]}" --digestfile "$digest_out" "$image" "docker://$push_to" \
        || { echo "build-image: could not push to $push_to (log in with 'buildah login', or --insecure for a registry without TLS)" >&2; exit 1; }
    echo "build-image: pushed $push_to@$(cat "$digest_out")" >&2
fi
