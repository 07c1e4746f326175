#!/usr/bin/env bash
# End to end: installs kip with each method into a simulated three-node cluster, runs the
# puller, and checks what the seed's "Verifying the installation" checks:
#
#   scripts/install-checks/e2e.sh [openshift] [helm] [kustomize]     (default: all three)
#
# For each method, in a fresh `kip sim --nodes 3`:
#   1. install into namespace k8s-image-puller as a user would: the templates through
#      deploy/tools/oc_process.py | kubectl apply, the chart rendered by helm-python-sdk |
#      kubectl apply, or kubectl apply -k deploy/kubernetes; each with its own IMAGES;
#   2. run `kip run` here with the environment the Deployment gives its pod (the ConfigMap
#      through envFrom, DEPLOYMENT_NAME, KIP_CONFIG_MAP, POD_NAME...) and KUBECONFIG pointing at
#      the simulator: the simulated Deployment's pod does not really run kip;
#   3. check that `kubectl get deployment,daemonset,pod` shows the Deployment and the DaemonSet
#      with 3 desired, current and ready, that the DaemonSet caches the configured images and is
#      owned by the Deployment, that kip reports ready, and that `kubectl get configmap
#      k8s-image-puller -o yaml` shows the configured keys;
#   4. stop kip with SIGTERM, which deletes the DaemonSet (as the Go puller does), and the
#      simulator.
#
# KIP_BIN is the kip binary (default: `cargo build -p kip`, then target/debug/kip);
# E2E_APPLY_FLAGS adds flags to every `kubectl apply` (e.g. --server-side); E2E_TIMEOUT is how
# long to wait for the DaemonSet, in seconds (default 120). Python
# packages come from scripts/requirements-test.txt (KIP_CHECKS_VENV, as run.sh). Every process
# started here is stopped by its own process id. Exits 1 when a check fails.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$repo/scripts/install-checks"
venv=${KIP_CHECKS_VENV:-$repo/target/install-checks-venv}
namespace=k8s-image-puller
timeout=${E2E_TIMEOUT:-120}
read -r -a apply_flags <<<"${E2E_APPLY_FLAGS:-}"
methods=("$@")
[ ${#methods[@]} -gt 0 ] || methods=(openshift helm kustomize)

log() { printf '%s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/scripts/requirements-test.txt"
export PATH="$venv/bin:$PATH"

if [ -z "${KIP_BIN:-}" ]; then
    (cd "$repo" && cargo build --quiet -p kip)
    KIP_BIN="$repo/target/debug/kip"
fi
[ -x "$KIP_BIN" ] || fail "no kip binary at $KIP_BIN"
"$KIP_BIN" sim --help 2>&1 | grep -q -- '--nodes' \
    || fail "$KIP_BIN has no 'sim --nodes' command yet: the end-to-end test needs the simulated cluster"

pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT

free_port() {
    python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until COMMAND succeeds, up to $timeout seconds; returns 1 when it never does.
wait_until() {
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 1
    done
}

start_simulator() {
    local workdir=$1
    : >"$workdir/sim.log"
    "$KIP_BIN" sim --nodes 3 --kubeconfig "$workdir/kubeconfig" >"$workdir/sim.log" 2>&1 &
    sim_pid=$!
    pids+=("$sim_pid")
    local deadline=$((SECONDS + 60))
    until grep -q '^kip-sim ready: ' "$workdir/sim.log"; do
        kill -0 "$sim_pid" 2>/dev/null || { cat "$workdir/sim.log"; fail "kip sim exited at start"; }
        [ $SECONDS -lt $deadline ] || { cat "$workdir/sim.log"; fail "kip sim did not say it was ready within 60s"; }
        sleep 0.2
    done
    log "  $(grep '^kip-sim ready: ' "$workdir/sim.log")"
    export KUBECONFIG="$workdir/kubeconfig"
}

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { kill -KILL "$pid" 2>/dev/null; break; }
        sleep 0.2
    done
    wait "$pid" 2>/dev/null || true
}

# Each method caches its own images, so that the checks see its configuration flow through.
images_for() {
    echo "e2e-$1-a=registry.example.com/e2e/$1-a:1;e2e-$1-b=registry.example.com/e2e/$1-b:2;"
}

# `kubectl create namespace` sends protobuf, which kip-sim answers with 415 (it speaks JSON and
# YAML only); applying a manifest sends JSON.
create_namespace() {
    printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$1" | kubectl apply -f -
}

install() {
    local method=$1 images
    images=$(images_for "$method")
    case "$method" in
        openshift)
            create_namespace "$namespace"
            for template in serviceaccount configmap app; do
                local params=()
                [ "$template" = configmap ] && params=(-p "IMAGES=$images")
                python "$repo/deploy/tools/oc_process.py" -f "$repo/deploy/openshift/$template.yaml" "${params[@]}" \
                    | kubectl apply "${apply_flags[@]}" --namespace "$namespace" -f -
            done
            ;;
        helm)
            create_namespace "$namespace"
            python "$here/render.py" helm --namespace "$namespace" --set "configMap.images=$images" \
                | kubectl apply "${apply_flags[@]}" -f -
            ;;
        kustomize)
            # A user's overlay: the base with their own images.
            local overlay
            overlay=$(mktemp -d)
            cp -r "$repo/deploy/kubernetes" "$overlay/base"
            cat >"$overlay/kustomization.yaml" <<EOF
resources:
  - base
patches:
  - target:
      kind: ConfigMap
      name: k8s-image-puller
    patch: |
      - op: replace
        path: /data/IMAGES
        value: "$images"
EOF
            kubectl apply "${apply_flags[@]}" -k "$overlay"
            rm -rf "$overlay"
            ;;
        *) fail "unknown method '$method' (openshift, helm or kustomize)" ;;
    esac
}

daemonset_counts() {
    kubectl get daemonset "$1" --namespace "$namespace" \
        -o jsonpath='{.status.desiredNumberScheduled} {.status.currentNumberScheduled} {.status.numberReady}'
}

daemonset_is_complete() {
    [ "$(daemonset_counts "$1")" = "3 3 3" ]
}

daemonset_is_gone() {
    ! kubectl get daemonset "$1" --namespace "$namespace" >/dev/null 2>&1
}

readyz() {
    curl -fsS "http://127.0.0.1:$1/readyz"
}

run_method() {
    local method=$1 workdir deployment daemonset port kip_pid
    log ""
    log "== $method"
    workdir=$(mktemp -d)
    log "  logs in $workdir (sim.log, kip.log), removed when the method passes"
    start_simulator "$workdir"
    install "$method" 2>&1 | sed 's/^/  /'

    deployment=$(kubectl get deployment --namespace "$namespace" -o jsonpath='{.items[0].metadata.name}')
    [ -n "$deployment" ] || fail "$method: no Deployment was installed"
    daemonset=$(kubectl get configmap k8s-image-puller --namespace "$namespace" -o jsonpath='{.data.DAEMONSET_NAME}')
    port=$(free_port)
    python "$here/pod_env.py" --namespace "$namespace" --deployment "$deployment" --pod-name "$deployment-e2e" \
        --set "KIP_HTTP_ADDR=127.0.0.1:$port" -- "$KIP_BIN" run >"$workdir/kip.log" 2>&1 &
    kip_pid=$!
    pids+=("$kip_pid")

    if ! wait_until daemonset_is_complete "$daemonset"; then
        tail -50 "$workdir/kip.log"
        fail "$method: after ${timeout}s DaemonSet $daemonset is at '$(daemonset_counts "$daemonset" 2>&1)' (desired current ready)"
    fi
    wait_until readyz "$port" || fail "$method: kip's /readyz did not answer 200 within ${timeout}s: $(readyz "$port" 2>&1)"

    log "  \$ kubectl get deployment,daemonset,pod --namespace $namespace"
    kubectl get deployment,daemonset,pod --namespace "$namespace" | tee "$workdir/get.txt" | sed 's/^/  /'
    grep -Eq "^daemonset\.apps/$daemonset +3 +3 +3 " "$workdir/get.txt" \
        || fail "$method: the listing does not show daemonset.apps/$daemonset with 3 desired, current and ready"
    grep -Eq "^deployment\.apps/$deployment " "$workdir/get.txt" || fail "$method: the listing does not show the Deployment"

    log "  \$ kubectl get configmap k8s-image-puller --namespace $namespace --output yaml"
    kubectl get configmap k8s-image-puller --namespace "$namespace" --output yaml | tee "$workdir/cm.yaml" | sed 's/^/  /'
    PYTHONPATH="$here" python - "$workdir/cm.yaml" "$(images_for "$method")" <<'EOF'
import sys, yaml
data = yaml.safe_load(open(sys.argv[1]))["data"]
from contract import CONFIG_MAP_DEFAULTS
missing = sorted(set(CONFIG_MAP_DEFAULTS) - set(data))
if missing:
    sys.exit(f"FAIL: the ConfigMap lacks {missing}")
if data["IMAGES"] != sys.argv[2]:
    sys.exit(f"FAIL: IMAGES is {data['IMAGES']!r}, configured {sys.argv[2]!r}")
EOF

    local containers owner
    containers=$(kubectl get daemonset "$daemonset" --namespace "$namespace" \
        -o jsonpath='{range .spec.template.spec.containers[*]}{.name}={.image};{end}')
    [ "$containers" = "$(images_for "$method")" ] \
        || fail "$method: the DaemonSet caches '$containers', configured '$(images_for "$method")'"
    owner=$(kubectl get daemonset "$daemonset" --namespace "$namespace" \
        -o jsonpath='{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')
    [ "$owner" = "Deployment/$deployment" ] || fail "$method: the DaemonSet's owner is '$owner', not Deployment/$deployment"

    stop_pid "$kip_pid"
    wait_until daemonset_is_gone "$daemonset" || fail "$method: the DaemonSet was not deleted when kip stopped"
    stop_pid "$sim_pid"
    rm -rf "$workdir"
    log "  ok: $method"
}

passed=0
failed=0
for method in "${methods[@]}"; do
    # A subshell per method, with its own cleanup, so that one failure stops only its processes.
    # (Not in an `if`: bash would ignore `set -e` inside it.)
    set +e
    (set -e; trap cleanup EXIT; run_method "$method")
    status=$?
    set -e
    if [ $status -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
printf '\ne2e: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
