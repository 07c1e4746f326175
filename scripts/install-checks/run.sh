#!/usr/bin/env bash
# Checks every way of installing kip, in one command:
#
#   scripts/install-checks/run.sh [--no-image]
#
#  1. the unit tests of the checks and of deploy/tools/oc_process.py (pytest);
#  2. check_artifacts.py: the OpenShift templates, the Helm chart and the kustomize base,
#     rendered with several parameter and value sets, through yamllint, kubernetes-validate
#     --strict (Kubernetes 1.28 to the newest bundled), the restricted Pod Security Standard
#     and kip's install contract;
#  3. image_check.py: the container image built with buildah and pushed to a local registry
#     (skipped with --no-image). KIP_BIN and KIP_SLEEP_BIN, when set, are the binaries to put
#     in the image (else two static test programs); KIP_BIN also makes step 2 run
#     `kip validate` on every rendered ConfigMap.
#
# Python packages come from scripts/requirements-test.txt into a virtual environment
# (KIP_CHECKS_VENV, default target/install-checks-venv). Step 3 installs Debian's buildah,
# docker-registry and skopeo when they are missing and it runs as root.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$repo/scripts/install-checks"
venv=${KIP_CHECKS_VENV:-$repo/target/install-checks-venv}
image=true
for arg in "$@"; do
    case "$arg" in
        --no-image) image=false ;;
        *) echo "run.sh: unknown argument '$arg' (accepted: --no-image)" >&2; exit 2 ;;
    esac
done

step() { printf '\n### %s\n' "$*"; }

step "Python environment $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/scripts/requirements-test.txt"
export PATH="$venv/bin:$PATH"

status=0
step "unit tests of the checks and of the template processor"
(cd "$here" && python -m pytest -q -p no:cacheprovider .) || status=1

step "install methods, rendered and checked"
(cd "$here" && python check_artifacts.py) || status=1

step "operator manifests (deploy/operator)"
operator="$repo/deploy/operator"
yamllint --strict -c "$here/yamllint.yaml" "$operator" || status=1
for minor in $(seq 28 37); do
    files=("$operator"/crd.yaml "$operator"/namespace.yaml "$operator"/rbac.yaml "$operator"/deployment.yaml)
    # ValidatingAdmissionPolicy is GA (admissionregistration.k8s.io/v1) from Kubernetes 1.30.
    [ "$minor" -ge 30 ] && files+=("$operator"/admission-policy.yaml)
    kubernetes-validate --strict --quiet --no-warn -k "1.$minor.0" "${files[@]}" || status=1
done
echo "operator manifests checked with yamllint and kubernetes-validate 1.28-1.37"

if $image; then
    step "container image"
    missing=()
    for tool in buildah docker-registry skopeo cc; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "installing ${missing[*]} (Debian packages)"
            packages=$(printf '%s\n' "${missing[@]}" | sed 's/^cc$/gcc libc6-dev/' | tr '\n' ' ')
            # shellcheck disable=SC2086 # one word per package
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null \
                || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null; }
        else
            echo "FAIL: the image check needs ${missing[*]} (apt-get install buildah docker-registry skopeo gcc)" >&2
            exit 1
        fi
    fi
    binaries=()
    if [ -n "${KIP_BIN:-}" ] || [ -n "${KIP_SLEEP_BIN:-}" ]; then
        binaries=(--kip "${KIP_BIN:?set KIP_SLEEP_BIN and KIP_BIN together}" --kip-sleep "${KIP_SLEEP_BIN:?set KIP_BIN and KIP_SLEEP_BIN together}")
    fi
    (cd "$here" && python image_check.py "${binaries[@]}") || status=1
fi

if [ $status -ne 0 ]; then
    step "FAILED: see the FAIL lines above"
else
    step "all install checks passed"
fi
exit $status
