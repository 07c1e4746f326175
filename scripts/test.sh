#!/usr/bin/env bash
# Runs every test of kip on a fresh machine: installs what the tests need (Python tools in a
# virtualenv under target/, Debian packages when missing and running as root), builds, checks,
# tests, and stops whatever it started. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# One clean build: incremental state only costs disk here.
export CARGO_INCREMENTAL=0

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (kubectl, schema validation, Helm) in target/tools-venv"
export KIP_CHECKS_VENV="$root/target/tools-venv"
mkdir -p "$root/target"
[ -x "$KIP_CHECKS_VENV/bin/python" ] || python3 -m venv "$KIP_CHECKS_VENV"
"$KIP_CHECKS_VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
export PATH="$KIP_CHECKS_VENV/bin:$PATH"
kubectl_version=$(kubectl version --client)
echo "${kubectl_version%%$'\n'*}"

step "Real container runtime and registries (Debian packages; needs root)"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  bash scripts/real-runtime/install.sh
  export KIP_REAL_RUNTIME=1 KIP_REAL_REGISTRY=1
else
  echo "WARNING: not root on Debian: the tests against containerd and a real registry will be skipped"
fi
# Whatever the real-runtime tests started is stopped, whatever happens.
trap 'bash scripts/real-runtime/down.sh --all >/dev/null 2>&1 || true' EXIT

step "kip-sleep (static, no_std)"
cargo build --release --manifest-path crates/kip-sleep/Cargo.toml
cargo test --manifest-path crates/kip-sleep/Cargo.toml
cargo clippy --manifest-path crates/kip-sleep/Cargo.toml --all-targets -- -D warnings
export KIP_SLEEP_BIN="$root/crates/kip-sleep/target/release/kip-sleep"

step "Format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Workspace tests"
cargo test --workspace --locked

step "Static release build of kip (for the container image)"
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target x86_64-unknown-linux-gnu -p kip
export KIP_BIN="$root/target/x86_64-unknown-linux-gnu/release/kip"

step "Install methods and the container image"
bash scripts/install-checks/run.sh

step "End to end: each install method on a simulated 3-node cluster, verified as users verify"
cargo build --locked -p kip
KIP_BIN="$root/target/debug/kip" bash scripts/install-checks/e2e.sh

echo
echo "All tests passed."
