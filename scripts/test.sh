#!/usr/bin/env bash
# Runs every test of kip on a fresh machine: installs what the tests need (Python tools in a
# virtualenv under target/, Debian packages when missing), builds, checks, tests, and stops
# whatever it started. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (kubectl, schema validation) in target/tools-venv"
venv="$root/target/tools-venv"
if [ ! -x "$venv/bin/kubectl" ]; then
  mkdir -p "$root/target"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
export PATH="$venv/bin:$PATH"
kubectl version --client | head -1

step "kip-sleep (static, no_std)"
cargo build --release --manifest-path crates/kip-sleep/Cargo.toml
cargo test --manifest-path crates/kip-sleep/Cargo.toml
export KIP_SLEEP_BIN="$root/crates/kip-sleep/target/release/kip-sleep"

step "Registry tools for the registry client's real-registry tests (Debian packages)"
missing=()
for tool in docker-registry:docker-registry htpasswd:apache2-utils openssl:openssl; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
export KIP_REAL_REGISTRY=1

step "Format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Workspace tests"
cargo test --workspace --locked

echo
echo "All tests passed."
