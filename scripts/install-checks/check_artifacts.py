"""Checks every way of installing kip, as rendered for users: the OpenShift templates (through
deploy/tools/oc_process.py, with default and custom parameters), the Helm chart (several
value sets, linted and rendered with helm-python-sdk) and the kustomize base.

For each installation: yamllint (scripts/install-checks/yamllint.yaml), kubernetes-validate
--strict for every Kubernetes version from 1.28 to the newest it bundles, the "restricted" Pod
Security Standard, and the contract of contract.py (objects and names of the Go puller, the
ConfigMap keys, the Deployment's wiring, least-privilege RBAC). Then checks across methods
(same defaults, same rights) and of the sources themselves.

Prints one line per check and ends with "N passed, M failed"; exits 1 when any check fails.
With KIP_BIN set to a kip binary, also runs `kip validate` on each installation's ConfigMap,
and checks the DaemonSet `kip render` makes from it (schema, and the "restricted" standard that
the kustomize base's namespace enforces).
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import yaml
from kubernetes_validate import utils as kv
from yamllint import linter
from yamllint.config import YamlLintConfig

import contract
import render
from installations import HELM_SETS, Installation, all_installations
from pss import baseline_violations, pod_spec, restricted_violations

HERE = Path(__file__).resolve().parent
OLDEST_KUBERNETES = (1, 28)
YAMLLINT = YamlLintConfig(file=str(HERE / "yamllint.yaml"))

# kubernetes-validate reads the schema files again for every object; they do not change.
kv.schema_contents = functools.lru_cache(maxsize=None)(kv.schema_contents)


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def section(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def check(self, what: str, run: Callable[[], list[str]]) -> None:
        try:
            problems = run()
        except Exception as err:  # a crash in a check is a failed check, said as such
            problems = [f"the check itself failed: {type(err).__name__}: {err}"]
        if problems:
            self.failed += 1
            print(f"  FAIL  {what}")
            for problem in problems:
                print(f"        - {problem}")
        else:
            self.passed += 1
            print(f"  ok    {what}")
        sys.stdout.flush()


def kubernetes_versions() -> list[str]:
    versions = sorted({kv.major_minor(v) for v in kv.all_versions()}, key=lambda v: tuple(map(int, v.split("."))))
    return [v for v in versions if tuple(map(int, v.split("."))) >= OLDEST_KUBERNETES]


def kind_name(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"


def yamllint_problems(text: str, strict: bool) -> list[str]:
    levels = {"error", "warning"} if strict else {"error"}
    return [
        f"line {p.line}: {p.desc} ({p.rule})"
        for p in linter.run(text, YAMLLINT)
        if p.level in levels
    ]


def schema_problems(objects: list[dict[str, Any]], versions: list[str]) -> list[str]:
    problems = []
    for obj in objects:
        for version in versions:
            try:
                kv.validate(obj, version, strict=True)
            except kv.ValidationError as err:
                path = ".".join(str(p) for p in err.path) or "(top)"
                problems.append(f"{kind_name(obj)} against {version}: {path}: {err.message}")
            except kv.SchemaNotFoundError as err:
                problems.append(f"{kind_name(obj)}: {err.message}")
    return problems


def check_installation(report: Report, installation: Installation, versions: list[str]) -> None:
    report.section(installation.name)
    for label, text in installation.documents:
        report.check(f"yamllint: {label}", lambda text=text: yamllint_problems(text, strict=False))
    objects = installation.objects
    report.check(
        f"kubernetes-validate --strict, Kubernetes {versions[0]} to {versions[-1]}: "
        + ", ".join(kind_name(o) for o in objects),
        lambda: schema_problems(objects, versions),
    )
    for obj in objects:
        if pod_spec(obj) is not None:
            report.check(f"restricted Pod Security Standard: {kind_name(obj)}", lambda obj=obj: restricted_violations(obj))
    report.check("the Go puller's objects and names", lambda: contract.check_objects(objects))
    report.check(
        "ConfigMap: every key kip reads, with the expected values",
        lambda: contract.check_config_map(objects, installation.expected_data),
    )
    report.check("Deployment: wired as `kip run` expects", lambda: contract.check_deployment(objects))
    report.check(
        "RBAC: exactly kip's API calls, namespaced, pinned names match"
        + (", pull secrets readable by name" if installation.reads_pull_secrets else ""),
        lambda: contract.check_rbac(objects, installation.reads_pull_secrets),
    )
    report.check(
        "rights on nodes: "
        + ("none (cluster-scoped, an option)" if installation.node_verbs is None else ", ".join(sorted(installation.node_verbs))),
        lambda: contract.check_node_access(objects, installation.node_verbs),
    )
    if os.environ.get("KIP_BIN"):
        report.check("kip validate accepts the ConfigMap", lambda: kip_command(objects, "validate")[1])
        report.check(
            "the DaemonSet kip renders from it: valid schema, restricted Pod Security (the namespace's level)",
            lambda: rendered_daemonset_problems(objects, versions),
        )


def kip_command(objects: list[dict[str, Any]], *args: str) -> tuple[str, list[str]]:
    """Runs KIP_BIN with the installation's ConfigMap and DEPLOYMENT_NAME as environment."""
    config_map = contract.by_kind(objects, "ConfigMap")[0]
    deployment = contract.by_kind(objects, "Deployment")[0]
    env = {"PATH": os.environ.get("PATH", ""), **(config_map.get("data") or {})}
    env["DEPLOYMENT_NAME"] = contract.name_of(deployment) or ""
    done = subprocess.run([os.environ["KIP_BIN"], *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return "", [f"kip {' '.join(args)} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}"]
    return done.stdout, []


def rendered_daemonset_problems(objects: list[dict[str, Any]], versions: list[str]) -> list[str]:
    text, problems = kip_command(objects, "render")
    if problems:
        return problems
    daemonsets = render.objects(text)
    if [d.get("kind") for d in daemonsets] != ["DaemonSet"]:
        return [f"kip render printed {[d.get('kind') for d in daemonsets]}, expected one DaemonSet"]
    problems = schema_problems(daemonsets, versions)
    for daemonset in daemonsets:
        problems += [f"{kind_name(daemonset)}: {p}" for p in restricted_violations(daemonset)]
    return problems


def check_across(report: Report, installations: list[Installation]) -> None:
    report.section("across install methods")
    defaults = [i for i in installations if i.expected_data is contract.CONFIG_MAP_DEFAULTS]

    def same_defaults() -> list[str]:
        problems = []
        for installation in defaults:
            data = contract.by_kind(installation.objects, "ConfigMap")[0].get("data")
            if data != contract.CONFIG_MAP_DEFAULTS:
                diff = {k: v for k, v in (data or {}).items() if contract.CONFIG_MAP_DEFAULTS.get(k) != v}
                problems.append(f"{installation.name}: differs from the defaults in {diff}")
        return problems

    report.check(
        "same default ConfigMap from " + ", ".join(i.name for i in defaults), same_defaults
    )

    def same_rights() -> list[str]:
        reference = contract.rbac_grants(installations[0].objects)
        return [
            f"{i.name} grants {sorted(contract.rbac_grants(i.objects) ^ reference)} differently"
            for i in installations[1:]
            if contract.rbac_grants(i.objects) != reference
        ]

    report.check("same rights in every installation", same_rights)


def check_helm(report: Report) -> None:
    import helm_python as helm

    report.section("helm chart")
    for name, (namespace, values, _) in HELM_SETS.items():
        def lint(values: dict[str, Any] = values, namespace: str = namespace) -> list[str]:
            result = helm.lint(str(render.CHART), values, strict=True, namespace=namespace)
            return list(result.get("errors") or []) + [
                f"{m['path']}: {m['error']}" for m in result.get("messages") or [] if m.get("severity", 0) >= 2
            ]

        report.check(f"helm lint --strict ({name})", lint)

    def checksum(values: dict[str, Any]) -> str:
        for obj in render.objects(render.helm_yaml(values)):
            if obj["kind"] == "Deployment":
                return obj["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        raise AssertionError("no Deployment rendered")

    def checksum_follows_config() -> list[str]:
        base = checksum({})
        problems = []
        if checksum({}) != base:
            problems.append("the checksum changes between two renderings of the same values")
        if checksum({"configMap": {"images": "other=example.com/other:1;"}}) == base:
            problems.append("changing configMap.images leaves checksum/config unchanged: the puller would not restart")
        if checksum({"resources": {"limits": {"memory": "1Gi"}}}) != base:
            problems.append("a value outside the ConfigMap changes checksum/config")
        return problems

    report.check("checksum/config changes when, and only when, the ConfigMap does", checksum_follows_config)

    def go_values_present() -> list[str]:
        values = yaml.safe_load((render.CHART / "values.yaml").read_text())
        problems = []
        for path, default in GO_CHART_VALUES.items():
            node: Any = values
            for part in path.split("."):
                if not isinstance(node, dict) or part not in node:
                    problems.append(f"value {path} is missing")
                    break
                node = node[part]
            else:
                if default is not ANY and node != default:
                    problems.append(f"value {path} defaults to {node!r}, the Go chart's default is {default!r}")
        return problems

    report.check("every value of the Go chart, with its default", go_values_present)


ANY = object()
# SPEC section 6: the Go chart's values and the defaults it documents.
GO_CHART_VALUES: dict[str, Any] = {
    "deploymentName": "kubernetes-image-puller",
    "deploymentAnnotations": ANY,
    "image.repository": ANY,
    "image.tag": ANY,
    "serviceAccount.name": "k8s-image-puller",
    "updateStrategy.type": "Recreate",
    "priorityClassName": ANY,
    "configMap.name": "k8s-image-puller",
    "configMap.images": contract.SPEC_DEFAULTS["IMAGES"],
    "configMap.cachingIntervalHours": 1,
    "configMap.cachingMemoryRequest": "10Mi",
    "configMap.cachingMemoryLimit": "20Mi",
    "configMap.cachingCpuRequest": ".05",
    "configMap.cachingCpuLimit": ".2",
    "configMap.daemonsetAnnotations": "{}",
    "configMap.nodeSelector": "{}",
    "configMap.imagePullSecrets": "",
    "configMap.affinity": "{}",
    "configMap.tolerations": "[]",
    "resources": ANY,
    "tolerations": ANY,
    "nodeSelector": ANY,
    "containerSecurityContext": ANY,
}

# SPEC section 6: the templates' parameters and their defaults (None: any default).
TEMPLATE_PARAMETERS = {
    "serviceaccount.yaml": {"SERVICEACCOUNT_NAME": "k8s-image-puller"},
    "node-access.yaml": {
        "SERVICEACCOUNT_NAME": "k8s-image-puller",
        "NAMESPACE": "k8s-image-puller",
        "NODE_VERBS": '["list","watch"]',
    },
    "configmap.yaml": dict(contract.CONFIG_MAP_DEFAULTS),
    "app.yaml": {
        "SERVICEACCOUNT_NAME": "k8s-image-puller",
        "IMAGE": "ghcr.io/kip-dev/kip",
        "IMAGE_TAG": "0.1.0",
        "DEPLOYMENT_NAME": "kubernetes-image-puller",
        "PRIORITY_CLASS_NAME": None,
        "DEPLOYMENT_CPU_REQUEST": "50m",
        "DEPLOYMENT_MEMORY_REQUEST": "64Mi",
        "DEPLOYMENT_CPU_LIMIT": "200m",
        "DEPLOYMENT_MEMORY_LIMIT": "256Mi",
    },
}


def check_sources(report: Report) -> None:
    report.section("sources")
    for template, wanted in TEMPLATE_PARAMETERS.items():
        def parameters(template: str = template, wanted: dict[str, Any] = wanted) -> list[str]:
            declared = {
                p["name"]: p.get("value", "")
                for p in render.oc_process.load_template(str(render.OPENSHIFT / template))["parameters"]
            }
            problems = [f"parameter {name} is missing" for name in wanted if name not in declared]
            problems += [
                f"parameter {name} defaults to {declared[name]!r}, expected {default!r}"
                for name, default in wanted.items()
                if name in declared and default is not None and declared[name] != default
            ]
            if template == "configmap.yaml" and (extra := set(declared) - set(wanted)):
                problems.append(f"parameters that set no ConfigMap key: {sorted(extra)}")
            return problems

        report.check(f"deploy/openshift/{template}: parameters and defaults", parameters)
    def seed_paths() -> list[str]:
        # The seed document's commands use deploy/<template>.yaml, an older layout.
        return [
            f"deploy/{name} does not lead to deploy/openshift/{name}"
            for name in ("serviceaccount.yaml", "configmap.yaml", "app.yaml")
            if (render.DEPLOY / name).resolve() != (render.OPENSHIFT / name).resolve()
        ]

    report.check("the seed's template paths deploy/*.yaml lead to deploy/openshift/", seed_paths)
    sources = sorted(
        [*render.OPENSHIFT.glob("*.yaml"), *render.KUSTOMIZE_BASE.glob("*.yaml"),
         *render.KUSTOMIZE_BASE.glob("components/*/*.yaml"),
         render.CHART / "values.yaml", render.CHART / "Chart.yaml",
         render.REPO / "build" / "registry-config.yml", HERE / "yamllint.yaml"]
    )
    for path in sources:
        report.check(
            f"yamllint --strict {path.relative_to(render.REPO)}",
            lambda path=path: yamllint_problems(path.read_text(), strict=True),
        )


def main() -> int:
    report = Report()
    versions = kubernetes_versions()
    print(f"Kubernetes versions checked: {', '.join(versions)} (kubernetes-validate {kv.__version__})")
    installations = all_installations()
    for installation in installations:
        check_installation(report, installation, versions)
    check_across(report, installations)
    check_helm(report)
    check_sources(report)
    print()
    print(f"checks: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
